/**
 * A Plan is what one cycle decided, before anything is executed (docs/architecture.md#one-cycle):
 * state moves, field updates, destructive actions, and the stuck conditions it
 * saw. Every item carries a human-readable reason.
 */
import type { CompletionRecord, Project, ProjectState, StaleMarker } from './project.js';

/** A state move applied at commit time, unconditionally. */
export interface PlannedTransition {
  project: string;
  from: ProjectState;
  to: ProjectState;
  reason: string;
  /** Fields set together with the move (failureReason, completion, nextAttemptAt...). */
  patch?: Partial<Project>;
  /** Extra fields for the history entry (e.g. `delaySec` of a requeue). */
  details?: Record<string, unknown>;
}

/** A field update that is not a state move (lastSeenAliveAt, an extension). */
export interface PlannedUpdate {
  project: string;
  patch: Partial<Project>;
  /** When set, a history note (from = to = current state) is appended with this reason. */
  note?: string;
  details?: Record<string, unknown>;
}

/** The move applied when an action succeeds (e.g. zombie -> failed after the kill). */
export interface FollowUp {
  to: ProjectState;
  reason: string;
  patch?: Partial<Project>;
}

interface ActionBase {
  /** The project the action serves; null for an orphan session nobody owns. */
  project: string | null;
  reason: string;
  then?: FollowUp;
}

/** Kill a process tree rooted at `pid`, only if its start time is still `pidStartTime`. */
export interface KillTreeAction extends ActionBase {
  kind: 'kill_tree';
  pid: number;
  pidStartTime: number;
  /** Also kill this session afterwards (exact target). */
  session: string | null;
  tmuxSocket: string | null;
}

/** Kill a tmux session by exact name. */
export interface KillSessionAction extends ActionBase {
  kind: 'kill_session';
  session: string;
  tmuxSocket: string | null;
}

/** Start a queued project's command in a new tmux session. */
export interface LaunchAction extends ActionBase {
  kind: 'launch';
  project: string;
  session: string;
  tmuxSocket: string | null;
  cwd: string | null;
  command: string[];
}

export type HealAction = KillTreeAction | KillSessionAction | LaunchAction;
export type HealActionKind = HealAction['kind'];

/** Destructive actions are subject to the guard; launches are not destructive. */
export function isDestructive(action: HealAction): boolean {
  return action.kind === 'kill_tree' || action.kind === 'kill_session';
}

/**
 * What a cycle reports as stuck. The last three are read from the agent's
 * pane (docs/agent-detection.md): a prompt, a usage limit, no progress.
 */
export const STUCK_KINDS = [
  'zombie',
  'phantom',
  'timing_out',
  'heartbeat_stale',
  'orphan_session',
  'defunct_process',
  'awaiting_input',
  'rate_limited',
  'no_progress',
] as const;
export type StuckKind = (typeof STUCK_KINDS)[number];

/** A stuck condition seen this cycle, reported whether or not anything is done about it. */
export interface Detection {
  kind: StuckKind;
  project: string | null;
  session: string | null;
  tmuxSocket: string | null;
  pid: number | null;
  /** For awaiting_input and rate_limited, the matched pane line itself. */
  reason: string;
  /** awaiting_input, rate_limited: the agent CLI the line belongs to. */
  agent?: string;
  /** awaiting_input, rate_limited, no_progress: since when (the line first seen, the pane unchanged). */
  since?: string;
  /** awaiting_input: when the timeout clock resumes; rate_limited: the reset. */
  until?: string;
}

/** An action the guard held back, with why. */
export interface BlockedAction {
  action: HealAction;
  reason: GuardReason;
  detail: string;
}

export const GUARD_REASONS = [
  'scan_failed',
  'too_many_kills',
  'too_many_processing',
  'foreign_user',
  'protected_pid',
  'pid_unverified',
  'invalid_session',
  'queue_paused',
] as const;
export type GuardReason = (typeof GUARD_REASONS)[number];

export interface Plan {
  transitions: PlannedTransition[];
  updates: PlannedUpdate[];
  actions: HealAction[];
  detections: Detection[];
  /** Completion decisions taken this cycle, by project id (also carried in transitions' patches). */
  completions: Map<string, CompletionRecord>;
  /** Marker files seen this cycle that predate their project's attempt: ignored, reported. Not a stuck kind. */
  staleMarkers: StaleMarkerNotice[];
}

/** One project's stale markers, as a cycle reports them. */
export interface StaleMarkerNotice {
  project: string;
  startedAt: string | null;
  markers: StaleMarker[];
  reason: string;
}

export function emptyPlan(): Plan {
  return { transitions: [], updates: [], actions: [], detections: [], completions: new Map(), staleMarkers: [] };
}
