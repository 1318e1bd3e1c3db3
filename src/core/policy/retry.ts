/**
 * Retries of failed projects (docs/design.md#self-healing-policy). Pure: `now` (epoch ms) and the
 * random source are arguments.
 *
 * Two halves: `onProjectFailed` / `onProjectCompleted` give the fields the
 * commit sets whenever a project enters failed or completed, however it got
 * there (detector, report, operator), so the breaker counts every failure;
 * `planRetries` runs each cycle and requeues the failed projects that are due.
 */
import type { AgentConfig } from '../../config/keys.js';
import { backoffOptions, fullJitterDelaySec, type RandomSource } from './backoff.js';
import { allowsAttempt, currentState, recordFailure, recordSuccess, type BreakerConfig } from './breaker.js';
import type { PlannedTransition, PlannedUpdate } from '../model/plan.js';
import { iso, isImported, ms, type Project } from '../model/project.js';
import { limitedFailure } from '../rules/agent-activity/observe.js';
import { isQueuePaused, RATE_LIMITED_MARK } from './queue-breaker.js';
import type { QueueBreakerRecord } from '../model/registry-document.js';

export type RetryConfig = BreakerConfig &
  Pick<AgentConfig, 'retryBaseSec' | 'retryMaxDelaySec' | 'retryMaxAttempts' | 'nonRetriableReasons'>;

/** Why a failed project will never be requeued automatically; null when it may be. */
export function retryRefusal(project: Project, config: RetryConfig): string | null {
  if (isImported(project)) return 'imported: its own scheduler retries it';
  if (!project.retry) return 'retry disabled';
  if (project.failureReason !== null && config.nonRetriableReasons.includes(project.failureReason)) {
    return `failure reason "${project.failureReason}" is not retriable`;
  }
  const max = project.maxAttempts ?? config.retryMaxAttempts;
  if (project.attempts >= max) return `attempts exhausted (${project.attempts} of ${max})`;
  return null;
}

export function isRetriable(project: Project, config: RetryConfig): boolean {
  return retryRefusal(project, config) === null;
}

/** The delay drawn, rounded to whole milliseconds so the stored time and the recorded delay agree. */
function drawDelayMs(attempts: number, config: RetryConfig, random: RandomSource): number {
  return Math.round(fullJitterDelaySec(attempts, backoffOptions(config), random) * 1000);
}

export interface FinishPatch {
  /** Fields to set together with the move. */
  patch: Partial<Project>;
  /** Fields for the move's history entry (the backoff delay drawn). */
  details: Record<string, unknown>;
}

/**
 * The fields set when `project` enters failed at `now`. Pass the project as
 * it will be after the move (its `failureReason` and `retry` already set), so
 * a non-retriable failure schedules nothing. The breaker counts the failure
 * whether or not a retry follows.
 */
export function onProjectFailed(project: Project, now: number, config: RetryConfig, random: RandomSource): FinishPatch {
  // An imported project's breaker would gate retries and launches the agent never makes.
  if (isImported(project)) return { patch: { nextAttemptAt: null }, details: {} };
  // A usage limit covers the account, not the project: never counted (the queue breaker skips it by this mark).
  const limited = limitedFailure(project, now);
  const breaker = limited ? project.breaker : recordFailure(project.breaker, now, config);
  const details: Record<string, unknown> = limited ? { [RATE_LIMITED_MARK]: true } : {};
  if (breaker.state === 'open' && project.breaker.state !== 'open') details['breaker'] = 'opened';
  else if (breaker.opens > project.breaker.opens) details['breaker'] = 'reopened';
  if (!isRetriable(project, config)) return { patch: { breaker, nextAttemptAt: null }, details };
  const delayMs = drawDelayMs(project.attempts, config, random);
  return { patch: { breaker, nextAttemptAt: iso(now + delayMs) }, details: { ...details, delaySec: delayMs / 1000 } };
}

/** The fields set when `project` enters completed: the breaker closes, nothing is scheduled. */
export function onProjectCompleted(project: Project): FinishPatch {
  return { patch: { breaker: recordSuccess(project.breaker), nextAttemptAt: null }, details: {} };
}

export interface RetryPlan {
  transitions: PlannedTransition[];
  updates: PlannedUpdate[];
}

/**
 * For each failed project that may be retried: without a `nextAttemptAt`
 * (failed before this policy, or by a writer that did not schedule), draw one
 * from `endedAt` (or now when unknown). Once due, and while the project's
 * breaker allows an attempt (closed, or half-open) and the queue is not
 * paused, requeue it (reason `retry`, details `{ attempt, delaySec }`, where
 * `attempt` is the number the next run will carry). A schedule drawn this
 * cycle that is already due is requeued at once rather than a cycle later.
 */
export function planRetries(
  projects: readonly Project[],
  queue: QueueBreakerRecord,
  config: RetryConfig,
  now: number,
  random: RandomSource,
): RetryPlan {
  const plan: RetryPlan = { transitions: [], updates: [] };
  const paused = isQueuePaused(queue, now);
  for (const project of projects) {
    if (project.state !== 'failed' || !isRetriable(project, config)) continue;
    const endedAt = ms(project.endedAt);
    let nextAttemptAt = ms(project.nextAttemptAt);
    let drawn = false;
    if (nextAttemptAt === null) {
      nextAttemptAt = (endedAt ?? now) + drawDelayMs(project.attempts, config, random);
      drawn = true;
    }
    const delaySec = endedAt === null && !drawn ? null : (nextAttemptAt - (endedAt ?? now)) / 1000;
    const allowed = now >= nextAttemptAt && !paused && allowsAttempt(project.breaker, now, config);
    if (allowed) {
      const details: Record<string, unknown> = { attempt: project.attempts + 1, delaySec };
      if (currentState(project.breaker, now, config) === 'half_open') details['breaker'] = 'half_open';
      plan.transitions.push({ project: project.id, from: 'failed', to: 'queued', reason: 'retry', details });
    } else if (drawn) {
      plan.updates.push({
        project: project.id,
        patch: { nextAttemptAt: iso(nextAttemptAt) },
        note: 'retry_scheduled',
        details: { attempt: project.attempts + 1, delaySec },
      });
    }
  }
  return plan;
}
