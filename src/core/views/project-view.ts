/**
 * How a project is listed to people and programs (`agent status --json`,
 * `GET /api/projects`): the fields an operator reads, with the breaker's
 * state as of `now`, when the next attempt comes (or what holds it), and
 * since when the project is in its state. The full record stays available as is.
 */
import type { AgentConfig } from '../../config/keys.js';
import { allowsAttempt, currentState } from '../policy/breaker.js';
import { mayLaunch, type LaunchHolds } from '../rules/agent-activity/hold.js';
import { memoryOf } from '../rules/agent-activity/record.js';
import { PROJECT_STATES, iso, isActive, ms, type Project } from '../model/project.js';
import { isQueuePaused } from '../policy/queue-breaker.js';
import type { QueueBreakerRecord } from '../model/registry-document.js';
import { retryRefusal } from '../policy/retry.js';

/**
 * The next attempt of a project as it stands at `now`:
 * - `scheduled`: a retry at `at`, in the future, that nothing holds;
 * - `due`: nothing holds it: a retry runs at the next cycle (`at` is when it fell due, or null),
 *   a queued command when a launch slot is free;
 * - `held`: it would be due, but `reason` holds it (the project's breaker is open, the queue is paused,
 *   a usage limit holds launches until `until`);
 * - `never`: it will not be retried automatically (`reason`: attempts exhausted, retry disabled...);
 * - `none`: no attempt to wait for (running, completed, or queued for an orchestrator to start).
 */
export interface NextAttempt {
  status: 'scheduled' | 'due' | 'held' | 'never' | 'none';
  at: string | null;
  reason: string | null;
  /** When a usage limit's hold ends, when one holds it. */
  until?: string;
}

export function nextAttempt(
  p: Project,
  queue: QueueBreakerRecord,
  config: AgentConfig,
  now: number,
  holds: LaunchHolds | null = null,
): NextAttempt {
  const launchable = p.state === 'queued' && p.command !== null && p.command.length > 0;
  if (p.state !== 'failed' && !launchable) return { status: 'none', at: null, reason: null };
  if (p.state === 'failed') {
    const refusal = retryRefusal(p, config);
    if (refusal !== null) return { status: 'never', at: null, reason: refusal };
  }
  const at = p.state === 'failed' ? p.nextAttemptAt : null;
  const when = ms(at);
  if (!allowsAttempt(p.breaker, now, config)) return { status: 'held', at, reason: 'breaker open' };
  if (isQueuePaused(queue, now)) return { status: 'held', at, reason: 'queue paused' };
  const hold = holds === null || mayLaunch(p.id, holds, now) ? null : (holds.host ?? holds.projects.get(p.id) ?? null);
  if (hold !== null) {
    return { status: 'held', at, reason: `usage limit (project ${hold.project})`, until: iso(hold.until) };
  }
  if (when !== null && when > now) return { status: 'scheduled', at, reason: null };
  return { status: 'due', at, reason: null };
}

/**
 * When the project entered its current state: the latest history entry that
 * moved it there, or a reset (a reset of a queued project is noted without a
 * move); else `enqueuedAt`. After a reset this is the reset, not the start
 * or end of the attempt before it.
 */
export function stateSince(p: Project): string {
  for (let i = p.history.length - 1; i >= 0; i--) {
    const h = p.history[i];
    if (h && h.to === p.state && (h.from !== h.to || h.reason.startsWith('reset'))) return h.at;
  }
  return p.enqueuedAt;
}

/**
 * What the project's agent waits on at `now`, from its record: a prompt while
 * the attempt runs (until: when its timeout clock resumes), or a usage limit
 * that has not reset, whatever the state (until: the reset).
 */
export function waitingOn(p: Project, config: AgentConfig, now: number) {
  const f = memoryOf(p.agentActivity).finding;
  if (f === null) return null;
  const view = { kind: f.kind, agent: f.agent, line: f.line, since: iso(f.since) };
  if (f.kind === 'awaiting_input') {
    return isActive(p.state) ? { ...view, until: iso(f.since + config.awaitingInputMaxSec * 1000) } : null;
  }
  return f.resetAt !== null && f.resetAt > now ? { ...view, until: iso(f.resetAt) } : null;
}

export function projectRow(
  p: Project,
  config: AgentConfig,
  now: number,
  queue: QueueBreakerRecord,
  holds: LaunchHolds | null = null,
) {
  return {
    id: p.id,
    name: p.name,
    state: p.state,
    /** When it entered this state (see stateSince). */
    since: stateSince(p),
    priority: p.priority,
    host: p.host,
    attempts: p.attempts,
    maxAttempts: p.maxAttempts ?? config.retryMaxAttempts,
    nextAttemptAt: p.nextAttemptAt,
    nextAttempt: nextAttempt(p, queue, config, now, holds),
    breaker: currentState(p.breaker, now, config),
    session: p.session,
    tmuxSocket: p.tmuxSocket,
    pid: p.pid,
    enqueuedAt: p.enqueuedAt,
    startedAt: p.startedAt,
    heartbeatAt: p.heartbeatAt,
    endedAt: p.endedAt,
    failureReason: p.failureReason,
    exitStatus: p.exitStatus,
    lastOutput: p.lastOutput,
    staleMarkers: p.staleMarkers,
    /** The prompt or usage limit its agent waits on, with the pane line; null when none. */
    waitingOn: waitingOn(p, config, now),
  };
}

const stateOrder = (p: Project): number => PROJECT_STATES.indexOf(p.state);

/** Display order: by state (queued first), then priority (highest first), then age. */
export function displayOrder(projects: readonly Project[]): Project[] {
  return [...projects].sort(
    (a, b) => stateOrder(a) - stateOrder(b) || b.priority - a.priority || a.enqueuedAt.localeCompare(b.enqueuedAt),
  );
}
