/** What every source offers the sync: one pass over what it shows now. */
import type { SourceConfig, SourceKind } from '../config/sources.js';
import type { RegistryDocument } from '../core/model/registry-document.js';
import type { Observed } from './merge.js';

export interface SourcePass {
  /** The projects the source shows, to merge. */
  items: Observed[];
  /** Projects of this source to drop from the registry, with why. */
  drops: { id: string; reason: string }[];
  /** True when nothing changed since the last pass and nothing was read. */
  skipped: boolean;
  /** Rows or sessions read; null when skipped. */
  rows: number | null;
  /** Status values the mapping does not know, skipped this pass. */
  unknownStatuses: string[];
}

export interface Source {
  readonly config: SourceConfig;
  /** The database path, or the pattern and tmux server, for messages. */
  readonly location: string;
  /** Read the source; throws (with a message naming the location) when the pass fails. */
  pass(doc: RegistryDocument, now: number): Promise<SourcePass>;
  /** Forget what the last pass read, so the next pass reads in full. */
  forget(): void;
}

/** One pass of one source, as the cycle result, /readyz, metrics and the CLI report it. */
export interface SourceSyncReport {
  source: string;
  kind: SourceKind;
  location: string;
  ok: boolean;
  error: string | null;
  durationMs: number;
  skipped: boolean;
  rows: number | null;
  created: number;
  updated: number;
  moved: number;
  dropped: number;
  /** Ids the source wanted that belong to another owner's project. */
  conflicts: string[];
  /** The moves that followed the source's own status changes (the cycle's decisions are its `transitions`). */
  moves: { project: string; from: string; to: string; reason: string }[];
  unknownStatuses: string[];
  /** Rows written back this cycle, and guarded writes whose row had moved on. */
  writtenBack: number;
  writeBackConflicts: number;
  /** Destructive actions left out because the source does not let the agent heal (heal: false). */
  withheld: number;
}

export function emptyReport(source: Source): SourceSyncReport {
  return {
    source: source.config.name,
    kind: source.config.kind,
    location: source.location,
    ok: true,
    error: null,
    durationMs: 0,
    skipped: false,
    rows: null,
    created: 0,
    updated: 0,
    moved: 0,
    dropped: 0,
    conflicts: [],
    moves: [],
    unknownStatuses: [],
    writtenBack: 0,
    writeBackConflicts: 0,
    withheld: 0,
  };
}

/** One line for people: what a pass read, changed and wrote back, or why it failed. */
export function describeReport(r: SourceSyncReport): string {
  const head = `source ${r.source} (${r.location})`;
  if (!r.ok) return `${head}: FAILED: ${r.error ?? 'unknown error'}`;
  const unit = r.kind === 'tmux-sessions' ? 'session(s)' : 'row(s)';
  const read = r.skipped ? 'unchanged since the last read' : `read ${r.rows ?? 0} ${unit}`;
  const parts = [read, `imported ${r.created}, updated ${r.updated}, moved ${r.moved}, dropped ${r.dropped}`];
  if (r.kind === 'tmux-orchestrator') {
    const moved = r.writeBackConflicts > 0 ? ` (${r.writeBackConflicts} row(s) had changed, left as they were)` : '';
    parts.push(`wrote back ${r.writtenBack}${moved}`);
  }
  const unknown = r.unknownStatuses.join(', ');
  if (unknown) parts.push(`skipped rows with status ${unknown} (not in the mapping)`);
  if (r.conflicts.length > 0) parts.push(`ids taken by other projects: ${r.conflicts.slice(0, 5).join(', ')}`);
  if (r.withheld > 0) parts.push(`${r.withheld} kill(s) withheld (heal: false)`);
  return `${head}: ${parts.join('; ')}`;
}
