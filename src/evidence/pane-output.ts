/**
 * Pane-output evidence (DESIGN §6): the last 200 lines of every pane of the
 * project's session. A line matching `completionErrorPatterns` vetoes; else a
 * line matching `completionOutputPatterns` is evidence (weight 0.5). A missing
 * session or server is "nothing found"; any other tmux failure or a timeout is
 * `unavailable`.
 */
import { compilePatterns } from '../core/patterns.js';
import type { Project } from '../core/project.js';
import { exactSession, normaliseSocket, runTmux, TmuxCommandError } from '../scan/tmux-command.js';
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

/** `output`: a completion line in the session's panes and no error line (weight 0.5). */
export const paneOutputGatherer: EvidenceGatherer = {
  method: 'output',
  async gather(project: Project, ctx: GatherContext): Promise<GatherResult> {
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
    const deadline = Date.now() + ctx.config.evidenceTimeoutMs;
    const tmux = (args: string[]): Promise<string> =>
      runTmux(socket, args, {
        timeoutMs: Math.min(ctx.config.tmuxTimeoutMs, remainingMs(deadline)),
        ...(ctx.tmuxPath !== undefined ? { tmuxPath: ctx.tmuxPath } : {}),
      });

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
