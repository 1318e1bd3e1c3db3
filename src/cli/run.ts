/**
 * Runs one command action: builds the context, maps errors to exit codes
 * (exit-codes.ts), and keeps stdout for output only.
 */
import type { Command } from 'commander';
import { AgentError, messageOf } from '../errors.js';
import { TmuxCommandError } from '../scan/tmux-command.js';
import { EXIT, exitCodeOf } from './exit-codes.js';
import { buildContext, globalOptions, type CliContext } from './context.js';

export type Action = (ctx: CliContext) => Promise<number | void>;

/** Print one JSON document on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printLine(text = ''): void {
  process.stdout.write(`${text}\n`);
}

export interface RunOptions {
  /** The daemon logs at the configured level (info by default); other commands at warn unless one is set. */
  daemon?: boolean;
}

export async function run(command: Command, action: Action, options: RunOptions = {}): Promise<void> {
  const json = command.opts<{ json?: boolean }>().json === true;
  let ctx: CliContext | undefined;
  try {
    ctx = buildContext(globalOptions(command), process.env, options.daemon ? {} : { defaultLogLevel: 'warn' });
    const code = await action(ctx);
    process.exitCode = code ?? EXIT.ok;
  } catch (err) {
    const code = exitCodeOf(err);
    process.stderr.write(`agent: ${messageOf(err)}\n`);
    if (json)
      printJson({
        error: { message: messageOf(err), exitCode: code, type: err instanceof Error ? err.name : 'Error' },
      });
    // An error of no known kind is a bug or an I/O failure: the log keeps its stack.
    if (code === EXIT.problems && !(err instanceof AgentError || err instanceof TmuxCommandError)) {
      ctx?.log.error('command failed', { error: messageOf(err), stack: err instanceof Error ? err.stack : undefined });
    }
    process.exitCode = code;
  } finally {
    await ctx?.store.close().catch(() => undefined);
  }
}
