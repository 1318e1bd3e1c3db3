/**
 * The two tmux actions of a heal: kill a session and launch a project's
 * command in a new one. Targets are exact (`=name`), names are validated
 * before tmux runs, and no shell is involved anywhere.
 */
import { stat } from 'node:fs/promises';
import { killSessionRefusal } from '../core/kill-safety.js';
import { SESSION_NAME_PATTERN } from '../core/project.js';
import { InputError } from '../errors.js';
import { describeSocket, exactSession, runTmux, TmuxCommandError, tmuxLiteral, type RunTmuxOptions } from '../scan/tmux-command.js';

export interface TmuxActionResult {
  outcome: 'success' | 'failure' | 'skipped';
  detail: string;
}

export interface LaunchResult {
  /** PID of the pane's process: the project's command itself. */
  panePid: number;
}

/** tmux's answer for an exact target that names no session. */
function isMissingSession(stderr: string): boolean {
  return /can't find session/.test(stderr) || /no such session/.test(stderr);
}

function validSession(session: string): boolean {
  return SESSION_NAME_PATTERN.test(session);
}

/**
 * Kill exactly `session` (never a prefix match: `w-1` leaves `w-10` alone).
 * A session or server that is already gone is `skipped`; an invalid name is a
 * `failure` with nothing run, since scanned names of other tools may be odd.
 */
export async function killSession(socket: string | null, session: string, options: RunTmuxOptions): Promise<TmuxActionResult> {
  const refused = killSessionRefusal(session);
  if (refused) return { outcome: 'failure', detail: refused.detail };
  const gone = (err: unknown): boolean => err instanceof TmuxCommandError && !err.timedOut && (err.noServer || isMissingSession(err.stderr));
  const skipped: TmuxActionResult = { outcome: 'skipped', detail: `session ${session} on ${describeSocket(socket)} is already gone` };
  try {
    await runTmux(socket, ['kill-session', '-t', exactSession(session)], options);
    return { outcome: 'success', detail: `killed session ${session} on ${describeSocket(socket)}` };
  } catch (err) {
    if (gone(err)) return skipped;
    // When a tree kill ends the last pane, tmux closes the session and its server exits; a kill-session
    // connecting in that instant hears "server exited unexpectedly". Ask again before calling it a failure.
    if (err instanceof TmuxCommandError && !err.timedOut) {
      const still = await runTmux(socket, ['has-session', '-t', exactSession(session)], options).then(() => true, (again: unknown) => !gone(again));
      if (!still) return skipped;
    }
    return { outcome: 'failure', detail: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * The argument vector for tmux: each word made literal for tmux's own parser
 * (see tmuxLiteral). tmux runs a single argument through
 * `sh -c`, so a one-word command goes through `env --`, which execs it as a
 * program name. env would read a word containing `=` as an assignment, so
 * such a word is refused.
 */
export function launchArgv(command: readonly string[]): string[] {
  if (command.length === 0 || command.some((a) => typeof a !== 'string')) {
    throw new InputError('command must be a non-empty list of strings');
  }
  if (command[0] === '') throw new InputError('command must not start with an empty program name');
  if (command.length > 1) return command.map(tmuxLiteral);
  const only = command[0] as string;
  if (only.includes('=')) {
    throw new InputError(`a one-word command must not contain "=" (got ${JSON.stringify(only)}); pass the program and its arguments as separate words`);
  }
  return ['env', '--', tmuxLiteral(only)];
}

/**
 * Start `command` detached in a new session `session` (in `cwd` when given)
 * and return the pane PID. The PID is printed by `new-session -P` itself, so
 * a command that exits at once cannot race a second lookup. The window keeps
 * its pane when the command exits (`remain-on-exit on`), so the cycle can read
 * the exit status and the last lines of output before it closes the session;
 * the option is set in the same tmux call, which the server runs to the end
 * before it handles the child's exit, so even an instant exit keeps its pane
 * (and its PID, read from the pane when tmux printed none).
 * Throws InputError for bad input (nothing run) and TmuxCommandError when tmux
 * fails (a duplicate session, say).
 */
export async function launchSession(
  socket: string | null,
  session: string,
  cwd: string | null,
  command: readonly string[],
  options: RunTmuxOptions,
): Promise<LaunchResult> {
  if (!validSession(session)) {
    throw new InputError(`invalid session name ${JSON.stringify(session)}: it must match ${SESSION_NAME_PATTERN}`);
  }
  const argv = launchArgv(command);
  const args = ['new-session', '-d', '-P', '-F', '#{pane_pid}', '-s', session];
  if (cwd !== null) {
    // tmux silently falls back to another directory when -c does not exist; running there would be worse.
    const info = await stat(cwd).catch(() => null);
    if (!info?.isDirectory()) throw new InputError(`cwd ${JSON.stringify(cwd)} is not an existing directory`);
    args.push('-c', cwd);
  }
  const keepPane = [';', 'set-option', '-w', '-t', `${exactSession(session)}:`, 'remain-on-exit', 'on'];
  const stdout = await runTmux(socket, [...args, '--', ...argv, ...keepPane], options);
  let text = stdout.trim();
  if (text === '') {
    // In a burst of launches that start the server, tmux sometimes drops the -P output of a session it made. The
    // kept pane still has its PID, and the session is this launch's alone (every launch gets a fresh name).
    text = (await runTmux(socket, ['list-panes', '-t', `${exactSession(session)}:`, '-F', '#{pane_pid}'], options)).trim();
  }
  const panePid = Number(text);
  if (!/^\d+$/.test(text) || panePid <= 0) {
    throw new Error(`tmux new-session on ${describeSocket(socket)} printed no pane pid: ${JSON.stringify(stdout)}`);
  }
  return { panePid };
}
