/** The one table that maps each domain error to the HTTP status the API answers it with. */
import {
  ConflictError,
  InputError,
  RegistryHeldError,
  RegistryUnreadableError,
  UnknownProjectError,
} from '../errors.js';
import { IllegalTransitionError } from '../core/rules/state-machine.js';

type ErrorClass = abstract new (...args: never[]) => Error;

/** First match wins; any other error (a config error, a bug) is a 500. */
const HTTP_STATUSES: readonly (readonly [ErrorClass, number])[] = [
  [InputError, 400],
  [UnknownProjectError, 404],
  [ConflictError, 409],
  [IllegalTransitionError, 409],
  [RegistryHeldError, 409],
  [RegistryUnreadableError, 503],
];

export function httpStatusOf(err: unknown): number {
  return HTTP_STATUSES.find(([type]) => err instanceof type)?.[1] ?? 500;
}
