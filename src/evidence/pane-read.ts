/**
 * The bulk pane read: the panes of many sessions in a few tmux calls. Per tmux
 * server one `list-panes -a` (skipped when the caller hands in the panes the
 * cycle's scan just listed) and one tmux call per 32 panes
 * (`capture-pane … ; display-message -p <marker> ; …`), each capture ending at
 * a marker line only this read knows. One read serves a cycle's completion
 * evidence (pane output, dead panes' last lines) and its agent detection
 * (prompts, usage limits), which both need the same captures.
 *
 * A session's live panes are read only when a caller asked for them; its dead
 * panes (a launched command that exited) always are. A server or a batch that
 * fails (a pane closed in between stops tmux's command sequence) leaves its
 * sessions unsettled: the evidence gatherer reads them one by one, which
 * tells a missing session from a broken tmux; agent detection waits for the
 * next read.
 */
import { randomBytes } from 'node:crypto';
import { describeSocket, runTmux, TmuxCommandError, type RunTmuxOptions } from '../scan/tmux-command.js';

/** Lines of history captured above the screen. */
export const PANE_LINES = 200;
/** Panes captured in one call at most: bounds the argument list and the output of one tmux. */
export const PANES_PER_CALL = 32;

/** tmux's answers when the session (or a pane listed a moment ago) is gone. */
export function isGone(error: unknown): boolean {
  if (!(error instanceof TmuxCommandError) || error.timedOut) return false;
  return error.noServer || /can't find (session|pane|window)/.test(error.stderr);
}

/** The line tmux writes into a pane kept after its command exited ("Pane is dead (status 3, <time>)"): not output. */
const PANE_IS_DEAD = /^Pane is dead( \(.*\))?$/;

/**
 * The last `limit` non-blank lines of a capture, in order, trailing
 * whitespace trimmed (the visible screen pads with blank rows) and tmux's own
 * "Pane is dead" line left out.
 */
export function lastLines(capture: string, limit = PANE_LINES): string[] {
  const lines = capture.split('\n').map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines.slice(-limit).filter((l) => l !== '' && !PANE_IS_DEAD.test(l));
}

export interface PaneLines {
  paneId: string;
  /** Distinct non-blank lines, for the patterns. */
  lines: string[];
  /** The pane's command exited (remain-on-exit kept the pane). */
  dead?: boolean;
  /** A dead pane's last non-blank lines in order, repeats kept: what its command printed last. */
  tail?: string[];
  /** The capture as tmux printed it, for agent detection (repeats and layout matter there). */
  raw?: string;
}

/** A capture as PaneLines: the distinct lines always, the ordered tail of a dead pane. */
export function paneLines(paneId: string, capture: string, dead: boolean): PaneLines {
  const tail = lastLines(capture);
  return { paneId, lines: [...new Set(tail)], ...(dead ? { dead, tail } : {}), raw: capture };
}

/** What a bulk read found: per server, per session looked for, its panes' lines ([] when the session is gone). */
export class PaneCaptures {
  constructor(private readonly servers: ReadonlyMap<string | null, ReadonlyMap<string, PaneLines[]>>) {}

  /** The session's panes, or undefined when the bulk read did not settle them. */
  of(socket: string | null, session: string): PaneLines[] | undefined {
    return this.servers.get(socket)?.get(session);
  }
}

/** Sessions to read, per server: for each, whether its live panes are wanted too (dead panes always are). */
export class PaneReadRequest {
  readonly servers = new Map<string | null, Map<string, boolean>>();

  add(socket: string | null, session: string, live: boolean): this {
    const sessions = this.servers.get(socket) ?? new Map<string, boolean>();
    sessions.set(session, (sessions.get(session) ?? false) || live);
    this.servers.set(socket, sessions);
    return this;
  }

  get size(): number {
    let n = 0;
    for (const sessions of this.servers.values()) n += sessions.size;
    return n;
  }
}

/** A pane as a listing gives it. */
export interface ListedPane {
  paneId: string;
  paneDead: boolean;
}

/** Panes already listed by the caller (the cycle's scan), per server and session: no `list-panes` needed there. */
export type PaneListings = ReadonlyMap<string | null, ReadonlyMap<string, readonly ListedPane[]>>;

/**
 * The captures of `panes` in one tmux call: `capture-pane … ; display-message
 * -p <marker i> ; …`. Each capture ends at its own marker, a random token no
 * pane can print by chance. Rejects when tmux does (a pane closed stops the
 * sequence) or the markers do not all come back.
 */
async function captureBatch(
  socket: string | null,
  panes: readonly { paneId: string; dead: boolean }[],
  options: RunTmuxOptions,
): Promise<PaneLines[]> {
  const token = `toa-capture-${randomBytes(8).toString('hex')}-`;
  const args: string[] = [];
  panes.forEach(({ paneId }, i) => {
    if (i > 0) args.push(';');
    args.push('capture-pane', '-p', '-J', '-S', `-${PANE_LINES}`, '-t', paneId);
    args.push(';', 'display-message', '-p', `${token}${i}`);
  });
  const out = await runTmux(socket, args, options);
  const captured: PaneLines[] = [];
  let lines: string[] = [];
  for (const line of out.split('\n')) {
    const pane = panes[captured.length];
    if (pane !== undefined && line === `${token}${captured.length}`) {
      captured.push(paneLines(pane.paneId, lines.join('\n'), pane.dead));
      lines = [];
    } else {
      lines.push(line);
    }
  }
  if (captured.length !== panes.length) {
    const where = describeSocket(socket);
    throw new Error(`tmux capture of ${panes.length} panes on ${where} returned ${captured.length} of them`);
  }
  return captured;
}

/** `#{pane_id}|#{pane_dead}|…` lines: the pane id and whether it is dead, then the rest (a session name). */
export function parseListing(listing: string): { paneId: string; dead: boolean; rest: string }[] {
  const panes: { paneId: string; dead: boolean; rest: string }[] = [];
  for (const line of listing.split('\n')) {
    const match = /^(%\d+)\|([01]?)\|(.*)$/.exec(line);
    if (match) panes.push({ paneId: match[1] as string, dead: match[2] === '1', rest: match[3] as string });
  }
  return panes;
}

/** Every pane of the server with its session: from the caller's listing, else one `list-panes -a`. */
async function listPanes(
  socket: string | null,
  listed: ReadonlyMap<string, readonly ListedPane[]> | undefined,
  options: RunTmuxOptions,
): Promise<{ paneId: string; dead: boolean; session: string }[]> {
  if (listed !== undefined) {
    const panes = [...listed].flatMap(([session, list]) => list.map((p) => ({ ...p, session })));
    return panes.map((p) => ({ paneId: p.paneId, dead: p.paneDead, session: p.session }));
  }
  // The session name last: it may hold the separator, a pane id never does (tmux prints a tab as "_").
  const listing = await runTmux(socket, ['list-panes', '-a', '-F', '#{pane_id}|#{pane_dead}|#{session_name}'], options);
  return parseListing(listing).map((p) => ({ paneId: p.paneId, dead: p.dead, session: p.rest }));
}

/** One server's share of a bulk read: sessions settled, or none when tmux failed there. */
async function captureServer(
  socket: string | null,
  sessions: ReadonlyMap<string, boolean>,
  listed: ReadonlyMap<string, readonly ListedPane[]> | undefined,
  options: RunTmuxOptions,
): Promise<Map<string, PaneLines[]>> {
  const settled = new Map<string, PaneLines[]>();
  let all: { paneId: string; dead: boolean; session: string }[];
  try {
    all = await listPanes(socket, listed, options);
  } catch (error) {
    if (isGone(error)) for (const s of sessions.keys()) settled.set(s, []); // no server: every session is gone
    return settled;
  }
  const panes = all.filter((p) => sessions.has(p.session) && (sessions.get(p.session) === true || p.dead));
  const read = new Map<string, PaneLines[]>();
  const unread = new Set<string>();
  for (let i = 0; i < panes.length; i += PANES_PER_CALL) {
    const chunk = panes.slice(i, i + PANES_PER_CALL);
    try {
      const captured = await captureBatch(socket, chunk, options);
      chunk.forEach((p, j) => read.set(p.session, [...(read.get(p.session) ?? []), captured[j] as PaneLines]));
    } catch {
      for (const p of chunk) unread.add(p.session); // read one by one later, all its panes
    }
  }
  for (const s of sessions.keys()) {
    if (unread.has(s)) continue;
    settled.set(s, read.get(s) ?? []); // no pane listed: the session is gone
  }
  return settled;
}

/** Read what `request` asks for, the servers in parallel. Never rejects: what failed is left unsettled. */
export async function readPanes(
  request: PaneReadRequest,
  options: RunTmuxOptions,
  listings?: PaneListings,
): Promise<PaneCaptures> {
  const servers = new Map<string | null, Map<string, PaneLines[]>>();
  await Promise.all(
    [...request.servers].map(async ([socket, sessions]) => {
      servers.set(socket, await captureServer(socket, sessions, listings?.get(socket), options).catch(() => new Map()));
    }),
  );
  return new PaneCaptures(servers);
}
