/**
 * The project lifecycle (docs/design.md#state-machine). Pure: `now` and `by` are arguments. The
 * table below is the only source of allowed moves; anything else is an
 * IllegalTransitionError and is never written.
 */
import { AgentError } from '../../errors.js';
import {
  attemptOutcomeCleared,
  HISTORY_LIMIT,
  iso,
  type Actor,
  type HistoryEntry,
  type Project,
  type ProjectState,
} from '../model/project.js';

export const TRANSITIONS: Readonly<Record<ProjectState, readonly ProjectState[]>> = {
  queued: ['processing'],
  processing: ['timing_out', 'zombie', 'failed', 'completed'],
  timing_out: ['completed', 'failed'],
  zombie: ['failed'],
  failed: ['queued'],
  completed: ['queued'],
};

export function canTransition(from: ProjectState, to: ProjectState): boolean {
  return TRANSITIONS[from].includes(to);
}

export class IllegalTransitionError extends AgentError {
  constructor(
    readonly projectId: string,
    readonly from: ProjectState,
    readonly to: ProjectState,
  ) {
    const allowed = TRANSITIONS[from];
    super(
      `project "${projectId}" cannot move from ${from} to ${to}; ` +
        `from ${from} it may move to ${allowed.length ? allowed.join(', ') : 'nothing'}`,
    );
  }
}

export interface TransitionOptions {
  /** Epoch milliseconds. */
  now: number;
  by: Actor;
  reason: string;
  /** Extra fields to set on the project in the same step (e.g. pid, failureReason). */
  patch?: Partial<Project>;
  /** Extra fields recorded on the history entry (e.g. the backoff delay drawn). */
  details?: Record<string, unknown>;
}

export type TransitionResult =
  { ok: true; project: Project; entry: HistoryEntry } | { ok: false; error: IllegalTransitionError };

/** Fields each state sets on entry, so the record always says when and why. */
function onEnter(project: Project, to: ProjectState, at: string): Partial<Project> {
  switch (to) {
    case 'processing':
      return {
        startedAt: at,
        lastSeenAliveAt: at,
        heartbeatAt: null,
        endedAt: null,
        timeoutExtensions: 0,
        timingOutSince: null,
        nextAttemptAt: null,
        ...attemptOutcomeCleared(),
        attempts: project.attempts + 1,
      };
    case 'timing_out':
      return { timingOutSince: at };
    case 'zombie':
      return {};
    case 'failed':
    case 'completed':
      return { endedAt: at, timingOutSince: null };
    case 'queued':
      return {
        pid: null,
        pidStartTime: null,
        startedAt: null,
        heartbeatAt: null,
        endedAt: null,
        timingOutSince: null,
        lastSeenAliveAt: null,
        timeoutExtensions: 0,
        nextAttemptAt: null,
      };
  }
}

/** Append to history, keeping the newest HISTORY_LIMIT entries. */
export function appendHistory(history: readonly HistoryEntry[], entry: HistoryEntry): HistoryEntry[] {
  const next = [...history, entry];
  return next.length > HISTORY_LIMIT ? next.slice(next.length - HISTORY_LIMIT) : next;
}

/**
 * Move a project to `to`. Returns the new project (the input is not changed)
 * and the history entry, or the typed error when the move is not in the table.
 */
export function transition(project: Project, to: ProjectState, options: TransitionOptions): TransitionResult {
  if (!canTransition(project.state, to)) {
    return { ok: false, error: new IllegalTransitionError(project.id, project.state, to) };
  }
  const at = iso(options.now);
  const entry: HistoryEntry = {
    ...options.details,
    at,
    from: project.state,
    to,
    reason: options.reason,
    by: options.by,
  };
  const next: Project = {
    ...project,
    ...onEnter(project, to, at),
    ...options.patch,
    state: to,
    history: appendHistory(project.history, entry),
  };
  return { ok: true, project: next, entry };
}

/** Like `transition`, but throws the IllegalTransitionError. */
export function transitionOrThrow(
  project: Project,
  to: ProjectState,
  options: TransitionOptions,
): { project: Project; entry: HistoryEntry } {
  const result = transition(project, to, options);
  if (!result.ok) throw result.error;
  return result;
}

/**
 * A note in the history that changes no state (a timeout extension, a requeue
 * delay drawn): from and to are the current state.
 */
export function annotate(project: Project, options: TransitionOptions): { project: Project; entry: HistoryEntry } {
  const entry: HistoryEntry = {
    ...options.details,
    at: iso(options.now),
    from: project.state,
    to: project.state,
    reason: options.reason,
    by: options.by,
  };
  return { project: { ...project, ...options.patch, history: appendHistory(project.history, entry) }, entry };
}
