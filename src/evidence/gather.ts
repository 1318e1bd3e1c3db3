/**
 * Runs every gatherer for every candidate project (the evidence step of docs/architecture.md#one-cycle)
 * with a bounded number of gatherers in flight, and collects one
 * EvidenceReport per project. A gatherer with a `prepare` (pane output) first
 * reads in bulk for all the projects; its per-project calls use that and read
 * the rest themselves. Phases need no I/O: the core reads them from the
 * project record, so there is no gatherer for them.
 */
import type { EvidenceReport } from '../core/rules/completion.js';
import type { CompletionMethod, Project } from '../core/model/project.js';
import { errorText, withDeadline } from './deadline.js';
import { gitGatherer } from './git.js';
import { completionMarkerGatherer, failureMarkerGatherer } from './marker.js';
import { paneOutputGatherer } from './pane-output.js';
import { type EvidenceGatherer, type GatherContext, type GatherResult, isUnavailable } from './types.js';

/** The gatherers in the order their evidence is listed. */
export const DEFAULT_GATHERERS: readonly EvidenceGatherer[] = [
  completionMarkerGatherer,
  failureMarkerGatherer,
  gitGatherer,
  paneOutputGatherer,
];

/** Gatherers (not projects) running at once; each may hold a child process. */
export const DEFAULT_CONCURRENCY = 8;
/** Grace past evidenceTimeoutMs before a gatherer that ignored its own deadline is written off. */
const SAFETY_MARGIN_MS = 1000;

export interface GatherNote {
  project: string;
  method: CompletionMethod;
  note: string;
}

export interface GatherEvidenceContext extends GatherContext {
  /** gatheredAt of every report, epoch ms; default: the clock when gathering finished. */
  now?: number;
  /** Gatherers in flight at once (default 8). */
  concurrency?: number;
  /** Replaces the default gatherer table (tests, or a deployment without tmux). */
  gatherers?: readonly EvidenceGatherer[];
  /** Told why evidence was vetoed or a source ignored (e.g. an error line in the pane), for the log. */
  onNote?: (note: GatherNote) => void;
}

/** Run `tasks` with at most `limit` in flight; resolves when all have settled. */
async function runPool(tasks: readonly (() => Promise<void>)[], limit: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const task = tasks[next];
      next += 1;
      if (task) await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), tasks.length) }, worker));
}

/** A gatherer's bulk read, never rejecting: a throw or an overrun leaves every project to `gather`. */
async function prepareOne(
  gatherer: EvidenceGatherer,
  projects: readonly Project[],
  ctx: GatherContext,
): Promise<unknown> {
  if (!gatherer.prepare || projects.length === 0) return undefined;
  try {
    return await withDeadline(
      gatherer.prepare(projects, ctx),
      ctx.config.evidenceTimeoutMs + SAFETY_MARGIN_MS,
      `${gatherer.method} evidence bulk read`,
    );
  } catch {
    return undefined;
  }
}

/** One gatherer, never rejecting: a throw or an overrun becomes `unavailable`. */
async function runOne(
  gatherer: EvidenceGatherer,
  project: Project,
  ctx: GatherContext,
  prepared: unknown,
): Promise<GatherResult> {
  try {
    return await withDeadline(
      gatherer.gather(project, ctx, prepared),
      ctx.config.evidenceTimeoutMs + SAFETY_MARGIN_MS,
      `${gatherer.method} evidence for project ${project.id}`,
    );
  } catch (error) {
    return { unavailable: errorText(error) };
  }
}

/** Gather completion evidence for `projects`; one report per project id, in input order. */
export async function gatherEvidence(
  projects: readonly Project[],
  ctx: GatherEvidenceContext,
): Promise<Map<string, EvidenceReport>> {
  const gatherers = ctx.gatherers ?? DEFAULT_GATHERERS;
  const concurrency = ctx.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);

  const prepared = await Promise.all(gatherers.map((g) => prepareOne(g, projects, ctx)));
  const results = new Map<string, (GatherResult | undefined)[]>();
  const tasks: (() => Promise<void>)[] = [];
  for (const project of projects) {
    if (results.has(project.id)) continue;
    const slots: (GatherResult | undefined)[] = gatherers.map(() => undefined);
    results.set(project.id, slots);
    gatherers.forEach((gatherer, i) => {
      tasks.push(async () => {
        slots[i] = await runOne(gatherer, project, ctx, prepared[i]);
      });
    });
  }

  await runPool(tasks, concurrency);
  const gatheredAt = ctx.now ?? Date.now();

  const reports = new Map<string, EvidenceReport>();
  for (const [id, slots] of results) {
    const report: EvidenceReport = { evidence: [], unavailable: [], gatheredAt };
    slots.forEach((result, i) => {
      const method = gatherers[i]?.method;
      if (result === undefined || method === undefined) return;
      if (isUnavailable(result)) {
        report.unavailable.push({ method, error: result.unavailable });
        return;
      }
      if (result.evidence !== null) report.evidence.push(result.evidence);
      if (result.staleMarkers?.length) report.staleMarkers = [...(report.staleMarkers ?? []), ...result.staleMarkers];
      if (result.deadPaneLines?.length)
        report.deadPaneLines = [...(report.deadPaneLines ?? []), ...result.deadPaneLines];
      if (result.note !== undefined) ctx.onNote?.({ project: id, method, note: result.note });
    });
    reports.set(id, report);
  }
  return reports;
}
