/**
 * The first pane of every session on one tmux server: its PID (with the start
 * time from /proc), the session's creation time and the pane's working
 * directory. Sources take a project's PID from here (Tmux-Orchestrator keeps
 * none: window 0 runs its Orchestrator).
 */
import { SESSION_NAME_PATTERN } from '../core/model/project.js';
import { readStartTime } from '../scan/proc-table.js';
import { runTmux, TmuxCommandError } from '../scan/tmux-command.js';

export interface SessionPane {
  session: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat; null when it could not be read. */
  pidStartTime: number | null;
  /** #{session_created}, epoch ms. */
  createdAt: number | null;
  /** #{pane_current_path}; null when tmux does not know it. */
  path: string | null;
  /** Every pane of the session is dead (remain-on-exit). */
  dead: boolean;
}

/** Session names cannot hold ":" (tmux rewrites it), so this separator ends the name unambiguously. */
const SEP = '|:|';
const FORMAT = [
  '#{window_index}',
  '#{pane_index}',
  '#{pane_pid}',
  '#{pane_dead}',
  '#{session_created}',
  '#{session_name}',
  '#{pane_current_path}',
].join(SEP);

interface Line {
  window: number;
  pane: number;
  pid: number;
  dead: boolean;
  createdAt: number | null;
  session: string;
  path: string | null;
}

/** One line of the listing; throws on anything else, so a format surprise is an error, not silence. */
export function parseSessionPaneLine(line: string): Line {
  const parts = line.split(SEP);
  const [window, pane, pid, dead, created, session] = parts;
  const path = parts.slice(6).join(SEP);
  const numbers = /^\d+$/.test(window ?? '') && /^\d+$/.test(pane ?? '') && /^[1-9]\d*$/.test(pid ?? '');
  if (parts.length < 7 || !numbers || !session) {
    throw new Error(`unparsable tmux pane line: ${JSON.stringify(line)}`);
  }
  return {
    window: Number(window),
    pane: Number(pane),
    pid: Number(pid),
    dead: dead === '1',
    createdAt: /^\d+$/.test(created ?? '') ? Number(created) * 1000 : null,
    session,
    path: path.startsWith('/') ? path : null,
  };
}

/** The first pane (lowest window, then pane index) of each session; a session is dead when all its panes are. */
export function firstPanes(stdout: string): Map<string, Omit<SessionPane, 'pidStartTime'>> {
  const first = new Map<string, Line>();
  const live = new Set<string>();
  for (const text of stdout.split('\n')) {
    if (text === '') continue;
    const line = parseSessionPaneLine(text);
    if (!line.dead) live.add(line.session);
    const seen = first.get(line.session);
    const earlier = !seen || line.window < seen.window || (line.window === seen.window && line.pane < seen.pane);
    if (earlier) first.set(line.session, line);
  }
  const out = new Map<string, Omit<SessionPane, 'pidStartTime'>>();
  for (const [session, l] of first) {
    out.set(session, { session, pid: l.pid, createdAt: l.createdAt, path: l.path, dead: !live.has(session) });
  }
  return out;
}

/**
 * Sessions of the server at `socket` (null: the default server). A server
 * that is not running has none; any other failure rejects.
 */
export async function listSessionPanes(
  socket: string | null,
  timeoutMs: number,
  wanted?: (session: string) => boolean,
): Promise<Map<string, SessionPane>> {
  let stdout: string;
  try {
    stdout = await runTmux(socket, ['list-panes', '-a', '-F', FORMAT], { timeoutMs });
  } catch (err) {
    // A server that is not running, or runs without a session, has none; anything else is a failed pass.
    const none = err instanceof TmuxCommandError && (err.noServer || /no current target/.test(err.stderr));
    if (none && !err.timedOut) return new Map();
    throw err;
  }
  const out = new Map<string, SessionPane>();
  for (const [session, pane] of firstPanes(stdout)) {
    if (wanted && !wanted(session)) continue;
    out.set(session, { ...pane, pidStartTime: await readStartTime(pane.pid) });
  }
  return out;
}

/**
 * The name tmux gives a session asked for as `raw` (it rewrites "." and ":"
 * to "_"), or null when the registry cannot hold it.
 */
export function tmuxSessionName(raw: string | null): string | null {
  if (raw === null) return null;
  const name = raw.replace(/[.:]/g, '_');
  return SESSION_NAME_PATTERN.test(name) ? name : null;
}
