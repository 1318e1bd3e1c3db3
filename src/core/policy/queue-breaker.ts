/**
 * The queue breaker: when too many recently finished projects
 * failed, pause the whole queue (no requeues, no launches) for a cooldown.
 * An operator can pause and resume the queue by hand as well
 * (`agent queue pause [--until T]`, `agent queue resume`).
 *
 * What counts: each finished project once, by its latest outcome — the last
 * history entry that moves it into `failed` or `completed` (annotations,
 * where from = to, are not moves). One flaky project retried five times is
 * one failed project, not five failures: it must not pause the whole queue.
 * A terminal project with no such entry (imported, or its history trimmed)
 * counts at its `endedAt`.
 *
 * No re-trip on old outcomes: once a pause has ended, only projects whose
 * latest outcome came at or after its `resumeAt` count toward the next trip.
 * Projects that finished during the pause (launched before it, most likely
 * the same fault) do not count either, so a resumed queue gets a fresh window.
 *
 * Imported projects (`source` set) do not count: their failures are their own
 * scheduler's, and a pause would hold only the agent's own launches.
 */
import type { AgentConfig } from '../../config/keys.js';
import { InputError } from '../../errors.js';
import { iso, isImported, ms, type Actor, type Project } from '../model/project.js';
import { PAUSED_BY_BREAKER, type QueueBreakerRecord } from '../model/registry-document.js';

export type QueueBreakerConfig = Pick<
  AgentConfig,
  'queueBreakerWindow' | 'queueBreakerMinFinished' | 'queueBreakerFailureRatio' | 'queueBreakerCooldownSec'
>;

/** A finished project, by its latest outcome. */
export interface FinishedProject {
  project: string;
  at: number;
  outcome: 'failed' | 'completed';
}

/** History field of a move to failed that came under a usage limit: neither breaker counts it. */
export const RATE_LIMITED_MARK = 'rateLimited';

/**
 * A project's latest finish: its last move into failed or completed, else its
 * endedAt when terminal. A failure under a usage limit (marked `rateLimited`)
 * is no outcome of the project's own: the project does not count.
 */
function latestFinish(p: Project): FinishedProject | null {
  for (let i = p.history.length - 1; i >= 0; i--) {
    const h = p.history[i];
    if (!h || h.from === h.to || (h.to !== 'failed' && h.to !== 'completed')) continue;
    if (h.to === 'failed' && h[RATE_LIMITED_MARK] === true) return null;
    const at = ms(h.at);
    return at === null ? null : { project: p.id, at, outcome: h.to };
  }
  const at = ms(p.endedAt);
  if (at === null || (p.state !== 'failed' && p.state !== 'completed')) return null;
  return { project: p.id, at, outcome: p.state };
}

/**
 * Every project whose latest outcome came at or after `since` (epoch ms; null
 * for all), newest first; ties broken by project id so the window is stable.
 */
export function finishedProjects(projects: readonly Project[], since: number | null): FinishedProject[] {
  const out: FinishedProject[] = [];
  for (const p of projects) {
    const f = latestFinish(p);
    if (f !== null && (since === null || f.at >= since)) out.push(f);
  }
  return out.sort((a, b) => b.at - a.at || (a.project < b.project ? -1 : a.project > b.project ? 1 : 0));
}

/** A pause an operator started (it has no cooldown: without `resumeAt` it lasts until resumed). */
export function isManualPause(queue: QueueBreakerRecord): boolean {
  return queue.paused && queue.pausedBy !== null && queue.pausedBy !== PAUSED_BY_BREAKER;
}

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
 * (a manual pause without `resumeAt` lasts until resumed by hand; a breaker's
 * missing `resumeAt` is derived from `pausedAt` + cooldown, or taken as due).
 * Running: look at the newest `queueBreakerWindow` projects finished since
 * the last `resumeAt`; with at least `queueBreakerMinFinished` of them
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
    const untilResumed = isManualPause(current) && current.resumeAt === null;
    if (untilResumed) return { queue: current, event: null, finished: 0, failed: 0 };
    const pausedAt = ms(current.pausedAt);
    const resumeAt =
      ms(current.resumeAt) ?? (pausedAt === null ? now : pausedAt + config.queueBreakerCooldownSec * 1000);
    if (now < resumeAt) {
      const repaired = current.resumeAt === iso(resumeAt) ? current : { ...current, resumeAt: iso(resumeAt) };
      return { queue: repaired, event: null, finished: 0, failed: 0 };
    }
    current = { ...current, paused: false, pausedAt: null, resumeAt: iso(resumeAt), pausedBy: null };
    event = 'resumed';
  }

  const own = projects.filter((p) => !isImported(p));
  const window = finishedProjects(own, ms(current.resumeAt)).slice(0, config.queueBreakerWindow);
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
      pausedBy: PAUSED_BY_BREAKER,
    };
    return { queue: tripped, event: 'tripped', finished: window.length, failed: failures.length };
  }
  if (enough && current.opens > 0) current = { ...current, opens: 0 };
  return { queue: current, event, finished: window.length, failed: failures.length };
}

/**
 * `agent queue pause`: paused by `by` from `now` until `until` (epoch ms), or
 * until resumed by hand when null. A pause already in force is replaced; the
 * breaker's trip count and last `trippedBy` are kept.
 */
export function pauseQueue(
  queue: QueueBreakerRecord,
  now: number,
  by: Actor,
  until: number | null,
): QueueBreakerRecord {
  return { ...queue, paused: true, pausedAt: iso(now), resumeAt: until === null ? null : iso(until), pausedBy: by };
}

/**
 * `agent queue resume`: running again from `now`, which starts the breaker's
 * next window (what finished before it never counts toward a trip). A queue
 * that is not paused is returned unchanged.
 */
export function resumeQueue(queue: QueueBreakerRecord, now: number): QueueBreakerRecord {
  if (!isQueuePaused(queue, now)) return queue;
  return { ...queue, paused: false, pausedAt: null, resumeAt: iso(now), pausedBy: null };
}

/** Who holds a paused queue, in words: "the queue breaker" or the actor. */
export function pausedByText(queue: QueueBreakerRecord): string {
  return queue.pausedBy === null || queue.pausedBy === PAUSED_BY_BREAKER ? 'the queue breaker' : queue.pausedBy;
}

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d{1,9})([smhd])$/;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const UNTIL_RULE =
  'must be an ISO-8601 time with its zone (e.g. 2026-12-04T18:00:00Z) or a duration (e.g. 30m, 2h; units s, m, h, d)';

/**
 * When a manual pause ends (epoch ms), from an ISO-8601 time or a duration
 * from `now`. Anything else, a time not in the future, or more than a year
 * ahead is an InputError naming what is allowed.
 */
export function parsePauseEnd(text: string, now: number): number {
  const shown = JSON.stringify(text.length > 40 ? `${text.slice(0, 37)}...` : text);
  const d = DURATION.exec(text);
  const refuse = (why: string): InputError =>
    new InputError(`invalid until ${shown}: ${why}${UNTIL_RULE}`, { field: 'until' });
  let at = Number.NaN;
  if (d) at = now + Number(d[1]) * UNIT_MS[d[2] as keyof typeof UNIT_MS];
  else if (ISO_TIME.test(text)) at = Date.parse(text);
  if (Number.isNaN(at)) throw refuse('');
  if (at <= now) throw refuse(`${iso(at)} is not in the future; `);
  if (at - now > 366 * UNIT_MS.d) throw refuse('at most a year ahead; ');
  return at;
}
