/**
 * Queue health (docs/design.md#self-healing-policy): is queued work waiting with nothing running?
 * Pure: the caller keeps `blockedSince` between cycles and passes it back.
 *
 * A failed registry read or scan is never read as "something is active" (which
 * would hide a stuck queue) nor as "nothing is queued" (same): the status is
 * `error`, said out loud. With an unreadable registry the counts are unknown
 * (null, never 0) and the blocked clock is kept as it was, so a queue blocked
 * before the error is still reported blocked for the right duration after it.
 * A scan error alone does not change the counts (they come from the
 * registry), so `blocked` is still computed and reported next to `error`.
 */
import type { AgentConfig } from '../../config/keys.js';
import { mayLaunch, type LaunchHold, type LaunchHolds } from './agent-activity/hold.js';
import { iso, isActive, type Project } from '../model/project.js';
import { isManualPause, isQueuePaused, pausedByText } from '../policy/queue-breaker.js';
import type { QueueBreakerRecord } from '../model/registry-document.js';

export interface QueueHealthInput {
  /** Every scan source succeeded this cycle. */
  scanOk: boolean;
  /** The registry was read and validated this cycle. */
  registryOk: boolean;
  /** When the queue was first seen waiting with nothing active (epoch ms), from the last call; null if it was not. */
  blockedSince: number | null;
  /** Launch holds of usage limits: a queue whose every queued project is held waits for the reset, unblocked. */
  holds?: LaunchHolds | null;
}

export type QueueHealthStatus =
  /** Nothing queued. */
  | 'idle'
  /** Queued work and something active. */
  | 'running'
  /** The queue breaker, or an operator, holds the queue. */
  | 'paused'
  /** A usage limit an agent hit holds every queued launch until its reset. */
  | 'held'
  /** Queued, nothing active, not yet for `queueBlockedAfterSec`. */
  | 'waiting'
  | 'blocked'
  /** A registry or scan error: see `reason`. */
  | 'error';

export interface QueueHealth {
  status: QueueHealthStatus;
  /** Queued projects; null when the registry could not be read. */
  queued: number | null;
  /** Projects holding a process or session (processing, timing_out, zombie); null when unknown. */
  processing: number | null;
  /** Queue breaker open; null when unknown. */
  paused: boolean | null;
  /** Queued > 0, nothing active, not paused, for at least `queueBlockedAfterSec`. */
  blocked: boolean;
  /** Keep and pass back next cycle. */
  blockedSince: number | null;
  reason: string;
}

export function queueHealth(
  projects: readonly Project[],
  queue: QueueBreakerRecord,
  config: Pick<AgentConfig, 'queueBlockedAfterSec'>,
  now: number,
  input: QueueHealthInput,
): QueueHealth {
  if (!input.registryOk) {
    const scan = input.scanOk ? '' : '; the scan failed too';
    return {
      status: 'error',
      queued: null,
      processing: null,
      paused: null,
      blocked: false,
      blockedSince: input.blockedSince,
      reason: `registry unreadable: queue state unknown${scan}`,
    };
  }
  const queued = projects.filter((p) => p.state === 'queued').length;
  const processing = projects.filter((p) => isActive(p.state)).length;
  const paused = isQueuePaused(queue, now);
  const hold = heldUntil(projects, input.holds ?? null, now);
  const waiting = queued > 0 && processing === 0 && !paused && hold === null;
  const blockedSince = waiting ? (input.blockedSince ?? now) : null;
  const waitedSec = blockedSince === null ? 0 : (now - blockedSince) / 1000;
  const blocked = waiting && waitedSec >= config.queueBlockedAfterSec;

  let status: QueueHealthStatus;
  let reason: string;
  if (blocked) {
    status = 'blocked';
    reason =
      `${queued} queued and nothing active for ${Math.floor(waitedSec)}s ` + `(limit ${config.queueBlockedAfterSec}s)`;
  } else if (waiting) {
    status = 'waiting';
    reason = `${queued} queued and nothing active for ${Math.floor(waitedSec)}s`;
  } else if (paused) {
    status = 'paused';
    const until = queue.resumeAt ?? (isManualPause(queue) ? 'resumed' : 'it is evaluated');
    reason = `queue paused by ${pausedByText(queue)} until ${until}`;
  } else if (hold !== null && queued > 0) {
    status = 'held';
    const limit = `(project ${hold.project}: ${hold.line})`;
    reason = `${queued} queued, launches held by a usage limit until ${iso(hold.until)} ${limit}`;
  } else if (queued === 0) {
    status = 'idle';
    reason = 'nothing queued';
  } else {
    status = 'running';
    reason = `${queued} queued, ${processing} active`;
  }
  if (!input.scanOk) {
    return {
      status: 'error',
      queued,
      processing,
      paused,
      blocked,
      blockedSince,
      reason: `scan failed; from the registry: ${reason}`,
    };
  }
  return { status, queued, processing, paused, blocked, blockedSince, reason };
}

/** The hold that keeps every queued project of the agent's from launching (the latest one), or null. */
function heldUntil(projects: readonly Project[], holds: LaunchHolds | null, now: number): LaunchHold | null {
  if (holds === null) return null;
  const queued = projects.filter((p) => p.state === 'queued');
  if (queued.length === 0 || queued.some((p) => mayLaunch(p.id, holds, now))) return null;
  let latest: LaunchHold | null = holds.host !== null && now < holds.host.until ? holds.host : null;
  for (const p of queued) {
    const own = holds.projects.get(p.id);
    if (own !== undefined && now < own.until && (latest === null || own.until > latest.until)) latest = own;
  }
  return latest;
}
