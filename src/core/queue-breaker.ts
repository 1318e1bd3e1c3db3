/**
 * The queue breaker (DESIGN §7): when too many recent attempts failed, pause
 * the whole queue (no requeues, no launches) for a cooldown.
 *
 * What counts as a finished attempt: every history entry that moves a project
 * into `failed` or `completed` (annotations, where from = to, are not moves).
 * A project retried three times that failed three times is three failures, not
 * one — counting projects by `endedAt` would hide a project that keeps failing.
 * A terminal project with no such entry (imported, or its history trimmed)
 * counts once, at its `endedAt`.
 *
 * No re-trip on old failures: once a pause has ended, only attempts that
 * finished at or after its `resumeAt` count toward the next trip. Attempts that
 * finished during the pause (launched before it, most likely the same fault)
 * do not count either, so a resumed queue gets a fresh window.
 *
 * Imported projects (`source` set) do not count: their failures are their own
 * scheduler's, and a pause would hold only the agent's own launches.
 */
import type { AgentConfig } from '../config/keys.js';
import { iso, isImported, ms, type Project } from './project.js';
import type { QueueBreakerRecord } from './registry-document.js';

export type QueueBreakerConfig = Pick<
  AgentConfig,
  'queueBreakerWindow' | 'queueBreakerMinFinished' | 'queueBreakerFailureRatio' | 'queueBreakerCooldownSec'
>;

/** One finished attempt. */
export interface FinishedAttempt {
  project: string;
  at: number;
  outcome: 'failed' | 'completed';
}

/**
 * Every finished attempt in the registry at or after `since` (epoch ms; null
 * for all), newest first; ties broken by project id so the window is stable.
 */
export function finishedAttempts(projects: readonly Project[], since: number | null): FinishedAttempt[] {
  const out: FinishedAttempt[] = [];
  for (const p of projects) {
    let found = false;
    for (const h of p.history) {
      if (h.from === h.to || (h.to !== 'failed' && h.to !== 'completed')) continue;
      found = true;
      const at = ms(h.at);
      if (at !== null && (since === null || at >= since)) out.push({ project: p.id, at, outcome: h.to });
    }
    if (!found && (p.state === 'failed' || p.state === 'completed')) {
      const at = ms(p.endedAt);
      if (at !== null && (since === null || at >= since)) out.push({ project: p.id, at, outcome: p.state });
    }
  }
  return out.sort((a, b) => b.at - a.at || (a.project < b.project ? -1 : a.project > b.project ? 1 : 0));
}

/** Paused at `now`: the record says so and its cooldown has not ended. An unreadable `resumeAt` stays paused until evaluated. */
export function isQueuePaused(queue: QueueBreakerRecord, now: number): boolean {
  if (!queue.paused) return false;
  const resumeAt = ms(queue.resumeAt);
  return resumeAt === null || now < resumeAt;
}

export interface QueueBreakerEvaluation {
  queue: QueueBreakerRecord;
  /** What changed this evaluation (for the audit line, metric and alert). */
  event: 'tripped' | 'resumed' | null;
  /** The window that was judged (empty while paused). */
  finished: number;
  failed: number;
}

/**
 * Evaluate the queue breaker at `now`. Paused: resume once `now ≥ resumeAt`
 * (a missing `resumeAt` is derived from `pausedAt` + cooldown, or taken as
 * due). Running: look at the newest `queueBreakerWindow` attempts finished
 * since the last `resumeAt`; with at least `queueBreakerMinFinished` of them
 * and a failed share ≥ `queueBreakerFailureRatio`, pause until now + cooldown.
 * A resumed queue that fills the minimum window without tripping has run
 * cleanly: `opens` goes back to 0. The window is judged in the same call as a
 * resume, but with the fresh boundary, so it can only trip on attempts that
 * finished after the pause ended (e.g. while the agent itself was down).
 */
export function evaluateQueueBreaker(
  projects: readonly Project[],
  queue: QueueBreakerRecord,
  config: QueueBreakerConfig,
  now: number,
): QueueBreakerEvaluation {
  let current = queue;
  let event: QueueBreakerEvaluation['event'] = null;
  if (current.paused) {
    const pausedAt = ms(current.pausedAt);
    const resumeAt = ms(current.resumeAt) ?? (pausedAt === null ? now : pausedAt + config.queueBreakerCooldownSec * 1000);
    if (now < resumeAt) {
      const repaired = current.resumeAt === iso(resumeAt) ? current : { ...current, resumeAt: iso(resumeAt) };
      return { queue: repaired, event: null, finished: 0, failed: 0 };
    }
    current = { ...current, paused: false, pausedAt: null, resumeAt: iso(resumeAt) };
    event = 'resumed';
  }

  const own = projects.filter((p) => !isImported(p));
  const window = finishedAttempts(own, ms(current.resumeAt)).slice(0, config.queueBreakerWindow);
  const failures = window.filter((a) => a.outcome === 'failed');
  const enough = window.length >= config.queueBreakerMinFinished;
  if (enough && failures.length / window.length >= config.queueBreakerFailureRatio) {
    const trippedBy = [...new Set(failures.map((a) => a.project))];
    const tripped: QueueBreakerRecord = {
      ...current,
      paused: true,
      pausedAt: iso(now),
      resumeAt: iso(now + config.queueBreakerCooldownSec * 1000),
      opens: current.opens + 1,
      trippedBy,
    };
    return { queue: tripped, event: 'tripped', finished: window.length, failed: failures.length };
  }
  if (enough && current.opens > 0) current = { ...current, opens: 0 };
  return { queue: current, event, finished: window.length, failed: failures.length };
}
