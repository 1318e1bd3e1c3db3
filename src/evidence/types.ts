/**
 * The contract of a completion-evidence gatherer (docs/design.md#completion-detection): one method,
 * one `gather` call per project. A gatherer never throws and never turns a
 * failure into "not complete": what it could not read is `unavailable`.
 */
import type { AgentConfig } from '../config/keys.js';
import type { GitLogCache } from './git.js';
import type { PaneCaptures } from './pane-read.js';
import type { CompletionEvidence, CompletionMethod, Project, StaleMarker } from '../core/model/project.js';

export interface GatherContext {
  config: Readonly<AgentConfig>;
  /** The tmux binary (default: `tmux` on PATH). */
  tmuxPath?: string;
  /** The git binary (default: `git` on PATH). */
  gitPath?: string;
  /** Each project's last git log, kept between cycles by the daemon; without it git runs every time. */
  gitLogs?: GitLogCache;
  /** The cycle's bulk pane read, when it made one (the pane-output gatherer then reads nothing in bulk itself). */
  paneCaptures?: PaneCaptures;
}

/**
 * What one gatherer learnt about one project.
 * - `{ evidence }`: it looked; `null` means it found nothing (or nothing applies,
 *   e.g. no projectDir). `note` says why something was ignored or vetoed, so an
 *   operator can see it; it never changes the decision by itself. Stale markers
 *   and dead panes' lines ride along as data for the report and the record.
 * - `{ unavailable }`: it could not look (timeout, permission, tmux/git failure).
 */
export type GatherResult =
  | {
      evidence: CompletionEvidence | null;
      note?: string;
      /** Markers found but older than the attempt (not evidence; reported). */
      staleMarkers?: StaleMarker[];
      /** The captured lines of the session's dead panes, for the record of how its command ended. */
      deadPaneLines?: { paneId: string; lines: string[] }[];
    }
  | { unavailable: string };

export interface EvidenceGatherer {
  method: CompletionMethod;
  /**
   * An optional bulk read before the per-project calls (all panes of a tmux
   * server in one call, say); what it resolves to is handed to each `gather`.
   * It may throw or settle only part: `gather` reads the rest itself.
   */
  prepare?(projects: readonly Project[], ctx: GatherContext): Promise<unknown>;
  gather(project: Project, ctx: GatherContext, prepared?: unknown): Promise<GatherResult>;
}

export function isUnavailable(result: GatherResult): result is { unavailable: string } {
  return 'unavailable' in result;
}

/** One project's gathered evidence: the type the core's completion decision reads. */
export type { EvidenceReport } from '../core/rules/completion.js';
