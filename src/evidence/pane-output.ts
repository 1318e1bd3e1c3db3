/**
 * Pane-output evidence (docs/design.md#completion-detection): the last 200 lines of every pane of the
 * project's session. A line matching `completionErrorPatterns` vetoes; else a
 * line matching `completionOutputPatterns` is evidence (weight 0.5). A missing
 * session or server is "nothing found"; any other tmux failure or a timeout is
 * `unavailable`. The lines of dead panes (a launched command that exited) are
 * read even without output patterns and handed on, for the record of how the
 * command ended.
 *
 * A gathering reads the panes of all its projects in bulk first: per tmux
 * server one `list-panes -a` and one tmux call that captures up to 32 panes,
 * each capture followed by a marker line only this read knows (instead of two
 * tmux processes per project: a full sync of 100 projects spawned 200). A
 * server or a batch that fails (a pane closed in between stops tmux's command
 * sequence) leaves its projects to the per-project read, which tells a missing
 * session from a broken tmux.
 */
import { randomBytes } from 'node:crypto';
import { compilePatterns } from '../core/patterns.js';
import type { Project } from '../core/project.js';
import { describeSocket, exactSession, normaliseSocket, runTmux, TmuxCommandError, type RunTmuxOptions } from '../scan/tmux-command.js';
import { errorText, remainingMs, withDeadline } from './deadline.js';
import type { EvidenceGatherer, GatherContext, GatherResult } from './types.js';

const OUTPUT_WEIGHT = 0.5;
export const PANE_LINES = 200;
const MAX_LINE_IN_DETAIL = 200;

/** tmux's answers when the session (or a pane listed a moment ago) is gone. */
function isGone(error: unknown): boolean {
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

/** The last `limit` non-blank lines of a capture (see lastLines), each distinct line once. */
export function lastDistinctLines(capture: string, limit = PANE_LINES): string[] {
  return [...new Set(lastLines(capture, limit))];
}

function quote(line: string): string {
  const trimmed = line.trim();
  return trimmed.length > MAX_LINE_IN_DETAIL ? `"${trimmed.slice(0, MAX_LINE_IN_DETAIL)}…"` : `"${trimmed}"`;
}

export interface PaneLines {
  paneId: string;
  /** Distinct non-blank lines, for the patterns. */
  lines: string[];
  /** The pane's command exited (remain-on-exit kept the pane). */
  dead?: boolean;
  /** A dead pane's last non-blank lines in order, repeats kept: what its command printed last. */
  tail?: string[];
}

/** The read lines of the dead panes among `panes`, for the record of how the command ended. */
function deadPaneLines(panes: readonly PaneLines[]): { deadPaneLines?: { paneId: string; lines: string[] }[] } {
  const dead = panes.filter((p) => p.dead === true).map((p) => ({ paneId: p.paneId, lines: p.tail ?? p.lines }));
  return dead.length > 0 ? { deadPaneLines: dead } : {};
}

/** A capture as PaneLines: the distinct lines always, the ordered tail of a dead pane. */
function paneLines(paneId: string, capture: string, dead: boolean): PaneLines {
  const tail = lastLines(capture);
  return { paneId, lines: [...new Set(tail)], ...(dead ? { dead, tail } : {}) };
}

/** The pure decision over captured panes: a veto wins over any completion line. */
export function judgePaneOutput(panes: readonly PaneLines[], outputPatterns: readonly RegExp[], errorPatterns: readonly RegExp[]): GatherResult {
  for (const pane of panes) {
    const error = pane.lines.find((line) => errorPatterns.some((p) => p.test(line)));
    if (error !== undefined) {
      return { evidence: null, note: `output evidence vetoed: pane ${pane.paneId}: error line ${quote(error)}` };
    }
  }
  for (const pane of panes) {
    // The most recent matching line is the one worth showing.
    const hit = pane.lines.findLast((line) => outputPatterns.some((p) => p.test(line)));
    if (hit !== undefined) {
      return { evidence: { method: 'output', weight: OUTPUT_WEIGHT, detail: `pane ${pane.paneId}: ${quote(hit)}` } };
    }
  }
  return { evidence: null };
}

function tmuxOptions(ctx: GatherContext, deadline: number): RunTmuxOptions {
  return { timeoutMs: Math.min(ctx.config.tmuxTimeoutMs, remainingMs(deadline)), ...(ctx.tmuxPath !== undefined ? { tmuxPath: ctx.tmuxPath } : {}) };
}

/** Panes captured in one call at most: bounds the argument list and the output of one tmux. */
export const PANES_PER_CALL = 32;

/** What a bulk read found: per server, per session looked for, its panes' lines ([] when the session is gone). */
export class PaneCaptures {
  constructor(private readonly servers: ReadonlyMap<string | null, ReadonlyMap<string, PaneLines[]>>) {}

  /** The session's panes, or undefined when the bulk read did not settle them (left to the per-project read). */
  of(socket: string | null, session: string): PaneLines[] | undefined {
    return this.servers.get(socket)?.get(session);
  }
}

/**
 * The captures of `panes` in one tmux call: `capture-pane … ; display-message
 * -p <marker i> ; …`. Each capture ends at its own marker, a random token no
 * pane can print by chance. Rejects when tmux does (a pane closed stops the
 * sequence) or the markers do not all come back.
 */
async function captureBatch(socket: string | null, panes: readonly { paneId: string; dead: boolean }[], options: RunTmuxOptions): Promise<PaneLines[]> {
  const token = `toa-capture-${randomBytes(8).toString('hex')}-`;
  const args: string[] = [];
  panes.forEach(({ paneId }, i) => {
    if (i > 0) args.push(';');
    args.push('capture-pane', '-p', '-J', '-S', `-${PANE_LINES}`, '-t', paneId, ';', 'display-message', '-p', `${token}${i}`);
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
    throw new Error(`tmux capture of ${panes.length} panes on ${describeSocket(socket)} returned ${captured.length} of them`);
  }
  return captured;
}

/** `#{pane_id}|#{pane_dead}|…` lines: the pane id and whether it is dead, then the rest (a session name). */
function parseListing(listing: string): { paneId: string; dead: boolean; rest: string }[] {
  const panes: { paneId: string; dead: boolean; rest: string }[] = [];
  for (const line of listing.split('\n')) {
    const match = /^(%\d+)\|([01]?)\|(.*)$/.exec(line);
    if (match) panes.push({ paneId: match[1] as string, dead: match[2] === '1', rest: match[3] as string });
  }
  return panes;
}

/**
 * One server's share of a bulk read: sessions settled, or none when tmux
 * failed there. Only dead panes are read when `live` is false (no output
 * patterns to look for): their output is the record of how a command ended.
 */
async function captureServer(socket: string | null, sessions: ReadonlySet<string>, live: boolean, options: RunTmuxOptions): Promise<Map<string, PaneLines[]>> {
  const settled = new Map<string, PaneLines[]>();
  let listing: string;
  try {
    // The session name last: it may hold the separator, a pane id never does (tmux prints a tab as "_").
    listing = await runTmux(socket, ['list-panes', '-a', '-F', '#{pane_id}|#{pane_dead}|#{session_name}'], options);
  } catch (error) {
    if (isGone(error)) for (const s of sessions) settled.set(s, []); // no server: every session is gone
    return settled;
  }
  const panes = parseListing(listing)
    .filter((p) => sessions.has(p.rest) && (live || p.dead))
    .map((p) => ({ paneId: p.paneId, dead: p.dead, session: p.rest }));
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
  for (const s of sessions) {
    if (unread.has(s)) continue;
    settled.set(s, read.get(s) ?? []); // no pane listed: the session is gone
  }
  return settled;
}

/**
 * The bulk read before the per-project calls: every project's panes, per
 * server, in a few tmux calls; only the dead panes when there are no output
 * patterns to look for (or patterns the per-project read reports as broken).
 */
async function capturePanes(projects: readonly Project[], ctx: GatherContext): Promise<PaneCaptures> {
  let patterns: RegExp[] = [];
  try {
    patterns = compilePatterns(ctx.config.completionOutputPatterns);
  } catch {
    // left to gather(), which names the broken pattern
  }
  const live = patterns.length > 0;
  const wanted = new Map<string | null, Set<string>>();
  for (const p of projects) {
    if (p.session === null || p.session === '') continue;
    const socket = normaliseSocket(p.tmuxSocket);
    wanted.set(socket, (wanted.get(socket) ?? new Set()).add(p.session));
  }
  const deadline = Date.now() + ctx.config.evidenceTimeoutMs;
  const servers = new Map<string | null, Map<string, PaneLines[]>>();
  await Promise.all([...wanted].map(async ([socket, sessions]) => servers.set(socket, await captureServer(socket, sessions, live, tmuxOptions(ctx, deadline)))));
  return new PaneCaptures(servers);
}

/**
 * `output`: a completion line in the session's panes and no error line
 * (weight 0.5). Also hands on the lines of the session's dead panes, read
 * even without output patterns: how a launched command ended.
 */
export const paneOutputGatherer: EvidenceGatherer = {
  method: 'output',
  prepare: capturePanes,
  async gather(project: Project, ctx: GatherContext, prepared?: unknown): Promise<GatherResult> {
    if (project.session === null || project.session === '') return { evidence: null };
    let outputPatterns: RegExp[];
    let errorPatterns: RegExp[];
    try {
      outputPatterns = compilePatterns(ctx.config.completionOutputPatterns);
      errorPatterns = compilePatterns(ctx.config.completionErrorPatterns);
    } catch (error) {
      return { unavailable: `completion output/error patterns: ${errorText(error)}` };
    }
    const live = outputPatterns.length > 0;
    const judge = (panes: readonly PaneLines[]): GatherResult => {
      const verdict = live ? judgePaneOutput(panes, outputPatterns, errorPatterns) : { evidence: null };
      return { ...verdict, ...deadPaneLines(panes) };
    };

    const session = project.session;
    const socket = normaliseSocket(project.tmuxSocket);
    const read = prepared instanceof PaneCaptures ? prepared.of(socket, session) : undefined;
    if (read !== undefined) return judge(read);

    const deadline = Date.now() + ctx.config.evidenceTimeoutMs;
    const tmux = (args: string[]): Promise<string> => runTmux(socket, args, tmuxOptions(ctx, deadline));

    const capture = async (): Promise<GatherResult> => {
      let panes: { paneId: string; dead: boolean }[];
      try {
        const listing = await tmux(['list-panes', '-t', `${exactSession(session)}:`, '-F', '#{pane_id}|#{pane_dead}|']);
        panes = parseListing(listing).filter((p) => live || p.dead);
      } catch (error) {
        if (isGone(error)) return { evidence: null };
        throw error;
      }
      const captured = await Promise.all(
        panes.map(async ({ paneId, dead }): Promise<PaneLines | null> => {
          try {
            return paneLines(paneId, await tmux(['capture-pane', '-p', '-J', '-S', `-${PANE_LINES}`, '-t', paneId]), dead);
          } catch (error) {
            if (isGone(error)) return null; // the pane closed between list and capture
            throw error;
          }
        }),
      );
      return judge(captured.filter((p): p is PaneLines => p !== null));
    };

    try {
      // runTmux kills each tmux after its own timeout; the deadline bounds the whole gatherer.
      return await withDeadline(capture(), ctx.config.evidenceTimeoutMs, `pane capture of session ${session}`);
    } catch (error) {
      return { unavailable: errorText(error) };
    }
  },
};
