/**
 * The one way this project runs tmux: execFile with an argument array (never a
 * shell), LC_ALL=C, a timeout, and the socket convention of docs/design.md#the-document.
 */
import { execFile } from 'node:child_process';
import { programOptions } from '../program-options.js';
import { describeSocket } from '../core/policy/tmux-servers.js';

/** `null` = the user's default server; a value with `/` = socket path (-S); otherwise a socket name (-L). */
export function socketArgs(socket: string | null): string[] {
  if (socket === null) return [];
  return socket.includes('/') ? ['-S', socket] : ['-L', socket];
}

export { describeSocket, normaliseSocket } from '../core/policy/tmux-servers.js';

/** An exact session target: without `=` tmux matches by prefix (`w-1` finds `w-10`). */
export function exactSession(session: string): string {
  return `=${session}`;
}

/**
 * tmux reads an argument ending in `;` as a command separator, even in an
 * argument vector: `new-session -- echo 'a;' kill-server` would run
 * kill-server. A backslash before that last `;` makes it literal (tmux removes
 * the backslash), so every command word passed through tmux goes through this.
 */
export function tmuxLiteral(arg: string): string {
  return arg.endsWith(';') ? `${arg.slice(0, -1)}\\;` : arg;
}

export class TmuxCommandError extends Error {
  constructor(
    message: string,
    readonly socket: string | null,
    readonly args: readonly string[],
    readonly stderr: string,
    readonly exitCode: number | string | null,
    readonly timedOut: boolean,
  ) {
    super(message);
    this.name = 'TmuxCommandError';
  }

  /** "no server running" and "error connecting to ... (No such file or directory)" both mean zero sessions. */
  get noServer(): boolean {
    return isNoServerMessage(this.stderr);
  }
}

export function isNoServerMessage(stderr: string): boolean {
  return /no server running on /.test(stderr) || /error connecting to .*\(No such file or directory\)/.test(stderr);
}

export interface RunTmuxOptions {
  timeoutMs: number;
  /** The tmux binary; found on PATH by default. */
  tmuxPath?: string;
}

/** Run one tmux command; resolves with stdout, rejects with a TmuxCommandError. */
export function runTmux(socket: string | null, args: readonly string[], options: RunTmuxOptions): Promise<string> {
  const fullArgs = [...socketArgs(socket), ...args];
  return new Promise((resolve, reject) => {
    execFile(
      options.tmuxPath ?? 'tmux',
      fullArgs,
      programOptions(options.timeoutMs, 64 * 1024 * 1024),
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        const timedOut = error.killed === true && error.signal === 'SIGKILL';
        const errno = (error as NodeJS.ErrnoException).code;
        const why = timedOut
          ? `timed out after ${options.timeoutMs} ms`
          : errno === 'ENOENT'
            ? 'tmux is not installed or not on PATH'
            : (stderr.trim() || error.message).split('\n')[0];
        reject(
          new TmuxCommandError(
            `tmux ${args[0] ?? ''} on ${describeSocket(socket)} failed: ${why}`,
            socket,
            fullArgs,
            stderr,
            typeof error.code === 'number' || typeof error.code === 'string' ? error.code : null,
            timedOut,
          ),
        );
      },
    );
  });
}
