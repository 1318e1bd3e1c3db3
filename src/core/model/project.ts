/**
 * The project record as the registry holds it (docs/design.md#the-document), in its normalised
 * in-memory form: every known field is present (null when unknown), times are
 * ISO-8601 UTC strings exactly as stored. Unknown fields an orchestrator keeps
 * ride along untouched in the index signature.
 */

export const PROJECT_STATES = ['queued', 'processing', 'timing_out', 'zombie', 'failed', 'completed'] as const;
export type ProjectState = (typeof PROJECT_STATES)[number];

/** States in which a project owns a live process or session. */
export const ACTIVE_STATES: readonly ProjectState[] = ['processing', 'timing_out', 'zombie'];
/** States that end an attempt; `failed` may still be retried. */
export const TERMINAL_STATES: readonly ProjectState[] = ['failed', 'completed'];

export function isActive(state: ProjectState): boolean {
  return ACTIVE_STATES.includes(state);
}
export function isTerminal(state: ProjectState): boolean {
  return TERMINAL_STATES.includes(state);
}

export const BREAKER_STATES = ['closed', 'open', 'half_open'] as const;
export type BreakerState = (typeof BREAKER_STATES)[number];

/** Per-project circuit breaker, persisted in the registry (docs/design.md#self-healing-policy). */
export interface BreakerRecord {
  state: BreakerState;
  consecutiveFailures: number;
  /** When the breaker last opened; null while closed. */
  openedAt: string | null;
  /** How many times it has opened since it was last closed by a success or reset. */
  opens: number;
}

export interface HistoryEntry {
  at: string;
  from: ProjectState;
  to: ProjectState;
  reason: string;
  by: string;
  [extra: string]: unknown;
}

export interface Phase {
  name: string;
  done: boolean;
  [extra: string]: unknown;
}

export const COMPLETION_METHODS = ['marker', 'exit', 'phases', 'git', 'output', 'failure_marker', 'reported'] as const;
export type CompletionMethod = (typeof COMPLETION_METHODS)[number];

/** One piece of completion evidence (docs/design.md#completion-detection). */
export interface CompletionEvidence {
  method: CompletionMethod;
  weight: number;
  detail: string;
}

export interface CompletionRecord {
  decision: 'completed' | 'failed';
  at: string;
  score: number;
  evidence: CompletionEvidence[];
}

/** A marker file in projectDir older than the attempt's start: reported, never evidence. */
export interface StaleMarker {
  method: 'marker' | 'failure_marker';
  /** The marker's name, relative to projectDir. */
  file: string;
  /** Its modification time. */
  modifiedAt: string;
}

/**
 * Where an imported project comes from (docs/sources.md): a queue the agent
 * watches but does not own. Its own scheduler launches and retries it; the
 * agent never does. Other fields a source keeps (spec path, batch) ride along.
 */
export interface ProjectSource {
  kind: 'tmux-orchestrator' | 'tmux-sessions';
  /** The configured source's name. */
  name: string;
  /** The source's key for it: the row id, or the session name. */
  ref: string;
  /** The status exactly as the source last wrote it (e.g. `credit_paused`); null when the source has none. */
  status: string | null;
  /** Whether the agent may kill its process tree and session. */
  heal: boolean;
  [extra: string]: unknown;
}

/**
 * What the AI agent in the project's pane showed, kept across cycles and
 * restarts (docs/agent-detection.md): the prompt or usage limit it waits on
 * and since when, since when its pane has not changed, and how long the
 * timeout clock was paused this attempt. Cleared when a new attempt starts.
 */
export interface AgentActivityRecord {
  finding: {
    kind: 'awaiting_input' | 'rate_limited';
    agent: string;
    /** The matched pane line (cleaned): the reason. */
    line: string;
    /** When the line was first seen. */
    since: string;
    /** rate_limited: when the limit ends; null for a prompt. */
    resetAt: string | null;
    /** rate_limited: `text` when read from the agent's words, `default` when the default hold applied. */
    resetFrom: 'text' | 'default' | null;
  } | null;
  /** The signature of the pane's bottom lines and since when it has been the same. */
  progress: { signature: string; since: string } | null;
  /** Milliseconds the timeout clock was paused by findings that already ended. */
  pausedMs: number;
}

export interface Project {
  id: string;
  name: string | null;
  state: ProjectState;
  priority: number;
  host: string | null;
  /** The session the project runs in: named by the launcher, or reported by its orchestrator. */
  session: string | null;
  /**
   * Base of the session names the launcher generates for this project
   * (`<base>-<8 hex>`, fresh at every launch); null: the project id. Set by
   * `enqueue --session` for a project with a command.
   */
  sessionBase: string | null;
  tmuxSocket: string | null;
  pid: number | null;
  pidStartTime: number | null;
  command: string[] | null;
  cwd: string | null;
  projectDir: string | null;
  enqueuedAt: string;
  startedAt: string | null;
  heartbeatAt: string | null;
  endedAt: string | null;
  timeoutExtensions: number;
  timingOutSince: string | null;
  lastSeenAliveAt: string | null;
  attempts: number;
  maxAttempts: number | null;
  nextAttemptAt: string | null;
  /** False when the last failure must not be retried (`fail --no-retry`, non-retriable reason). */
  retry: boolean;
  breaker: BreakerRecord;
  phases: Phase[];
  failureReason: string | null;
  completion: CompletionRecord | null;
  /**
   * How the command the agent launched ended, read from its tmux pane: the exit
   * status (128 + n when killed by signal n), null while unknown or for a
   * process the agent did not launch.
   */
  exitStatus: number | null;
  /** The last lines that command printed (plain text, capped), null when not read. */
  lastOutput: string[] | null;
  /** Markers of this attempt's projectDir that predate it: never evidence, shown to the operator. */
  staleMarkers: StaleMarker[];
  /** What the agent in the pane waits on, and its progress; null when nothing was read this attempt. */
  agentActivity: AgentActivityRecord | null;
  history: HistoryEntry[];
  /** Set on projects imported from a source; absent on the registry's own projects. */
  source?: ProjectSource | null;
  [extra: string]: unknown;
}

/** A project imported from a source: never launched or retried by the agent. */
export function isImported(project: Pick<Project, 'source'>): boolean {
  return project.source !== undefined && project.source !== null;
}

/** Who made a change: `agent@host`, `cli@host`, `api@host`. */
export type Actor = string;

export const HISTORY_LIMIT = 50;

export function closedBreaker(): BreakerRecord {
  return { state: 'closed', consecutiveFailures: 0, openedAt: null, opens: 0 };
}

/**
 * What an attempt leaves on its project that the next attempt must not inherit: its outcome, its output, the
 * markers it found stale, what its agent was waiting on. Empty on a new project and at every start.
 */
export function attemptOutcomeCleared(): Pick<
  Project,
  'failureReason' | 'completion' | 'exitStatus' | 'lastOutput' | 'staleMarkers' | 'agentActivity'
> {
  return {
    failureReason: null,
    completion: null,
    exitStatus: null,
    lastOutput: null,
    staleMarkers: [],
    agentActivity: null,
  };
}

/** A new queued project with every optional field at its empty value. */
export function newProject(fields: Partial<Project> & { id: string; enqueuedAt: string }): Project {
  return {
    name: null,
    state: 'queued',
    priority: 0,
    host: null,
    session: null,
    sessionBase: null,
    tmuxSocket: null,
    pid: null,
    pidStartTime: null,
    command: null,
    cwd: null,
    projectDir: null,
    startedAt: null,
    heartbeatAt: null,
    endedAt: null,
    timeoutExtensions: 0,
    timingOutSince: null,
    lastSeenAliveAt: null,
    attempts: 0,
    maxAttempts: null,
    nextAttemptAt: null,
    retry: true,
    breaker: closedBreaker(),
    phases: [],
    ...attemptOutcomeCleared(),
    history: [],
    ...fields,
  };
}

/** Id and session-name rules (docs/design.md#the-document). */
export const PROJECT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const SESSION_NAME_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
/** A tmux socket name (-L) has no slash; a socket path (-S) is absolute. */
export const SOCKET_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Milliseconds since the epoch of an ISO string, or null. */
export function ms(iso: string | null | undefined): number | null {
  if (iso === null || iso === undefined) return null;
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
}

export function iso(msSinceEpoch: number): string {
  return new Date(msSinceEpoch).toISOString();
}
