/**
 * Pane-output evidence (docs/design.md#completion-detection): the last 200 lines of every pane of the
 * project's session. A line matching `completionErrorPatterns` vetoes; else a
 * line matching `completionOutputPatterns` is evidence (weight 0.5). A missing
 * session or server is "nothing found"; any other tmux failure or a timeout is
 * `unavailable`. The lines of dead panes (a launched command that exited) are
 * read even without output patterns and handed on, for the record of how the
 * command ended.
 *
 * A gathering reads the panes of all its projects in bulk first
 * (src/evidence/pane-read.ts: per tmux server a few calls instead of two tmux
 * processes per project; a full sync of 100 projects spawned 200). A server
 * or a batch that fails leaves its projects to the per-project read, which
 * tells a missing session from a broken tmux.
 */
import { compilePatterns } from '../core/rules/patterns.js';
import type { Project } from '../core/model/project.js';
import { exactSession, normaliseSocket, runTmux, type RunTmuxOptions } from '../scan/tmux-command.js';
import { errorText, remainingMs, withDeadline } from './deadline.js';
import {
  isGone,
  lastLines,
  PANE_LINES,
  PaneCaptures,
  paneLines,
  PaneReadRequest,
  parseListing,
  readPanes,
  type PaneLines,
} from './pane-read.js';
import type { EvidenceGatherer, GatherContext, GatherResult } from './types.js';

export { lastLines, PANE_LINES, PANES_PER_CALL, type PaneLines } from './pane-read.js';

const OUTPUT_WEIGHT = 0.5;
const MAX_LINE_IN_DETAIL = 200;

/** The last `limit` non-blank lines of a capture (see lastLines), each distinct line once. */
export function lastDistinctLines(capture: string, limit = PANE_LINES): string[] {
  return [...new Set(lastLines(capture, limit))];
}

function quote(line: string): string {
  const trimmed = line.trim();
  return trimmed.length > MAX_LINE_IN_DETAIL ? `"${trimmed.slice(0, MAX_LINE_IN_DETAIL)}…"` : `"${trimmed}"`;
}

/** The read lines of the dead panes among `panes`, for the record of how the command ended. */
function deadPaneLines(panes: readonly PaneLines[]): { deadPaneLines?: { paneId: string; lines: string[] }[] } {
  const dead = panes.filter((p) => p.dead === true).map((p) => ({ paneId: p.paneId, lines: p.tail ?? p.lines }));
  return dead.length > 0 ? { deadPaneLines: dead } : {};
}

/** The pure decision over captured panes: a veto wins over any completion line. */
export function judgePaneOutput(
  panes: readonly PaneLines[],
  outputPatterns: readonly RegExp[],
  errorPatterns: readonly RegExp[],
): GatherResult {
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
  return {
    timeoutMs: Math.min(ctx.config.tmuxTimeoutMs, remainingMs(deadline)),
    ...(ctx.tmuxPath !== undefined ? { tmuxPath: ctx.tmuxPath } : {}),
  };
}

/**
 * The bulk read before the per-project calls: every project's panes, per
 * server, in a few tmux calls; only the dead panes when there are no output
 * patterns to look for (or patterns the per-project read reports as broken).
 * A cycle that read the panes already (with its agent detection) hands its
 * read in as `paneCaptures`: one bulk read per cycle.
 */
async function capturePanes(projects: readonly Project[], ctx: GatherContext): Promise<PaneCaptures> {
  if (ctx.paneCaptures !== undefined) return ctx.paneCaptures;
  const request = new PaneReadRequest();
  const live = outputPatternsOrNone(ctx).length > 0;
  for (const p of projects) {
    if (p.session !== null && p.session !== '') request.add(normaliseSocket(p.tmuxSocket), p.session, live);
  }
  return readPanes(request, tmuxOptions(ctx, Date.now() + ctx.config.evidenceTimeoutMs));
}

/** The output patterns, or none when they do not compile (left to gather(), which names the broken one). */
export function outputPatternsOrNone(ctx: Pick<GatherContext, 'config'>): RegExp[] {
  try {
    return compilePatterns(ctx.config.completionOutputPatterns);
  } catch {
    return [];
  }
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
            return paneLines(
              paneId,
              await tmux(['capture-pane', '-p', '-J', '-S', `-${PANE_LINES}`, '-t', paneId]),
              dead,
            );
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
