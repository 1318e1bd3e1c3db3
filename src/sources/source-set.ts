/**
 * The configured sources as one step of the cycle (docs/sources.md):
 *
 * 1. `sync`, before the scan: one pass per source, merged into the registry
 *    in one locked write (in memory only on a dry run). A pass that fails
 *    changes nothing; the source is reported down.
 * 2. `restrict`, before the guard: what the agent may not do to imported
 *    projects (src/sources/restrict.ts).
 * 3. `writeBack`, after the commit: the agent's terminal decisions go back to
 *    their Tmux-Orchestrator rows, then the registry records what landed.
 *
 * Nothing here throws into the cycle: failures land in the reports.
 */
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG, type AgentConfig } from '../config/keys.js';
import type { SourceConfig } from '../config/sources.js';
import { applyUpdate, findProject } from '../core/model/apply.js';
import type { RandomSource } from '../core/policy/backoff.js';
import { policyEnterHook } from '../core/policy/policy-hooks.js';
import type { BlockedAction, Plan } from '../core/model/plan.js';
import { iso, type Project } from '../core/model/project.js';
import { emptyDocument, type RegistryDocument } from '../core/model/registry-document.js';
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import type { RegistryStore } from '../registry/store.js';
import { mergeObserved, type MergeSink, type MergeSummary } from './merge.js';
import { restrictPlan } from './restrict.js';
import { emptyReport, type Source, type SourcePass, type SourceSyncReport } from './source.js';
import { TmuxOrchestratorSource } from './tmux-orchestrator/source.js';
import { TmuxSessionsSource } from './tmux-sessions.js';

export interface SyncContext {
  store: RegistryStore;
  now: number;
  dryRun: boolean;
  hostId: string;
  /** The jitter source of the retry policy the moves go through (default Math.random). */
  random?: RandomSource;
}

/** What the cycle calls; see the file header. */
export interface CycleSources {
  sync(doc: RegistryDocument, ctx: SyncContext): Promise<RegistryDocument>;
  restrict(plan: Plan, projects: readonly Project[]): { plan: Plan; blocked: BlockedAction[] };
  writeBack(registry: RegistryDocument, ctx: SyncContext): Promise<RegistryDocument>;
  reports(): SourceSyncReport[];
}

const noSink: MergeSink = { audit: () => undefined, archive: () => undefined };

function changed(s: MergeSummary): boolean {
  return s.created + s.updated + s.moved + s.dropped > 0;
}

export class SourceSet implements CycleSources {
  private current = new Map<string, SourceSyncReport>();

  /** @param config the policy the moves a source makes go through (its retry and breaker hooks). */
  constructor(
    readonly sources: readonly Source[],
    private readonly log: Logger,
    private readonly config: AgentConfig = DEFAULT_CONFIG,
  ) {}

  /** The sources of `configs`, or null when there are none (the cycle then skips every step). */
  static fromConfig(configs: readonly SourceConfig[], config: AgentConfig, log: Logger): SourceSet | null {
    if (configs.length === 0) return null;
    const deps = { log, tmuxTimeoutMs: config.tmuxTimeoutMs };
    const sources = configs.map((c): Source =>
      c.kind === 'tmux-orchestrator'
        ? new TmuxOrchestratorSource(c, deps)
        : new TmuxSessionsSource(c, { ...deps, graceMs: config.phantomGracePeriodSec * 1000 }),
    );
    return new SourceSet(sources, log, config);
  }

  reports(): SourceSyncReport[] {
    return [...this.current.values()];
  }

  private fail(source: Source, report: SourceSyncReport, error: string): void {
    report.ok = false;
    report.error = error;
    source.forget();
    const why = 'source pass failed: nothing of it changed in the registry, and kills of its projects are held back';
    this.log.warn(why, { source: source.config.name, error });
  }

  async sync(doc: RegistryDocument, ctx: SyncContext): Promise<RegistryDocument> {
    this.current = new Map();
    const passes: { source: Source; pass: SourcePass; report: SourceSyncReport }[] = [];
    for (const source of this.sources) {
      const report = emptyReport(source);
      this.current.set(source.config.name, report);
      const t0 = performance.now();
      try {
        const pass = await source.pass(doc, ctx.now);
        Object.assign(report, { skipped: pass.skipped, rows: pass.rows, unknownStatuses: pass.unknownStatuses });
        if (pass.items.length + pass.drops.length > 0) passes.push({ source, pass, report });
      } catch (err) {
        this.fail(source, report, messageOf(err));
      }
      report.durationMs = performance.now() - t0;
    }
    if (passes.length === 0) return doc;

    const onEnter = policyEnterHook(this.config, ctx.random ?? Math.random);
    const merge = (target: RegistryDocument, sink: MergeSink): MergeSummary[] =>
      passes.map(({ source, pass }) => {
        const { kind, name, heal } = source.config;
        const mctx = { now: ctx.now, by: `source@${name}`, hostId: ctx.hostId, onEnter };
        return mergeObserved(target, sink, { kind, name, heal }, pass.items, pass.drops, mctx);
      });
    // Projects are replaced, never changed in place: a shallow copy shows what would change without a lock.
    const preview = { ...doc, projects: [...doc.projects] };
    const summaries = merge(preview, noSink);
    const record = (all: MergeSummary[]): void => {
      all.forEach((s, i) => {
        const { report, source } = passes[i] as (typeof passes)[number];
        const { created, updated, moved, dropped, conflicts, moves } = s;
        Object.assign(report, { created, updated, moved, dropped, conflicts, moves });
        if (conflicts.length === 0) return;
        const why = 'ids the source wants belong to projects it does not own; left alone';
        this.log.warn(why, { source: source.config.name, ids: conflicts.slice(0, 10) });
      });
    };
    if (!summaries.some(changed)) {
      record(summaries);
      return doc;
    }
    if (ctx.dryRun) {
      record(summaries);
      return preview;
    }
    const t0 = performance.now();
    try {
      await ctx.store.update((fresh, tx) => {
        record(merge(fresh, tx));
      });
      for (const { report } of passes) report.durationMs += performance.now() - t0;
      return await ctx.store.load();
    } catch (err) {
      for (const { source, report } of passes) this.fail(source, report, `registry write failed: ${messageOf(err)}`);
      return doc;
    }
  }

  restrict(plan: Plan, projects: readonly Project[]): { plan: Plan; blocked: BlockedAction[] } {
    const failed = new Map<string, string>();
    for (const r of this.current.values()) if (!r.ok) failed.set(r.source, r.error ?? 'failed');
    const heal = new Map(this.sources.map((s) => [s.config.name, s.config.heal]));
    const result = restrictPlan(plan, projects, failed, heal);
    for (const [name, count] of result.withheld) {
      const report = this.current.get(name);
      if (report) report.withheld += count;
    }
    return { plan: result.plan, blocked: result.blocked };
  }

  async writeBack(registry: RegistryDocument, ctx: SyncContext): Promise<RegistryDocument> {
    if (ctx.dryRun) return registry;
    const landed: { source: string; id: string; status: string }[] = [];
    for (const source of this.sources) {
      const report = this.current.get(source.config.name);
      if (!(source instanceof TmuxOrchestratorSource) || !report?.ok) continue;
      const t0 = performance.now();
      try {
        const { written, conflicts } = await source.writeBack(registry, ctx.now);
        report.writtenBack = written.length;
        report.writeBackConflicts = conflicts.length;
        const name = source.config.name;
        const prefix = source.config.idPrefix;
        for (const w of written) landed.push({ source: name, id: `${prefix}${w.id}`, status: w.status });
        for (const w of conflicts) {
          const detail = { source: name, row: w.id, expected: w.expected };
          this.log.info('row changed since it was read; the write-back is dropped', detail);
        }
      } catch (err) {
        this.fail(source, report, `write-back failed: ${messageOf(err)}`);
      }
      report.durationMs += performance.now() - t0;
    }
    if (landed.length === 0) return registry;
    try {
      await ctx.store.update((fresh) => {
        for (const l of landed) {
          const project = findProject(fresh, l.id);
          if (!project?.source) continue;
          const writtenBack = { status: l.status, at: iso(ctx.now) };
          applyUpdate(fresh, project, { source: { ...project.source, status: l.status, writtenBack } });
        }
      });
      return await ctx.store.load();
    } catch (err) {
      // Their rows are written; the next read finds the new status and records it.
      this.log.warn('registry write after the write-back failed; the next pass records it', { error: messageOf(err) });
      return registry;
    }
  }
}

export interface SourceCheck {
  source: string;
  kind: string;
  location: string;
  ok: boolean;
  detail: string;
}

/** A read-only check of one configured source, for `agent diagnostics`: nothing is imported or written. */
export async function checkSource(source: SourceConfig, config: AgentConfig, log: Logger): Promise<SourceCheck> {
  const set = SourceSet.fromConfig([source], config, log) as SourceSet;
  const [one] = set.sources as [Source];
  const base = { source: source.name, kind: source.kind, location: one.location };
  try {
    const pass = await one.pass(emptyDocument(), Date.now());
    const statuses = pass.unknownStatuses.join(', ');
    const unknown = statuses ? `; statuses not in the mapping: ${statuses}` : '';
    const what = source.kind === 'tmux-sessions' ? 'matching session(s)' : 'row(s) to watch';
    return { ...base, ok: true, detail: `${pass.rows ?? 0} ${what} readable${unknown}` };
  } catch (err) {
    return { ...base, ok: false, detail: messageOf(err) };
  }
}
