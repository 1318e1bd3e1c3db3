/**
 * Completion scoring (docs/design.md#completion-detection). Pure: the evidence was gathered elsewhere
 * (src/evidence/) and arrives as data; phases are read from the project record
 * itself, so they never need I/O.
 *
 * The verdict keeps apart "not complete" (every method answered) and "unknown"
 * (some method could not answer): only the first may lead to a failure, so a
 * project whose evidence could not be gathered is never failed.
 */
import {
  iso,
  ms,
  type CompletionEvidence,
  type CompletionMethod,
  type CompletionRecord,
  type Project,
  type StaleMarker,
} from '../model/project.js';

/** What the evidence gatherers found for one project in one cycle. */
export interface EvidenceReport {
  /** Evidence found; several entries of one method count once (the strongest). */
  evidence: CompletionEvidence[];
  /** Methods that could not answer (timeout, unreadable directory...): their silence is not "no". */
  unavailable: { method: CompletionMethod; error: string }[];
  /** When the gathering finished, epoch ms. */
  gatheredAt: number;
  /** Marker files found but older than the attempt (isStaleMarker): not in `evidence`, reported. */
  staleMarkers?: StaleMarker[];
  /**
   * The captured lines of the session's dead panes (a command that exited),
   * by pane id, for the record of how it ended; absent when none was read.
   */
  deadPaneLines?: { paneId: string; lines: string[] }[];
}

/**
 * How far a marker's mtime may trail the attempt's start and still belong to
 * it. startedAt is read (before the launch) from the precise clock; the kernel
 * stamps files from a coarse copy of it, up to one tick (at most 10 ms) behind.
 */
export const MARKER_CLOCK_SLACK_MS = 20;
/** The same on a file system that stores whole seconds (ext3, HFS+) or two-second steps (FAT). */
export const COARSE_MARKER_CLOCK_SLACK_MS = 2000;

/**
 * True when a marker modified at `modifiedAtMs` predates this attempt, so it
 * was left by an earlier run: it is reported, never evidence. A project
 * without a start time has nothing to compare with: its markers count.
 */
export function isStaleMarker(modifiedAtMs: number, project: Pick<Project, 'startedAt'>): boolean {
  const started = ms(project.startedAt);
  if (started === null) return false;
  const slack = modifiedAtMs % 1000 === 0 ? COARSE_MARKER_CLOCK_SLACK_MS : MARKER_CLOCK_SLACK_MS;
  return modifiedAtMs < started - slack;
}

/** A one-line account of stale markers, for reports. */
export function describeStaleMarkers(markers: readonly StaleMarker[], startedAt: string | null): string {
  const list = markers.map((m) => `${m.file} (modified ${m.modifiedAt})`).join(', ');
  return `${list} older than this attempt (started ${startedAt ?? 'unknown'}): ignored`;
}

/** Summed weight at which a project is decided complete. */
export const COMPLETION_THRESHOLD = 1.0;
/** Weight of "phases non-empty and every phase done". */
export const PHASES_WEIGHT = 1.0;
/** Float sums such as 0.3 + 0.7 must still reach the threshold. */
const EPSILON = 1e-9;

export type CompletionVerdict =
  /** Summed weight reached the threshold; `record` goes into `project.completion`. */
  | { outcome: 'completed'; record: CompletionRecord }
  /** A failure marker, with every method answered and no completion. */
  | { outcome: 'failed'; record: CompletionRecord }
  /** Every method answered and the weight stays below the threshold: a failure may follow. */
  | { outcome: 'incomplete'; score: number; evidence: CompletionEvidence[] }
  /** Below the threshold, but something could not be checked: nothing may be failed on this. */
  | { outcome: 'unknown'; score: number; evidence: CompletionEvidence[]; why: string };

/** Evidence from the record's own phases, or null when they are empty or not all done. */
export function phasesEvidence(project: Project): CompletionEvidence | null {
  const phases = project.phases;
  if (phases.length === 0 || !phases.every((p) => p.done === true)) return null;
  const which = phases.length === 1 ? 'its only phase' : `all ${phases.length} phases`;
  return { method: 'phases', weight: PHASES_WEIGHT, detail: `${which} done (${phases.map((p) => p.name).join(', ')})` };
}

/** One entry per method, the strongest of each, in first-seen order. */
export function distinctEvidence(evidence: readonly CompletionEvidence[]): CompletionEvidence[] {
  const byMethod = new Map<CompletionMethod, CompletionEvidence>();
  for (const e of evidence) {
    const seen = byMethod.get(e.method);
    if (!seen || e.weight > seen.weight) byMethod.set(e.method, e);
  }
  return [...byMethod.values()];
}

/** Summed weight of distinct completion methods; a failure marker adds nothing. */
export function completionScore(evidence: readonly CompletionEvidence[]): number {
  const sum = distinctEvidence(evidence)
    .filter((e) => e.method !== 'failure_marker')
    .reduce((total, e) => total + Math.max(0, e.weight), 0);
  return Math.round(sum * 1e6) / 1e6;
}

/** True when a failure may be decided on this verdict (the completion check answered "no"). */
export function mayFail(verdict: CompletionVerdict): boolean {
  return verdict.outcome === 'incomplete' || verdict.outcome === 'failed';
}

/** A one-line summary of a verdict for reasons and logs. */
export function describeVerdict(verdict: CompletionVerdict): string {
  switch (verdict.outcome) {
    case 'completed':
    case 'failed': {
      const found = verdict.record.evidence.map((e) => `${e.method} ${e.detail}`).join('; ');
      return `${verdict.outcome} (score ${verdict.record.score}: ${found})`;
    }
    case 'incomplete': {
      const found = verdict.evidence.length ? `: ${verdict.evidence.map((e) => e.method).join(', ')}` : ', no evidence';
      return `not complete (score ${verdict.score}${found})`;
    }
    case 'unknown':
      return `completion unknown (score ${verdict.score}; ${verdict.why})`;
  }
}

/**
 * Decide completion from the record's phases plus this cycle's report.
 * `report` undefined means nothing was gathered: only phases can decide, and
 * "not complete" is then unknown. Completion wins over a failure marker (a
 * finished project is never marked failed); a failure marker decides failed
 * only when every method answered.
 */
export function decideCompletion(
  project: Project,
  report: EvidenceReport | undefined,
  now: number,
  /** Evidence seen by the scan rather than gathered (an exit with status 0). */
  observed: readonly CompletionEvidence[] = [],
): CompletionVerdict {
  const phases = phasesEvidence(project);
  const evidence = distinctEvidence([...(phases ? [phases] : []), ...observed, ...(report?.evidence ?? [])]);
  const score = completionScore(evidence);
  const at = iso(now);
  if (score >= COMPLETION_THRESHOLD - EPSILON) {
    return {
      outcome: 'completed',
      record: { decision: 'completed', at, score, evidence: evidence.filter((e) => e.method !== 'failure_marker') },
    };
  }
  let why: string | null = null;
  if (report === undefined) why = 'no evidence was gathered this cycle';
  else if (report.unavailable.length > 0) {
    why = `unavailable: ${report.unavailable.map((u) => `${u.method} (${u.error})`).join(', ')}`;
  }
  if (why !== null) return { outcome: 'unknown', score, evidence, why };
  if (evidence.some((e) => e.method === 'failure_marker')) {
    return { outcome: 'failed', record: { decision: 'failed', at, score, evidence } };
  }
  return { outcome: 'incomplete', score, evidence };
}
