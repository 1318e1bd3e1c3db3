/**
 * Every metric name the shipped alert rules and dashboards may query, written
 * from docs/design.md#metrics. The rule and dashboard tests fail on any other name, and
 * the end-to-end test compares `EXPOSITION_METRIC_NAMES` with what a live
 * agent serves on /metrics.
 *
 * Labelled series appear in an exposition only once the agent has set or
 * initialised them; the names here are the metric names, not series.
 */

/** Gauges and counters, as they appear in the text exposition (counters with `_total`). */
export const AGENT_SCALAR_METRIC_NAMES = [
  'orchestrator_projects',
  'orchestrator_stuck_projects',
  'orchestrator_queue_blocked',
  'orchestrator_queue_paused',
  'orchestrator_queue_oldest_enqueued_timestamp_seconds',
  'orchestrator_circuit_breakers',
  'orchestrator_state_transitions_total',
  'orchestrator_detections_total',
  'orchestrator_heal_actions_total',
  'orchestrator_heal_blocked_total',
  'orchestrator_retries_total',
  'orchestrator_scan_errors_total',
  'orchestrator_last_scan_success_timestamp_seconds',
  'orchestrator_tmux_sessions',
  'orchestrator_active_project_info',
  'orchestrator_active_project_started_timestamp_seconds',
  'orchestrator_active_project_heartbeat_timestamp_seconds',
  'orchestrator_active_project_cpu_usage_ratio',
  'orchestrator_active_project_resident_memory_bytes',
  'orchestrator_agent_info',
  'orchestrator_leader',
  'orchestrator_source_up',
  'orchestrator_rate_limited_until_timestamp_seconds',
  // Added beside the contract (METRIC_ADDITIONS): the per-project series an awaiting_input page is built from.
  'orchestrator_active_project_waiting_since_timestamp_seconds',
] as const;

/** Histograms (base names; the series carry the suffixes below). */
export const AGENT_HISTOGRAM_NAMES = [
  'orchestrator_project_duration_seconds',
  'orchestrator_scan_duration_seconds',
  'orchestrator_source_sync_duration_seconds',
] as const;

export const HISTOGRAM_SERIES_SUFFIXES = ['_bucket', '_sum', '_count'] as const;

/** The series names the histograms expose: `<name>_bucket`, `<name>_sum`, `<name>_count`. */
export const AGENT_HISTOGRAM_SERIES_NAMES: readonly string[] = AGENT_HISTOGRAM_NAMES.flatMap((name) =>
  HISTOGRAM_SERIES_SUFFIXES.map((suffix) => `${name}${suffix}`),
);

/** prom-client default metrics that the rules use (OrchestratorScanStale reads the start time). */
export const DEFAULT_PROCESS_METRIC_NAMES_USED = ['process_start_time_seconds'] as const;

/** Names a live agent's /metrics must be able to serve. */
export const EXPOSITION_METRIC_NAMES: readonly string[] = [
  ...AGENT_SCALAR_METRIC_NAMES,
  ...AGENT_HISTOGRAM_SERIES_NAMES,
  ...DEFAULT_PROCESS_METRIC_NAMES_USED,
];

/** Series recorded by the recording rules of alerts/orchestrator-agent.rules.yml. */
export const RECORDING_RULE_NAMES = [
  'instance_to:orchestrator_state_transitions:rate5m',
  'instance_to:orchestrator_state_transitions:increase1h',
  'instance:orchestrator_projects_finished:increase1h',
  'instance:orchestrator_project_success:ratio_increase1h',
  'instance_quantile:orchestrator_scan_duration_seconds:histogram_quantile_rate5m',
] as const;

/** Every agent-side name rules and dashboards may use: the exposition plus the recorded series. */
export const AGENT_METRIC_NAMES: readonly string[] = [...EXPOSITION_METRIC_NAMES, ...RECORDING_RULE_NAMES];

/** Series Prometheus itself writes per scrape target; allowed in rules and dashboards too. */
export const SCRAPE_METRIC_NAMES = ['up'] as const;

/** Names that are counters (or histogram series, which behave as counters) and so belong inside rate()/increase() only. */
export function isCounterSeries(name: string): boolean {
  return name.endsWith('_total') || AGENT_HISTOGRAM_SERIES_NAMES.includes(name);
}
