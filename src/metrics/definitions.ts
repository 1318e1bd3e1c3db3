/**
 * The metric families of docs/design.md#metrics (plus the additions listed in
 * `METRIC_ADDITIONS`), created on a caller's private registry with every
 * known label combination pre-initialised, so `rate()` and `increase()` have
 * a zero to start from and dashboards show 0 rather than "no data".
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { GUARD_REASONS, STUCK_KINDS, type HealActionKind } from '../core/model/plan.js';
import { BREAKER_STATES, PROJECT_STATES } from '../core/model/project.js';
import { TRANSITIONS } from '../core/rules/state-machine.js';

export const HEAL_ACTION_KINDS: readonly HealActionKind[] = ['kill_tree', 'kill_session', 'launch'];
export const HEAL_OUTCOMES = ['success', 'failure', 'skipped'] as const;
export const SCAN_ERROR_SOURCES = ['processes', 'tmux', 'registry', 'evidence'] as const;
export type ScanErrorSource = (typeof SCAN_ERROR_SOURCES)[number];
export const DURATION_OUTCOMES = ['completed', 'failed'] as const;

/** Project runs last minutes to hours (default runtime 30 min, up to 3 × 15 min extensions, retries). */
export const PROJECT_DURATION_BUCKETS = [
  60, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10_800, 14_400, 21_600, 43_200, 86_400,
];
/** A source pass is a stat when nothing changed, milliseconds for a read, seconds for a large file or a lock wait. */
export const SOURCE_SYNC_DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
/** A cycle takes milliseconds when idle and up to tens of seconds with slow tmux or git evidence. */
export const SCAN_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Families this module exports beyond the table in docs/design.md#metrics, with why.
 * Tests check that every `orchestrator_*` family is in §10 or here.
 */
export const METRIC_ADDITIONS: Readonly<Record<string, string>> = {
  orchestrator_event_source_up:
    'gauge {source}: 1 while an event source of the daemon (registry_watch, tmux_hooks, pid_probe) ' +
    'is running, 0 when it failed and the daemon fell back to the cron schedule alone.',
  orchestrator_active_project_series_dropped:
    'gauge: non-terminal projects left without per-project series because of metricsProjectLimit (0 ' +
    'when none), so a truncated dashboard says so.',
  orchestrator_active_project_waiting_since_timestamp_seconds:
    "gauge {project, session, kind, agent, line}: since when an active project's agent waits on a prompt " +
    '(awaiting_input) or a usage limit (rate_limited), with the pane line; one series per such project, capped ' +
    'with the other per-project series, so an alert can page with the project, its session and the prompt.',
  orchestrator_leader:
    'gauge: 1 while this agent holds the leader lease and takes the queue-wide decisions (always 1 ' +
    'with a single-host registry); the sum over agents sharing a Redis registry is 1.',
};

export interface MetricFamilies {
  projects: Gauge<'state'>;
  stuckProjects: Gauge<'kind'>;
  queueBlocked: Gauge;
  queuePaused: Gauge;
  queueOldestEnqueued: Gauge;
  circuitBreakers: Gauge<'state'>;
  stateTransitions: Counter<'from' | 'to'>;
  detections: Counter<'kind'>;
  healActions: Counter<'action' | 'outcome'>;
  healBlocked: Counter<'reason'>;
  retries: Counter;
  projectDuration: Histogram<'outcome'>;
  scanDuration: Histogram;
  scanErrors: Counter<'source'>;
  lastScanSuccess: Gauge;
  tmuxSessions: Gauge<'socket'>;
  activeProjectInfo: Gauge<'project' | 'session' | 'state'>;
  activeProjectStarted: Gauge<'project'>;
  activeProjectHeartbeat: Gauge<'project'>;
  activeProjectCpu: Gauge<'project'>;
  activeProjectMemory: Gauge<'project'>;
  activeProjectSeriesDropped: Gauge;
  activeProjectWaiting: Gauge<'project' | 'session' | 'kind' | 'agent' | 'line'>;
  rateLimitedUntil: Gauge;
  agentInfo: Gauge<'version' | 'registry_backend' | 'host'>;
  eventSourceUp: Gauge<'source'>;
  leader: Gauge;
  sourceUp: Gauge<'source'>;
  sourceSyncDuration: Histogram<'source'>;
}

/** Create every family on `registry` (never the global one) and pre-initialise its known label values. */
export function createMetricFamilies(registry: Registry): MetricFamilies {
  const registers = [registry];
  const f: MetricFamilies = {
    projects: new Gauge({
      name: 'orchestrator_projects',
      help: 'Projects in the registry by state (all six states, 0 when none).',
      labelNames: ['state'],
      registers,
    }),
    stuckProjects: new Gauge({
      name: 'orchestrator_stuck_projects',
      help: 'Stuck conditions seen by the last cycle that reconciled, by kind.',
      labelNames: ['kind'],
      registers,
    }),
    queueBlocked: new Gauge({
      name: 'orchestrator_queue_blocked',
      help:
        '1 when projects are queued, nothing is active and the queue is not paused, for at least ' +
        'QUEUE_BLOCKED_AFTER_SEC.',
      registers,
    }),
    queuePaused: new Gauge({
      name: 'orchestrator_queue_paused',
      help: '1 while the queue is paused, by the queue breaker or by hand (no launches, no retries).',
      registers,
    }),
    queueOldestEnqueued: new Gauge({
      name: 'orchestrator_queue_oldest_enqueued_timestamp_seconds',
      help:
        'Enqueue time of the oldest queued project, Unix seconds; NaN when nothing is queued or the ' +
        'registry was never read.',
      registers,
    }),
    circuitBreakers: new Gauge({
      name: 'orchestrator_circuit_breakers',
      help: 'Per-project circuit breakers by current state (an open breaker past its cooldown counts as half_open).',
      labelNames: ['state'],
      registers,
    }),
    stateTransitions: new Counter({
      name: 'orchestrator_state_transitions_total',
      help: 'State moves of projects by any writer (agent, CLI, API), from the audit log.',
      labelNames: ['from', 'to'],
      registers,
    }),
    detections: new Counter({
      name: 'orchestrator_detections_total',
      help: 'Stuck conditions detected, counted once when they first appear (not every cycle they persist).',
      labelNames: ['kind'],
      registers,
    }),
    healActions: new Counter({
      name: 'orchestrator_heal_actions_total',
      help: 'Heal actions executed, by action and outcome.',
      labelNames: ['action', 'outcome'],
      registers,
    }),
    healBlocked: new Counter({
      name: 'orchestrator_heal_blocked_total',
      help: 'Heal actions held back by the safety guard, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    retries: new Counter({
      name: 'orchestrator_retries_total',
      help: 'Failed projects requeued for another attempt by the retry policy.',
      registers,
    }),
    projectDuration: new Histogram({
      name: 'orchestrator_project_duration_seconds',
      help: 'Run time of finished attempts, from start to the move into completed or failed.',
      labelNames: ['outcome'],
      buckets: PROJECT_DURATION_BUCKETS,
      registers,
    }),
    scanDuration: new Histogram({
      name: 'orchestrator_scan_duration_seconds',
      help: 'Duration of one scan-reconcile-heal cycle.',
      buckets: SCAN_DURATION_BUCKETS,
      registers,
    }),
    scanErrors: new Counter({
      name: 'orchestrator_scan_errors_total',
      help:
        'Cycles in which a source failed (processes, tmux, registry, evidence), plus registry errors ' +
        'outside cycles.',
      labelNames: ['source'],
      registers,
    }),
    lastScanSuccess: new Gauge({
      name: 'orchestrator_last_scan_success_timestamp_seconds',
      help: 'When the last fully successful cycle ended, Unix seconds; 0 before the first one.',
      registers,
    }),
    tmuxSessions: new Gauge({
      name: 'orchestrator_tmux_sessions',
      help:
        'Sessions on each tmux server scanned by the last cycle (default = the default server); absent ' +
        'for a server that could not be read.',
      labelNames: ['socket'],
      registers,
    }),
    activeProjectInfo: new Gauge({
      name: 'orchestrator_active_project_info',
      help:
        'Always 1: one series per non-terminal project (queued, processing, timing_out, zombie), capped ' +
        'at metricsProjectLimit.',
      labelNames: ['project', 'session', 'state'],
      registers,
    }),
    activeProjectStarted: new Gauge({
      name: 'orchestrator_active_project_started_timestamp_seconds',
      help: 'Start of the current attempt of an active project, Unix seconds.',
      labelNames: ['project'],
      registers,
    }),
    activeProjectHeartbeat: new Gauge({
      name: 'orchestrator_active_project_heartbeat_timestamp_seconds',
      help: 'Last heartbeat reported by an active project, Unix seconds; absent until it reports one.',
      labelNames: ['project'],
      registers,
    }),
    activeProjectCpu: new Gauge({
      name: 'orchestrator_active_project_cpu_usage_ratio',
      help: "CPU used by an active project's process tree, as a ratio of one core, at the last cycle.",
      labelNames: ['project'],
      registers,
    }),
    activeProjectMemory: new Gauge({
      name: 'orchestrator_active_project_resident_memory_bytes',
      help: "Resident memory of an active project's process tree at the last cycle.",
      labelNames: ['project'],
      registers,
    }),
    activeProjectSeriesDropped: new Gauge({
      name: 'orchestrator_active_project_series_dropped',
      help: 'Non-terminal projects without per-project series because of the metricsProjectLimit cap.',
      registers,
    }),
    activeProjectWaiting: new Gauge({
      name: 'orchestrator_active_project_waiting_since_timestamp_seconds',
      help:
        "Since when an active project's agent waits on a prompt (kind awaiting_input) or a usage limit " +
        '(rate_limited), Unix seconds, with the pane line (cleaned, at most 120 characters); capped at ' +
        'metricsProjectLimit.',
      labelNames: ['project', 'session', 'kind', 'agent', 'line'],
      registers,
    }),
    rateLimitedUntil: new Gauge({
      name: 'orchestrator_rate_limited_until_timestamp_seconds',
      help:
        'When the usage limit that holds launches on this host resets, Unix seconds; 0 when no usage limit ' +
        'holds the queue.',
      registers,
    }),
    agentInfo: new Gauge({
      name: 'orchestrator_agent_info',
      help: 'Always 1: the agent version, registry backend and host id.',
      labelNames: ['version', 'registry_backend', 'host'],
      registers,
    }),
    eventSourceUp: new Gauge({
      name: 'orchestrator_event_source_up',
      help: '1 while an event source of the daemon runs, 0 when it failed (the cron schedule still runs cycles).',
      labelNames: ['source'],
      registers,
    }),
    leader: new Gauge({
      name: 'orchestrator_leader',
      help:
        '1 while this agent holds the leader lease (retries, launches, queue breaker); always 1 with a ' +
        'single-host registry.',
      registers,
    }),
    sourceUp: new Gauge({
      name: 'orchestrator_source_up',
      help:
        '1 when the last pass of a configured source (sources: a Tmux-Orchestrator database, tmux sessions by ' +
        'pattern) read it, 0 when it failed.',
      labelNames: ['source'],
      registers,
    }),
    sourceSyncDuration: new Histogram({
      name: 'orchestrator_source_sync_duration_seconds',
      help:
        'Duration of one pass of a configured source: the read (or the check that nothing changed), the merge ' +
        'and the write-back.',
      labelNames: ['source'],
      buckets: SOURCE_SYNC_DURATION_BUCKETS,
      registers,
    }),
  };

  for (const state of PROJECT_STATES) f.projects.set({ state }, 0);
  for (const kind of STUCK_KINDS) {
    f.stuckProjects.set({ kind }, 0);
    f.detections.inc({ kind }, 0);
  }
  for (const state of BREAKER_STATES) f.circuitBreakers.set({ state }, 0);
  f.queueOldestEnqueued.set(Number.NaN);
  f.rateLimitedUntil.set(0);
  for (const [from, targets] of Object.entries(TRANSITIONS)) {
    for (const to of targets) f.stateTransitions.inc({ from, to }, 0);
  }
  for (const action of HEAL_ACTION_KINDS)
    for (const outcome of HEAL_OUTCOMES) f.healActions.inc({ action, outcome }, 0);
  for (const reason of GUARD_REASONS) f.healBlocked.inc({ reason }, 0);
  for (const source of SCAN_ERROR_SOURCES) f.scanErrors.inc({ source }, 0);
  for (const outcome of DURATION_OUTCOMES) f.projectDuration.zero({ outcome });
  return f;
}
