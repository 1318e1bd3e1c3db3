/**
 * The agent's Prometheus metrics (docs/design.md#metrics) on a private registry.
 *
 * Every gauge is precomputed when a cycle or audit entries are observed, so a
 * scrape does nothing but serialise (plus prom-client's default process and
 * Node.js metrics, which read their values at scrape time).
 *
 * Where the values come from:
 * - the cycle report (`CycleResult`): heal actions, guard holds, retries,
 *   cycle duration, scan errors, last success, tmux sessions, detections
 *   (with the prompts and usage limits agents wait on), the launch hold of a
 *   usage limit, process-tree usage;
 * - the registry the cycle committed: counts by state, breakers, the queue,
 *   per-project series. When it could not be read the last values stay (a
 *   registry error is reported as one, never as an empty queue);
 * - the audit log, tailed by the daemon (`observeAudit`): state transitions
 *   and project durations of every writer — agent, CLI and API alike.
 */
import { collectDefaultMetrics, Registry, type OpenMetricsContentType } from 'prom-client';
import type { CycleOutcome } from '../cycle.js';
import type { AgentConfig } from '../config/keys.js';
import { GUARD_REASONS, STUCK_KINDS, type Detection } from '../core/model/plan.js';
import { BREAKER_STATES, PROJECT_STATES, ms } from '../core/model/project.js';
import { summariseQueue, type QueueSummary } from '../core/views/queue-summary.js';
import type { RegistryDocument } from '../core/model/registry-document.js';
import type { AuditEntry } from '../registry/store.js';
import { attemptStart, moveOf } from './audit.js';
import {
  createMetricFamilies,
  HEAL_ACTION_KINDS,
  HEAL_OUTCOMES,
  SCAN_ERROR_SOURCES,
  type MetricFamilies,
} from './definitions.js';
import { DetectionTracker } from './detection-tracker.js';
import { openMetricsView } from './openmetrics.js';
import { selectProjectSeries, waitingSeries } from './project-series.js';

export interface AgentMetricsOptions {
  /** `metricsProjectLimit` caps the per-project series; the queue settings feed the queue summary. */
  config: AgentConfig;
  hostId: string;
  /** The agent's version, for `orchestrator_agent_info`. */
  version: string;
  backend: 'json' | 'memory' | 'redis';
}

export interface RenderedMetrics {
  contentType: string;
  body: string;
}

/** prom-client default metrics that `promtool check metrics` rejects (gauges with a `_total` suffix). */
export const LINT_FAILING_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/**
 * Resolution of the nodejs_eventloop_lag_* histogram (ms): one sample a second; a stall of any length still shows
 * as a late sample.
 */
export const EVENT_LOOP_SAMPLE_MS = 1000;

/** Event source names are label values: short snake_case words, so they stay bounded. */
const EVENT_SOURCE_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

function includes<T extends string>(list: readonly T[], value: string): value is T {
  return (list as readonly string[]).includes(value);
}

export class AgentMetrics {
  private readonly registry = new Registry();
  private readonly m: MetricFamilies;
  private readonly detections = new DetectionTracker();
  private readonly config: AgentConfig;
  private openMetrics: Registry<OpenMetricsContentType> | null = null;

  constructor(options: AgentMetricsOptions) {
    this.config = options.config;
    // The event-loop lag histogram samples on a timer; prom-client's default of every 10 ms alone
    // costs ~0.5 % of a core in an idle daemon (measured: bench/idle.ts, docs/performance.md).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
    // Gauges named like counters fail `promtool check metrics` (prometheus/client_js#283);
    // `nodejs_active_{handles,requests,resources}{type}` stay, and `sum without (type)` gives the totals.
    for (const name of LINT_FAILING_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    this.m = createMetricFamilies(this.registry);
    this.m.agentInfo.set({ version: options.version, registry_backend: options.backend, host: options.hostId }, 1);
  }

  /**
   * Record one cycle. A dry run changes nothing and records nothing. Counters
   * count this cycle's events; gauges take this cycle's view, except those a
   * failed step could not see, which keep their last value.
   */
  observeCycle(outcome: CycleOutcome, now: number): void {
    const { result, registry } = outcome;
    if (result.dryRun) return;
    const m = this.m;

    m.scanDuration.observe(Math.max(0, result.durationMs) / 1000);
    // One increment per failing source per cycle: "cycles in which tmux failed", not "projects whose evidence failed".
    for (const source of new Set(result.errors.map((e) => e.source))) {
      if (includes(SCAN_ERROR_SOURCES, source)) m.scanErrors.inc({ source });
    }
    if (result.ok) m.lastScanSuccess.set(now / 1000);

    for (const a of result.actions) {
      if (includes(HEAL_ACTION_KINDS, a.action) && includes(HEAL_OUTCOMES, a.outcome))
        m.healActions.inc({ action: a.action, outcome: a.outcome });
    }
    for (const b of result.blocked) if (includes(GUARD_REASONS, b.reason)) m.healBlocked.inc({ reason: b.reason });
    if (result.counts.retries > 0) m.retries.inc(result.counts.retries);

    // The scan ran (and so did reconcile, which follows it unconditionally) iff the registry was read:
    // only then are the detections and tmux counts a real view rather than an empty one.
    if (result.sources.length > 0) {
      const step = this.detections.step(result.detections);
      for (const kind of STUCK_KINDS) {
        m.stuckProjects.set({ kind }, step.current[kind]);
        if (step.appeared[kind] > 0) m.detections.inc({ kind }, step.appeared[kind]);
      }
      m.tmuxSessions.reset();
      for (const [socket, count] of Object.entries(result.tmuxSessions)) m.tmuxSessions.set({ socket }, count);
      const until = Date.parse(result.launchHold?.until ?? '');
      m.rateLimitedUntil.set(Number.isFinite(until) ? until / 1000 : 0);
    }

    for (const s of result.sourceSync ?? []) {
      this.m.sourceUp.set({ source: s.source }, s.ok ? 1 : 0);
      this.m.sourceSyncDuration.observe({ source: s.source }, Math.max(0, s.durationMs) / 1000);
    }

    if (registry !== null) {
      const queue = result.queue ?? summariseQueue(registry, this.config, now);
      this.observeRegistry(registry, queue, result.usage, result.detections);
    }
  }

  /**
   * Count the state moves among audit entries (every writer's, tailed from the
   * audit log) and observe the duration of attempts that finished. `registry`
   * (the current one) supplies start times; null skips the durations.
   */
  observeAudit(entries: readonly AuditEntry[], registry: RegistryDocument | null): void {
    let byId: Map<string, RegistryDocument['projects'][number]> | null = null;
    for (const entry of entries) {
      const move = moveOf(entry);
      if (!move) continue;
      this.m.stateTransitions.inc({ from: move.from, to: move.to });
      if (
        (move.to !== 'completed' && move.to !== 'failed') ||
        registry === null ||
        move.project === null ||
        move.at === null
      )
        continue;
      byId ??= new Map(registry.projects.map((p) => [p.id, p]));
      const project = byId.get(move.project);
      const started = project ? attemptStart(project, move.at) : null;
      if (started !== null) this.m.projectDuration.observe({ outcome: move.to }, (move.at - started) / 1000);
    }
  }

  /** A registry read or write failed outside a cycle (e.g. tailing the audit log). */
  observeRegistryError(): void {
    this.m.scanErrors.inc({ source: 'registry' });
  }

  /** An event source of the daemon (registry_watch, tmux_hooks, pid_probe...) started (true) or failed (false). */
  setEventSource(source: string, up: boolean): void {
    if (!EVENT_SOURCE_PATTERN.test(source))
      throw new TypeError(`event source must match ${EVENT_SOURCE_PATTERN} (got ${JSON.stringify(source)})`);
    this.m.eventSourceUp.set({ source }, up ? 1 : 0);
  }

  /** Whether this agent holds the leader lease now. */
  setLeader(leader: boolean): void {
    this.m.leader.set(leader ? 1 : 0);
  }

  /** The exposition: Prometheus text format 0.0.4, or OpenMetrics 1.0.0 when asked. */
  async render(openMetrics: boolean): Promise<RenderedMetrics> {
    const registry = openMetrics ? (this.openMetrics ??= openMetricsView(this.registry)) : this.registry;
    // prom-client writes NaN as `Nan`; Go parsers accept any case, the OpenMetrics grammar only `NaN`.
    return { contentType: registry.contentType, body: (await registry.metrics()).replace(/ Nan$/gm, ' NaN') };
  }

  private observeRegistry(
    registry: RegistryDocument,
    queue: QueueSummary,
    usage: CycleOutcome['result']['usage'],
    detections: readonly Detection[],
  ): void {
    const m = this.m;
    for (const state of PROJECT_STATES) m.projects.set({ state }, queue.counts[state]);
    for (const state of BREAKER_STATES) m.circuitBreakers.set({ state }, queue.breakers[state]);
    m.queueBlocked.set(queue.health.blocked ? 1 : 0);
    m.queuePaused.set(queue.paused ? 1 : 0);
    const oldest = ms(queue.oldestQueuedAt);
    // NaN, not 0, when nothing is queued: a 0 timestamp reads as "waiting since 1970".
    m.queueOldestEnqueued.set(oldest === null ? Number.NaN : oldest / 1000);

    const selection = selectProjectSeries(registry.projects, usage, this.config.metricsProjectLimit);
    // Rebuilt whole each cycle: a project that left (or changed session or state) loses its old series.
    m.activeProjectInfo.reset();
    m.activeProjectStarted.reset();
    m.activeProjectHeartbeat.reset();
    m.activeProjectCpu.reset();
    m.activeProjectMemory.reset();
    m.activeProjectWaiting.reset();
    for (const w of waitingSeries(selection.series, detections)) {
      const labels = { project: w.project, session: w.session, kind: w.kind, agent: w.agent, line: w.line };
      m.activeProjectWaiting.set(labels, w.sinceSec);
    }
    for (const s of selection.series) {
      const project = { project: s.project };
      m.activeProjectInfo.set({ project: s.project, session: s.session, state: s.state }, 1);
      if (s.startedSec !== null) m.activeProjectStarted.set(project, s.startedSec);
      if (s.heartbeatSec !== null) m.activeProjectHeartbeat.set(project, s.heartbeatSec);
      if (s.cpuRatio !== null) m.activeProjectCpu.set(project, s.cpuRatio);
      if (s.rssBytes !== null) m.activeProjectMemory.set(project, s.rssBytes);
    }
    m.activeProjectSeriesDropped.set(selection.dropped);
  }
}
