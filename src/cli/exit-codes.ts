/**
 * The command line's exit codes, and the one table that maps each domain
 * error to its code: 0 ok, 1 problems found or an action failed, 2 usage,
 * config or input error, 3 registry unreadable.
 */
import {
  ConfigError,
  ConflictError,
  InputError,
  ListenError,
  RegistryHeldError,
  RegistryUnreadableError,
  UnknownProjectError,
} from '../errors.js';
import { IllegalTransitionError } from '../core/rules/state-machine.js';

export const EXIT = {
  ok: 0,
  problems: 1,
  usage: 2,
  registryUnreadable: 3,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

type ErrorClass = abstract new (...args: never[]) => Error;

/** First match wins; an error of no class here (a bug, an I/O error) is exit 1. */
const EXIT_CODES: readonly (readonly [ErrorClass, ExitCode])[] = [
  [InputError, EXIT.usage],
  [ConfigError, EXIT.usage],
  [UnknownProjectError, EXIT.usage],
  // A second daemon on a JSON registry: refused like a wrong argument, so a service manager does not loop on it.
  [RegistryHeldError, EXIT.usage],
  [ListenError, EXIT.usage],
  [RegistryUnreadableError, EXIT.registryUnreadable],
  [ConflictError, EXIT.problems],
  [IllegalTransitionError, EXIT.problems],
];

export function exitCodeOf(err: unknown): ExitCode {
  return EXIT_CODES.find(([type]) => err instanceof type)?.[1] ?? EXIT.problems;
}
