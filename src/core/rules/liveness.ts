/**
 * What the snapshot says about one project's process and session (docs/design.md#liveness-and-detection).
 * Each side is known-alive, known-dead, or unknown: a source that could not be
 * read, or a PID whose identity cannot be verified, is never taken for "dead",
 * so no project is failed on a blind spot.
 */
import type { Project } from '../model/project.js';
import { ms } from '../model/project.js';
import type { ProcessInfo, Snapshot, TmuxPane, TmuxServerSnapshot } from '../model/snapshot.js';

export type SessionStatus =
  /** The project records no session. */
  | 'none'
  /** Its tmux server was not scanned or could not be read. */
  | 'unknown'
  /** The session exists with at least one live pane. */
  | 'live'
  /** The session exists but every pane is dead (remain-on-exit). */
  | 'dead'
  /** The server was read and has no session of that exact name. */
  | 'missing';

export type PidStatus =
  /** The project records no PID. */
  | 'none'
  /** The process table could not be read. */
  | 'unknown'
  /** In the table with the recorded start time. */
  | 'alive'
  /** Not in the table, or defunct (exited, not yet reaped) with nothing left in its group. */
  | 'gone'
  /** In the table with another start time: a different process. */
  | 'reused'
  /** In the table, but a start time (recorded or observed) is unknown: maybe ours, never signalled. */
  | 'unverified';

export interface Liveness {
  session: SessionStatus;
  pid: PidStatus;
  server: TmuxServerSnapshot | undefined;
  /** Panes of the session when it exists, else empty. */
  panes: TmuxPane[];
  process: ProcessInfo | undefined;
  /** Session live, or PID alive with the recorded start time. */
  alive: boolean;
  /** PID alive but its session missing or all its panes dead. */
  zombie: boolean;
  /** Both sides known not alive. */
  dead: boolean;
}

const DEAD_SESSION: readonly SessionStatus[] = ['none', 'missing', 'dead'];
const DEAD_PID: readonly PidStatus[] = ['none', 'gone', 'reused'];

export function findServer(snapshot: Snapshot, socket: string | null): TmuxServerSnapshot | undefined {
  return snapshot.tmux.find((t) => t.socket === socket);
}

/** "the default tmux server" or "tmux server <socket>". */
export function serverLabel(socket: string | null): string {
  return socket === null ? 'the default tmux server' : `tmux server ${socket}`;
}

/** False when the process source reported a failure; an absent report counts as read (as in scanIsClear). */
export function processScanOk(snapshot: Snapshot): boolean {
  return snapshot.sources.every((s) => s.source !== 'processes' || s.ok);
}

export function sessionStatusOf(
  project: Project,
  snapshot: Snapshot,
): { status: SessionStatus; server: TmuxServerSnapshot | undefined; panes: TmuxPane[] } {
  const server = findServer(snapshot, project.tmuxSocket);
  if (project.session === null) return { status: 'none', server, panes: [] };
  if (!server || !server.ok) return { status: 'unknown', server, panes: [] };
  const panes = server.sessions.get(project.session);
  if (!panes) return { status: 'missing', server, panes: [] };
  return { status: panes.some((p) => !p.paneDead) ? 'live' : 'dead', server, panes };
}

/** An exited process that its parent has not reaped yet (`Z`, or `X` while it is torn down): it runs nothing. */
export function isDefunct(p: ProcessInfo): boolean {
  return p.state === 'Z' || p.state === 'X';
}

/**
 * True when a live process is still in the group `pgid` leads: what a defunct
 * leader left behind, which a tree kill still reaches through the group.
 */
function groupLivesOn(snapshot: Snapshot, pgid: number): boolean {
  for (const p of snapshot.processes.byPid.values())
    if (p.pid !== pgid && p.pgid === pgid && !isDefunct(p)) return true;
  return false;
}

export function pidStatusOf(
  project: Project,
  snapshot: Snapshot,
): { status: PidStatus; process: ProcessInfo | undefined } {
  if (project.pid === null) return { status: 'none', process: undefined };
  if (!processScanOk(snapshot)) return { status: 'unknown', process: undefined };
  const seen = snapshot.processes.byPid.get(project.pid);
  if (!seen) return { status: 'gone', process: seen };
  if (project.pidStartTime === null || seen.startTime === null) return { status: 'unverified', process: seen };
  if (seen.startTime !== project.pidStartTime) return { status: 'reused', process: seen };
  // A defunct process has exited. tmux drops a pane's session before it reaps the pane's process,
  // so "defunct pid, session missing" is a command that just ended, not a zombie to kill; it is gone
  // unless its group lives on without it.
  if (isDefunct(seen) && !(seen.pgid === seen.pid && groupLivesOn(snapshot, seen.pid)))
    return { status: 'gone', process: seen };
  return { status: 'alive', process: seen };
}

export function livenessOf(project: Project, snapshot: Snapshot): Liveness {
  const s = sessionStatusOf(project, snapshot);
  const p = pidStatusOf(project, snapshot);
  const alive = s.status === 'live' || p.status === 'alive';
  return {
    session: s.status,
    pid: p.status,
    server: s.server,
    panes: s.panes,
    process: p.process,
    alive,
    zombie: p.status === 'alive' && (s.status === 'missing' || s.status === 'dead'),
    dead: DEAD_SESSION.includes(s.status) && DEAD_PID.includes(p.status),
  };
}

/** True when the session exists on a server that was read (live or with dead panes). */
export function sessionExists(l: Liveness): boolean {
  return l.session === 'live' || l.session === 'dead';
}

export function describePid(project: Project, l: Liveness): string {
  const pid = project.pid;
  switch (l.pid) {
    case 'none':
      return 'no pid recorded';
    case 'unknown':
      return `pid ${pid} unknown (process scan failed)`;
    case 'alive':
      return `pid ${pid} alive`;
    case 'gone':
      return l.process && isDefunct(l.process) ? `pid ${pid} exited (defunct, not yet reaped)` : `pid ${pid} gone`;
    case 'reused':
      return (
        `pid ${pid} now belongs to another process ` +
        `(start time ${l.process?.startTime}, recorded ${project.pidStartTime})`
      );
    case 'unverified':
      return (
        `pid ${pid} present but its start time cannot be compared ` +
        `(recorded ${project.pidStartTime ?? 'none'}, seen ${l.process?.startTime ?? 'unknown'})`
      );
  }
}

export function describeSession(project: Project, l: Liveness): string {
  const where = serverLabel(project.tmuxSocket);
  switch (l.session) {
    case 'none':
      return 'no session recorded';
    case 'unknown': {
      const why = l.server ? `not read: ${l.server.error ?? 'error'}` : 'not scanned';
      return `session ${project.session} unknown (${where} ${why})`;
    }
    case 'live':
      return `session ${project.session} live on ${where}`;
    case 'dead':
      return `session ${project.session} has only dead panes on ${where}`;
    case 'missing':
      return `session ${project.session} missing on ${where}`;
  }
}

/** Latest sign of activity: the reported heartbeat or tmux window activity of any pane of its session. */
export function lastActivityAt(project: Project, l: Liveness): number | null {
  let latest = ms(project.heartbeatAt);
  for (const pane of l.panes) {
    if (pane.windowActivityAt !== null && (latest === null || pane.windowActivityAt > latest))
      latest = pane.windowActivityAt;
  }
  return latest;
}

/**
 * The last time the project was known to be alive: the later of
 * lastSeenAliveAt and a reported heartbeat (a heartbeat is a sign of life even
 * when its PID and session are out of sight), else startedAt, else enqueuedAt.
 */
export function lastSignOfLife(project: Project): number | null {
  const seen = ms(project.lastSeenAliveAt);
  const beat = ms(project.heartbeatAt);
  if (seen !== null || beat !== null) return Math.max(seen ?? -Infinity, beat ?? -Infinity);
  return ms(project.startedAt) ?? ms(project.enqueuedAt);
}
