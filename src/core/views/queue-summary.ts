/**
 * The queue as an operator sees it: counts by state, the queue breaker, and
 * whether queued work is waiting with nothing running. Derived from the
 * registry alone, so the CLI, the API and the daemon agree.
 */
import type { AgentConfig } from '../../config/keys.js';
import { currentState } from '../policy/breaker.js';
import { retryRefusal } from '../policy/retry.js';
import { hostLaunchHolds } from '../rules/agent-activity/observe.js';
import type { LaunchHolds } from '../rules/agent-activity/hold.js';
import { PROJECT_STATES, iso, isActive, ms, type Project, type ProjectState } from '../model/project.js';
import { isLocal } from '../rules/reconcile.js';
import { queueHealth, type QueueHealth } from '../rules/queue-health.js';
import { isManualPause } from '../policy/queue-breaker.js';
import { PAUSED_BY_BREAKER, type RegistryDocument } from '../model/registry-document.js';

export interface QueueSummary {
  counts: Record<ProjectState, number>;
  health: QueueHealth;
  /** Breaker states of the projects that may still run (completed and non-retriable failed ones excluded). */
  breakers: { closed: number; open: number; half_open: number };
  paused: boolean;
  /** When a pause ends; null while running, or while a manual pause lasts until resumed. */
  resumeAt: string | null;
  /** Who paused it (`breaker`, or the actor of `agent queue pause`); null while running. */
  pausedBy: string | null;
  trippedBy: string[];
  oldestQueuedAt: string | null;
  /** The usage limit that holds launches on this host (the latest reset), or null. */
  launchHold: LaunchHoldView | null;
}

/** A launch hold as people and programs read it. */
export interface LaunchHoldView {
  until: string;
  scope: 'host' | 'project';
  /** The limited project and its pane line. */
  project: string;
  line: string;
}

/** The hold to show: the host's, else the project hold that lasts longest. */
export function launchHoldView(holds: LaunchHolds): LaunchHoldView | null {
  let hold = holds.host;
  for (const h of holds.projects.values()) if (hold === null || h.until > hold.until) hold = h;
  return hold === null ? null : { until: iso(hold.until), scope: hold.scope, project: hold.project, line: hold.line };
}

/** When a project last entered its current state (history, else enqueuedAt). */
export function enteredStateAt(project: Project): number | null {
  for (let i = project.history.length - 1; i >= 0; i--) {
    const entry = project.history[i];
    if (entry && entry.to === project.state && entry.from !== entry.to) return ms(entry.at);
  }
  return ms(project.enqueuedAt);
}

/**
 * Since when queued work has been waiting with nothing active: the later of
 * "the last active project left" and "the oldest queued project entered
 * queued". Null when something is active or nothing is queued.
 */
export function waitingSince(projects: readonly Project[]): number | null {
  if (projects.some((p) => isActive(p.state))) return null;
  const queued = projects.filter((p) => p.state === 'queued');
  if (queued.length === 0) return null;
  const oldestQueued = Math.min(...queued.map((p) => enteredStateAt(p) ?? Infinity));
  let lastActiveEnded = -Infinity;
  for (const p of projects) {
    const ended = ms(p.endedAt);
    if (ended !== null && ended > lastActiveEnded) lastActiveEnded = ended;
  }
  const since = Math.max(oldestQueued, lastActiveEnded);
  return Number.isFinite(since) ? since : null;
}

/**
 * The queue at `now`. Launch holds come from the usage limits recorded on the
 * projects of `status.hostId` (every project when it is not given).
 */
export function summariseQueue(
  doc: RegistryDocument,
  config: AgentConfig,
  now: number,
  status: { scanOk: boolean; hostId?: string } = { scanOk: true },
): QueueSummary {
  const counts = Object.fromEntries(PROJECT_STATES.map((s) => [s, 0])) as Record<ProjectState, number>;
  const breakers = { closed: 0, open: 0, half_open: 0 };
  let oldest: number | null = null;
  for (const p of doc.projects) {
    counts[p.state] += 1;
    // A breaker matters only while the project may run again: not once completed or out of retries.
    if (p.state !== 'completed' && !(p.state === 'failed' && retryRefusal(p, config) !== null))
      breakers[currentState(p.breaker, now, config)] += 1;
    if (p.state === 'queued') {
      const t = ms(p.enqueuedAt);
      if (t !== null && (oldest === null || t < oldest)) oldest = t;
    }
  }
  const holds = hostLaunchHolds(doc.projects, now, config.rateLimitScope, (p) => isLocal(p, status.hostId));
  const health = queueHealth(doc.projects, doc.queue, config, now, {
    scanOk: status.scanOk,
    registryOk: true,
    blockedSince: waitingSince(doc.projects),
    holds,
  });
  return {
    counts,
    health,
    breakers,
    paused: health.paused === true,
    resumeAt: health.paused ? doc.queue.resumeAt : null,
    // A record written before pausedBy existed was paused by the breaker.
    pausedBy: health.paused ? (doc.queue.pausedBy ?? PAUSED_BY_BREAKER) : null,
    trippedBy: health.paused && !isManualPause(doc.queue) ? doc.queue.trippedBy : [],
    oldestQueuedAt: oldest === null ? null : new Date(oldest).toISOString(),
    launchHold: launchHoldView(holds),
  };
}
