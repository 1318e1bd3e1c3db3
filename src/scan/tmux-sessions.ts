/**
 * The sessions and panes of one tmux server, as a TmuxServerSnapshot. A server
 * that is not running has zero sessions; every other failure is a scan error
 * (ok: false), because guessing "no sessions" would make live projects look
 * like zombies and phantoms.
 */
import type { TmuxPane, TmuxServerSnapshot } from '../core/model/snapshot.js';
import { describeSocket, runTmux, TmuxCommandError, type RunTmuxOptions } from './tmux-command.js';

/**
 * Field separator. Not a tab: runTmux sets LC_ALL=C, under which tmux prints
 * every tab and non-ASCII byte as `_`. The fields before the session name
 * never contain `|`, and the session name comes last so the parser can rejoin
 * a name that does. (Under LC_ALL=C, names of other tools' sessions with
 * non-ASCII characters arrive mangled; names this project accepts are ASCII.)
 */
const SEP = '|';

export const PANE_FORMAT = [
  '#{pane_id}',
  '#{pane_pid}',
  '#{pane_dead}',
  '#{window_activity}',
  '#{session_created}',
  '#{pane_dead_status}',
  '#{pane_dead_signal}',
  '#{session_name}',
].join(SEP);

/** Fields before the session name, which comes last. */
const FIXED_FIELDS = 7;

/** A small count from tmux (an exit status, a signal number); empty means none, anything else is unreadable. */
function smallCount(field: string): number | null | undefined {
  if (field === '') return null;
  return /^\d{1,4}$/.test(field) ? Number(field) : undefined;
}

/** Epoch seconds from tmux to epoch ms; empty means unknown. */
function secondsToMs(field: string): number | null | undefined {
  if (field === '') return null;
  if (!/^\d+$/.test(field)) return undefined;
  return Number(field) * 1000;
}

/** One `list-panes` line; throws on anything it cannot read, so a format surprise is an error, not silence. */
export function parsePaneLine(line: string): TmuxPane {
  const fields = line.split(SEP);
  if (fields.length <= FIXED_FIELDS) throw new Error(`unparsable tmux pane line: ${JSON.stringify(line)}`);
  const [paneId, pidText, deadText, activityText, createdText, statusText, signalText] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const session = fields.slice(FIXED_FIELDS).join(SEP);
  const panePid = Number(pidText);
  const windowActivityAt = secondsToMs(activityText);
  const sessionCreatedAt = secondsToMs(createdText);
  const deadStatus = smallCount(statusText);
  const deadSignal = smallCount(signalText);
  if (
    !/^%\d+$/.test(paneId) ||
    !/^\d+$/.test(pidText) ||
    panePid <= 0 ||
    !['0', '1', ''].includes(deadText) ||
    windowActivityAt === undefined ||
    sessionCreatedAt === undefined ||
    deadStatus === undefined ||
    deadSignal === undefined ||
    session === ''
  ) {
    throw new Error(`unparsable tmux pane line: ${JSON.stringify(line)}`);
  }
  const paneDead = deadText === '1';
  return {
    session,
    paneId,
    panePid,
    paneDead,
    deadStatus: paneDead ? deadStatus : null,
    deadSignal: paneDead ? deadSignal : null,
    windowActivityAt,
    sessionCreatedAt,
  };
}

/** Group `list-panes -a` output by exact session name. */
export function parsePanes(stdout: string): Map<string, TmuxPane[]> {
  const sessions = new Map<string, TmuxPane[]>();
  for (const line of stdout.split('\n')) {
    if (line === '') continue;
    const pane = parsePaneLine(line);
    const panes = sessions.get(pane.session);
    if (panes) panes.push(pane);
    else sessions.set(pane.session, [pane]);
  }
  return sessions;
}

/**
 * `list-panes -a` on a server that runs but holds no session (exit-empty off,
 * or a server being killed) fails with "no current target". That is zero
 * sessions only if `list-sessions` agrees (it answers an empty list there).
 */
async function confirmedEmpty(socket: string | null, err: TmuxCommandError, options: RunTmuxOptions): Promise<boolean> {
  if (err.timedOut || !/no current target/.test(err.stderr)) return false;
  try {
    return (await runTmux(socket, ['list-sessions', '-F', '#{session_name}'], options)).trim() === '';
  } catch (again) {
    return again instanceof TmuxCommandError && !again.timedOut && again.noServer;
  }
}

/** A dead pane whose exit tmux has not read yet: the pane is closed, the status is not there. */
function exitUnread(sessions: ReadonlyMap<string, TmuxPane[]>): boolean {
  for (const panes of sessions.values())
    for (const p of panes) if (p.paneDead && p.deadStatus === null && p.deadSignal === null) return true;
  return false;
}

/** Looks for the status after a nudge, this often and this many times. */
const NUDGE_POLL_MS = 25;
const NUDGE_POLLS = 4;

/**
 * tmux may miss the SIGCHLD of a pane's command that exits at once (its
 * utempter helper briefly owns SIGCHLD): the pane is closed and shown dead,
 * but the child stays unreaped, without status, until the server's next
 * SIGCHLD. Send it that SIGCHLD (tmux answers by reaping every exited child,
 * nothing else) and read the panes again, briefly. Returns what the last
 * read saw.
 */
async function readUnreadExits(
  socket: string | null,
  sessions: Map<string, TmuxPane[]>,
  options: RunTmuxOptions,
): Promise<Map<string, TmuxPane[]>> {
  const serverPid = Number((await runTmux(socket, ['display-message', '-p', '#{pid}'], options)).trim());
  if (!Number.isInteger(serverPid) || serverPid <= 1) return sessions;
  try {
    process.kill(serverPid, 'SIGCHLD');
  } catch {
    return sessions; // not ours to nudge, or gone
  }
  let latest = sessions;
  for (let i = 0; i < NUDGE_POLLS && exitUnread(latest); i++) {
    await new Promise((resolve) => setTimeout(resolve, NUDGE_POLL_MS));
    latest = parsePanes(await runTmux(socket, ['list-panes', '-a', '-F', PANE_FORMAT], options));
  }
  return latest;
}

/** Read one server (`null` = the default server). Never rejects: failures come back as ok: false. */
export async function scanTmuxServer(socket: string | null, options: RunTmuxOptions): Promise<TmuxServerSnapshot> {
  try {
    const stdout = await runTmux(socket, ['list-panes', '-a', '-F', PANE_FORMAT], options);
    let sessions = parsePanes(stdout);
    // Best effort: the first read stands when the nudge cannot be made.
    if (exitUnread(sessions)) sessions = await readUnreadExits(socket, sessions, options).catch(() => sessions);
    return { socket, ok: true, error: null, sessions };
  } catch (err) {
    if (
      err instanceof TmuxCommandError &&
      !err.timedOut &&
      (err.noServer || (await confirmedEmpty(socket, err, options)))
    ) {
      return { socket, ok: true, error: null, sessions: new Map() };
    }
    const message =
      err instanceof TmuxCommandError
        ? err.message
        : `tmux list-panes on ${describeSocket(socket)}: ${err instanceof Error ? err.message : String(err)}`;
    return { socket, ok: false, error: message, sessions: new Map() };
  }
}
