/**
 * How a project is listed to people and programs (`agent status --json`,
 * `GET /api/projects`): the fields an operator reads, with the breaker's
 * state as of `now`. The full record stays available as is.
 */
import type { AgentConfig } from '../config/keys.js';
import { currentState } from './breaker.js';
import { PROJECT_STATES, type Project } from './project.js';

export function projectRow(p: Project, config: AgentConfig, now: number) {
  return {
    id: p.id,
    name: p.name,
    state: p.state,
    priority: p.priority,
    host: p.host,
    attempts: p.attempts,
    maxAttempts: p.maxAttempts ?? config.retryMaxAttempts,
    nextAttemptAt: p.nextAttemptAt,
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
  };
}

const stateOrder = (p: Project): number => PROJECT_STATES.indexOf(p.state);

/** Display order: by state (queued first), then priority (highest first), then age. */
export function displayOrder(projects: readonly Project[]): Project[] {
  return [...projects].sort((a, b) => stateOrder(a) - stateOrder(b) || b.priority - a.priority || a.enqueuedAt.localeCompare(b.enqueuedAt));
}
