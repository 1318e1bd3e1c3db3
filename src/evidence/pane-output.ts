/**
 * Pane-output evidence (DESIGN §6): the last 200 lines of every pane of the
 * project's session. A line matching `completionErrorPatterns` vetoes; else a
 * line matching `completionOutputPatterns` is evidence (weight 0.5). A missing
 * session or server is "nothing found"; any other tmux failure or a timeout is
 * `unavailable`.
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

/**
 * The last `limit` non-blank lines of a capture, trailing whitespace trimmed
 * (the visible screen pads with blank rows), each distinct line once.
 */
export function lastDistinctLines(capture: string, limit = PANE_LINES): string[] {
  const lines = capture.split('\n').map((l) => l.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return [...new Set(lines.slice(-limit).filter((l) => l !== ''))];
}

function quote(line: string): string {
  const trimmed = line.trim();
  return trimmed.length > MAX_LINE_IN_DETAIL ? `"${trimmed.slice(0, MAX_LINE_IN_DETAIL)}…"` : `"${trimmed}"`;
}

export interface PaneLines {
  paneId: string;
  lines: string[];
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
async function captureBatch(socket: string | null, panes: readonly { paneId: string }[], options: RunTmuxOptions): Promise<PaneLines[]> {
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
      captured.push({ paneId: pane.paneId, lines: lastDistinctLines(lines.join('\n')) });
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

/** One server's share of a bulk read: sessions settled, or none when tmux failed there. */
async function captureServer(socket: string | null, sessions: ReadonlySet<string>, options: RunTmuxOptions): Promise<Map<string, PaneLines[]>> {
  const settled = new Map<string, PaneLines[]>();
  let listing: string;
  try {
    // The session name last: it may hold the separator, a pane id never does (tmux prints a tab as "_").
    listing = await runTmux(socket, ['list-panes', '-a', '-F', '#{pane_id}|#{session_name}'], options);
  } catch (error) {
    if (isGone(error)) for (const s of sessions) settled.set(s, []); // no server: every session is gone
    return settled;
  }
  const panes: { paneId: string; session: string }[] = [];
  for (const line of listing.split('\n')) {
    const sep = line.indexOf('|');
    if (sep <= 0) continue;
    const session = line.slice(sep + 1);
    if (sessions.has(session)) panes.push({ paneId: line.slice(0, sep), session });
  }
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

/** The bulk read before the per-project calls: every project's panes, per server, in a few tmux calls. */
async function capturePanes(projects: readonly Project[], ctx: GatherContext): Promise<PaneCaptures> {
  // Nothing to look for (or patterns the per-project read reports as broken): no tmux call.
  let patterns: RegExp[] = [];
  try {
    patterns = compilePatterns(ctx.config.completionOutputPatterns);
  } catch {
    // left to gather(), which names the broken pattern
  }
  if (patterns.length === 0) return new PaneCaptures(new Map());
  const wanted = new Map<string | null, Set<string>>();
  for (const p of projects) {
    if (p.session === null || p.session === '') continue;
    const socket = normaliseSocket(p.tmuxSocket);
    wanted.set(socket, (wanted.get(socket) ?? new Set()).add(p.session));
  }
  const deadline = Date.now() + ctx.config.evidenceTimeoutMs;
  const servers = new Map<string | null, Map<string, PaneLines[]>>();
  await Promise.all([...wanted].map(async ([socket, sessions]) => servers.set(socket, await captureServer(socket, sessions, tmuxOptions(ctx, deadline)))));
  return new PaneCaptures(servers);
}

/** `output`: a completion line in the session's panes and no error line (weight 0.5). */
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
    if (outputPatterns.length === 0) return { evidence: null };

    const session = project.session;
    const socket = normaliseSocket(project.tmuxSocket);
    const read = prepared instanceof PaneCaptures ? prepared.of(socket, session) : undefined;
    if (read !== undefined) return judgePaneOutput(read, outputPatterns, errorPatterns);

    const deadline = Date.now() + ctx.config.evidenceTimeoutMs;
    const tmux = (args: string[]): Promise<string> => runTmux(socket, args, tmuxOptions(ctx, deadline));

    const capture = async (): Promise<GatherResult> => {
      let paneIds: string[];
      try {
        paneIds = (await tmux(['list-panes', '-t', `${exactSession(session)}:`, '-F', '#{pane_id}'])).split('\n').filter((id) => id !== '');
      } catch (error) {
        if (isGone(error)) return { evidence: null };
        throw error;
      }
      const captured = await Promise.all(
        paneIds.map(async (paneId): Promise<PaneLines | null> => {
          try {
            const text = await tmux(['capture-pane', '-p', '-J', '-S', `-${PANE_LINES}`, '-t', paneId]);
            return { paneId, lines: lastDistinctLines(text) };
          } catch (error) {
            if (isGone(error)) return null; // the pane closed between list and capture
            throw error;
          }
        }),
      );
      return judgePaneOutput(
        captured.filter((p): p is PaneLines => p !== null),
        outputPatterns,
        errorPatterns,
      );
    };

    try {
      // runTmux kills each tmux after its own timeout; the deadline bounds the whole gatherer.
      return await withDeadline(capture(), ctx.config.evidenceTimeoutMs, `pane capture of session ${session}`);
    } catch (error) {
      return { unavailable: errorText(error) };
    }
  },
};
