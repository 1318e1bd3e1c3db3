/**
 * Every configuration key, in one table: its default, its environment name,
 * what values it allows, and one line of documentation. Loading, validation,
 * `config/default.yaml` and the README table all derive from this table.
 */
import type { AgentPattern } from '../core/rules/agent-activity/catalogue.js';
import { RATE_LIMIT_SCOPES, type RateLimitScope } from '../core/rules/agent-activity/hold.js';
import { DEFAULT_AGENT_PATTERNS } from './agent-patterns.js';

import type { SourceConfig } from './sources.js';

export interface AgentConfig {
  /**
   * Registry location: a JSON file path or a `redis://` URL; null means the per-user default,
   * `$XDG_STATE_HOME/tmux-orchestrator-agent/registry.json` (see config/registry-path.ts).
   */
  registry: string | null;
  /** This agent's host id; null means the machine's hostname. */
  hostId: string | null;
  /** HTTP listen address `host:port`. */
  listen: string;
  /** Bearer token for the write API and for reads from other hosts; null disables writes (403). */
  apiToken: string | null;
  /** node-cron schedule of full cycles (six fields: with seconds). */
  scanSchedule: string;
  /**
   * tmux servers to scan: `default`, a socket name, or a socket path; null means the default server plus every
   * socket named by a project.
   */
  tmuxSockets: string[] | null;
  maxProcessRuntimeSec: number;
  heartbeatTimeoutSec: number;
  maxTimeoutExtensions: number;
  extensionDurationSec: number;
  phantomGracePeriodSec: number;
  stateSyncIntervalSec: number;
  timingOutGraceSec: number;
  killGraceSec: number;
  orphanGraceSec: number;
  orphanSessionPatterns: string[];
  queueBlockedAfterSec: number;
  maxConcurrent: number;
  maxKillsPerCycle: number;
  retryBaseSec: number;
  retryMaxDelaySec: number;
  retryMaxAttempts: number;
  nonRetriableReasons: string[];
  breakerFailureThreshold: number;
  breakerCooldownSec: number;
  breakerMaxCooldownSec: number;
  queueBreakerWindow: number;
  queueBreakerMinFinished: number;
  queueBreakerFailureRatio: number;
  queueBreakerCooldownSec: number;
  completionMarkerFiles: string[];
  failureMarkerFiles: string[];
  completionGitPatterns: string[];
  completionOutputPatterns: string[];
  completionErrorPatterns: string[];
  /** Completion weight of a launched command that exited with status 0 (default 1.0). */
  completionExitZeroWeight: number;
  /** Pane lines of agent CLIs that mean a prompt or a usage limit (defaults: src/config/agent-patterns.ts). */
  agentPatterns: readonly AgentPattern[];
  /** Entries matched before `agentPatterns`, to extend the catalogue without repeating it. */
  agentPatternsExtra: readonly AgentPattern[];
  awaitingInputMaxSec: number;
  noProgressSec: number;
  rateLimitDefaultHoldSec: number;
  rateLimitScope: RateLimitScope;
  evidenceTimeoutMs: number;
  tmuxTimeoutMs: number;
  retentionDays: number;
  allowForeignUsers: boolean;
  metricsProjectLimit: number;
  redisKeyPrefix: string;
  redisTimeoutMs: number;
  redisStreamMaxLen: number;
  leaseTtlMs: number;
  /** Queues watched without registering: Tmux-Orchestrator databases, tmux sessions by pattern (docs/sources.md). */
  sources: SourceConfig[];
  logLevel: 'error' | 'warn' | 'info' | 'debug';
}

export type KeyName = keyof AgentConfig;

export type KeyKind =
  | { type: 'int'; min: number; max: number }
  | { type: 'number'; min: number; max: number }
  /** `emptyIsNull: false`: only null (or the text "null") means null; an empty value is refused as a likely mistake. */
  | { type: 'string'; nullable: boolean; emptyIsNull?: boolean; pattern?: RegExp; patternText?: string }
  | { type: 'enum'; values: readonly string[] }
  | { type: 'list'; nullable: boolean; regex: boolean; item?: RegExp; itemText?: string }
  | { type: 'bool' }
  | { type: 'cron' }
  | { type: 'listen' }
  | { type: 'sources' }
  | { type: 'agentPatterns' };

export interface KeyDefinition<K extends KeyName = KeyName> {
  key: K;
  env: string;
  default: AgentConfig[K];
  kind: KeyKind;
  doc: string;
}

const DAY = 86_400;
const int = (min: number, max: number): KeyKind => ({ type: 'int', min, max });
const seconds = int(0, 365 * DAY);
const positiveSeconds = int(1, 365 * DAY);
const list: KeyKind = { type: 'list', nullable: false, regex: false };
const regexList: KeyKind = { type: 'list', nullable: false, regex: true };
const agentPatterns: KeyKind = { type: 'agentPatterns' };

function def<K extends KeyName>(
  key: K,
  env: string,
  dflt: AgentConfig[K],
  kind: KeyKind,
  doc: string,
): KeyDefinition<K> {
  return { key, env, default: dflt, kind, doc };
}

export const KEY_DEFINITIONS: readonly KeyDefinition[] = [
  def(
    'registry',
    'AGENT_REGISTRY',
    null,
    { type: 'string', nullable: true, emptyIsNull: false },
    'Registry location: path of the JSON registry file (a relative path is taken from the working ' +
      'directory), or redis://[user:password@]host:port/db for a registry shared by several hosts; ' +
      'null means $XDG_STATE_HOME/tmux-orchestrator-agent/registry.json (~/.local/state/... when ' +
      'XDG_STATE_HOME is unset or not absolute), the same file from any directory.',
  ),
  def(
    'hostId',
    'AGENT_HOST_ID',
    null,
    {
      type: 'string',
      nullable: true,
      pattern: /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/,
      patternText: 'letters, digits, ".", "_", "-" (1-64, starting with a letter or digit)',
    },
    "This agent's host id, recorded on the projects it starts; null means the machine's hostname.",
  ),
  def(
    'listen',
    'AGENT_LISTEN',
    '0.0.0.0:9820',
    { type: 'listen' },
    'HTTP listen address of `agent serve` (or `agent serve --listen`), host:port.',
  ),
  def(
    'apiToken',
    'AGENT_API_TOKEN',
    null,
    {
      type: 'string',
      nullable: true,
      pattern: /^[\x21-\x7e]{16,512}$/,
      patternText: '16-512 printable ASCII characters without spaces',
    },
    'Bearer token required by the write API, and by the status page and the read API from other ' +
      'hosts; null means writes are refused with 403 and those reads answer this host only.',
  ),
  def(
    'scanSchedule',
    'AGENT_SCAN_SCHEDULE',
    '*/15 * * * * *',
    { type: 'cron' },
    'node-cron schedule of full cycles (six fields, seconds first); events trigger cycles in between.',
  ),
  def(
    'tmuxSockets',
    'AGENT_TMUX_SOCKETS',
    null,
    {
      type: 'list',
      nullable: true,
      regex: false,
      item: /^(default|[A-Za-z0-9._-]{1,64}|\/[^\0]{1,4095})$/,
      itemText: '"default", a socket name (letters, digits, ".", "_", "-") or an absolute socket path',
    },
    'tmux servers to watch: "default", a socket name (-L) or a socket path (-S). A launch without a ' +
      'socket goes to the first; a project naming another is refused. null means the default server ' +
      'plus every socket named by a project.',
  ),
  def(
    'maxProcessRuntimeSec',
    'MAX_PROCESS_RUNTIME_SEC',
    1800,
    positiveSeconds,
    'Runtime before timeout handling starts.',
  ),
  def(
    'heartbeatTimeoutSec',
    'HEARTBEAT_TIMEOUT_SEC',
    600,
    positiveSeconds,
    'A heartbeat (reported, or tmux window activity) older than this is stale.',
  ),
  def(
    'maxTimeoutExtensions',
    'MAX_TIMEOUT_EXTENSIONS',
    3,
    int(0, 1000),
    'Timeout extensions granted while heartbeats are fresh.',
  ),
  def('extensionDurationSec', 'EXTENSION_DURATION_SEC', 900, seconds, 'Length of one timeout extension.'),
  def(
    'phantomGracePeriodSec',
    'PHANTOM_GRACE_PERIOD_SEC',
    900,
    seconds,
    'Grace before a project with neither process nor session is failed as a phantom.',
  ),
  def(
    'stateSyncIntervalSec',
    'STATE_SYNC_INTERVAL_SEC',
    300,
    positiveSeconds,
    'Completion evidence is gathered for every active project at least this often.',
  ),
  def(
    'timingOutGraceSec',
    'TIMING_OUT_GRACE_SEC',
    120,
    seconds,
    'Grace in timing_out before the tree is killed and the project failed.',
  ),
  def(
    'killGraceSec',
    'KILL_GRACE_SEC',
    10,
    int(0, 3600),
    'Wait between SIGTERM and SIGKILL when killing a process tree.',
  ),
  def(
    'orphanGraceSec',
    'ORPHAN_GRACE_SEC',
    600,
    seconds,
    "Age before an orphaned session (pattern match, or a terminal project's session) is killed.",
  ),
  def(
    'orphanSessionPatterns',
    'AGENT_ORPHAN_SESSION_PATTERNS',
    [],
    regexList,
    'Regular expressions of session names the agent owns; a matching session that no live project ' +
      'owns is an orphan. Sessions matching none are never touched.',
  ),
  def(
    'queueBlockedAfterSec',
    'QUEUE_BLOCKED_AFTER_SEC',
    300,
    seconds,
    'Queued work with nothing processing for this long reports the queue as blocked.',
  ),
  def('maxConcurrent', 'AGENT_MAX_CONCURRENT', 1, int(1, 10_000), 'Processing projects the launcher allows at once.'),
  def(
    'maxKillsPerCycle',
    'AGENT_MAX_KILLS_PER_CYCLE',
    5,
    int(0, 10_000),
    'Trees one cycle may kill; a plan over this (or over half of at least 4 processing projects) is held back.',
  ),
  def('retryBaseSec', 'AGENT_RETRY_BASE_SEC', 30, int(0, 7 * DAY), 'Base of the full-jitter exponential backoff.'),
  def('retryMaxDelaySec', 'AGENT_RETRY_MAX_DELAY_SEC', 3600, int(0, 30 * DAY), 'Cap of one backoff delay.'),
  def(
    'retryMaxAttempts',
    'AGENT_RETRY_MAX_ATTEMPTS',
    5,
    int(1, 1000),
    'Attempts before a failed project stays failed (per-project maxAttempts overrides).',
  ),
  def(
    'nonRetriableReasons',
    'AGENT_RETRY_NON_RETRIABLE_REASONS',
    ['invalid_command', 'killed_by_operator'],
    list,
    'Failure reasons that are never retried.',
  ),
  def(
    'breakerFailureThreshold',
    'AGENT_BREAKER_FAILURE_THRESHOLD',
    3,
    int(1, 1000),
    "Consecutive failures that open a project's breaker.",
  ),
  def(
    'breakerCooldownSec',
    'AGENT_BREAKER_COOLDOWN_SEC',
    1800,
    seconds,
    'Cooldown before an open breaker lets one attempt through; doubles per re-open.',
  ),
  def('breakerMaxCooldownSec', 'AGENT_BREAKER_MAX_COOLDOWN_SEC', DAY, seconds, 'Cap of the doubling breaker cooldown.'),
  def(
    'queueBreakerWindow',
    'AGENT_QUEUE_BREAKER_WINDOW',
    20,
    int(1, 10_000),
    'Finished projects the queue breaker looks back over.',
  ),
  def(
    'queueBreakerMinFinished',
    'AGENT_QUEUE_BREAKER_MIN_FINISHED',
    5,
    int(1, 10_000),
    'Finished projects needed before the queue breaker may trip.',
  ),
  def(
    'queueBreakerFailureRatio',
    'AGENT_QUEUE_BREAKER_FAILURE_RATIO',
    0.5,
    { type: 'number', min: 0.01, max: 1 },
    'Failed share of the window that pauses the queue.',
  ),
  def(
    'queueBreakerCooldownSec',
    'AGENT_QUEUE_BREAKER_COOLDOWN_SEC',
    1800,
    seconds,
    'How long the queue stays paused once tripped.',
  ),
  def(
    'completionMarkerFiles',
    'AGENT_COMPLETION_MARKER_FILES',
    ['COMPLETED', '.orchestrator/COMPLETION_MARKER'],
    list,
    'Files in projectDir whose presence decides completion (weight 1.0) when modified after the ' +
      'attempt started; an older one is reported as stale, never evidence.',
  ),
  def(
    'failureMarkerFiles',
    'AGENT_FAILURE_MARKER_FILES',
    ['FAILED'],
    list,
    'Files in projectDir whose presence decides failure when modified after the attempt started; an ' +
      'older one is reported as stale.',
  ),
  def(
    'completionGitPatterns',
    'AGENT_COMPLETION_GIT_PATTERNS',
    ['^(feat|chore|release)(\\(.*\\))?!?: .*(complete|done|finish)', '\\[orchestrator\\] complete'],
    regexList,
    'Commit subjects since startedAt that count as completion evidence (weight 0.6).',
  ),
  def(
    'completionOutputPatterns',
    'AGENT_COMPLETION_OUTPUT_PATTERNS',
    ['(?i)all (tasks|phases) (are )?(complete|completed|done)', '(?i)orchestration complete'],
    regexList,
    'Pane output lines that count as completion evidence (weight 0.5).',
  ),
  def(
    'completionErrorPatterns',
    'AGENT_COMPLETION_ERROR_PATTERNS',
    ['(?i)traceback \\(most recent call last\\)', '(?i)^fatal:', '(?i)orchestration failed'],
    regexList,
    'Pane output lines that veto output-based completion.',
  ),
  def(
    'completionExitZeroWeight',
    'AGENT_COMPLETION_EXIT_ZERO_WEIGHT',
    1.0,
    { type: 'number', min: 0, max: 1 },
    'Completion evidence weight of a command the agent launched that exited with status 0; any other ' +
      'status fails the attempt at once (exit_status).',
  ),
  def(
    'agentPatterns',
    'AGENT_CLI_PATTERNS',
    DEFAULT_AGENT_PATTERNS,
    agentPatterns,
    'Pane lines of agent CLIs (Claude Code, Codex CLI, Gemini CLI, Aider) that mean the agent waits on a prompt ' +
      '(awaiting_input) or a usage limit (rate_limited): {agent, kind, pattern} entries, the bottom-most match wins; ' +
      'setting the key replaces the defaults (sources of each: docs/agent-detection.md).',
  ),
  def(
    'agentPatternsExtra',
    'AGENT_CLI_PATTERNS_EXTRA',
    [],
    agentPatterns,
    'More {agent, kind, pattern} entries, tried before agentPatterns: extends the catalogue without repeating it.',
  ),
  def(
    'awaitingInputMaxSec',
    'AWAITING_INPUT_MAX_SEC',
    4 * 3600,
    seconds,
    "Longest pause of a project's timeout clock while its agent waits on a prompt; then the normal timeout applies.",
  ),
  def(
    'noProgressSec',
    'NO_PROGRESS_SEC',
    1800,
    positiveSeconds,
    'Pane unchanged and no heartbeat for this long reports no_progress (a warning; the normal timeout handles it).',
  ),
  def(
    'rateLimitDefaultHoldSec',
    'RATE_LIMIT_DEFAULT_HOLD_SEC',
    3600,
    seconds,
    'Hold after a usage limit whose reset time cannot be read (none printed, or an unknown time zone).',
  ),
  def(
    'rateLimitScope',
    'AGENT_RATE_LIMIT_SCOPE',
    'host',
    { type: 'enum', values: RATE_LIMIT_SCOPES },
    'What a usage limit holds until its reset: host (no launch on this host) or project (only its next attempt).',
  ),
  def(
    'evidenceTimeoutMs',
    'AGENT_EVIDENCE_TIMEOUT_MS',
    5000,
    int(100, 600_000),
    'Timeout of one completion-evidence gatherer (git, pane capture).',
  ),
  def('tmuxTimeoutMs', 'AGENT_TMUX_TIMEOUT_MS', 5000, int(100, 600_000), 'Timeout of one tmux command.'),
  def(
    'retentionDays',
    'AGENT_RETENTION_DAYS',
    7,
    int(0, 3650),
    'Terminal projects older than this move to archive.jsonl.',
  ),
  def(
    'allowForeignUsers',
    'AGENT_ALLOW_FOREIGN_USERS',
    false,
    { type: 'bool' },
    'Allow signalling processes owned by another user.',
  ),
  def(
    'metricsProjectLimit',
    'AGENT_METRICS_PROJECT_LIMIT',
    500,
    int(0, 100_000),
    'Cap on per-project metric series (non-terminal projects only).',
  ),
  def(
    'redisKeyPrefix',
    'AGENT_REDIS_KEY_PREFIX',
    'toa:',
    {
      type: 'string',
      nullable: false,
      pattern: /^[A-Za-z0-9:{}._-]{1,64}$/,
      patternText: 'letters, digits, ":", "{", "}", ".", "_", "-" (1-64)',
    },
    'Prefix of every key of a Redis registry, so several queues can share one Redis (wrap it in {} for Redis Cluster).',
  ),
  def(
    'redisTimeoutMs',
    'AGENT_REDIS_TIMEOUT_MS',
    2000,
    int(100, 60_000),
    'Connect and command timeout of a Redis registry: an unreachable Redis fails a read or write after this long.',
  ),
  def(
    'redisStreamMaxLen',
    'AGENT_REDIS_STREAM_MAXLEN',
    100_000,
    int(1000, 100_000_000),
    'Approximate number of entries kept in the audit and archive streams of a Redis registry (XADD MAXLEN ~).',
  ),
  def(
    'leaseTtlMs',
    'AGENT_LEASE_TTL_MS',
    15_000,
    int(1000, 600_000),
    'TTL of the leader lease (and the floor of per-project action leases) with a Redis registry; a ' +
      'dead leader is replaced within it.',
  ),
  def(
    'sources',
    'AGENT_SOURCES',
    [],
    { type: 'sources' },
    'Queues synced every cycle: [{kind: tmux-orchestrator, db: /path/task_queue.db}, ' +
      '{kind: tmux-sessions, pattern: "^claudesquad_"}]; JSON in the environment. See docs/sources.md.',
  ),
  def(
    'logLevel',
    'LOG_LEVEL',
    'info',
    { type: 'enum', values: ['error', 'warn', 'info', 'debug'] },
    'Log level of the JSON-lines log on stderr; when none is set, `agent serve` logs at info and ' +
      'every other command at warn.',
  ),
];

export const DEFAULT_CONFIG: Readonly<AgentConfig> = Object.freeze(
  Object.fromEntries(KEY_DEFINITIONS.map((d) => [d.key, d.default])) as unknown as AgentConfig,
);

export function keyDefinition(key: string): KeyDefinition | undefined {
  return KEY_DEFINITIONS.find((d) => d.key === key);
}
