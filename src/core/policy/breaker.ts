/**
 * The per-project circuit breaker (docs/design.md#self-healing-policy) over the persisted BreakerRecord.
 * Pure: `now` is epoch milliseconds, dates in the record are ISO strings.
 *
 * Only `closed` and `open` are ever written by the failure/success steps; an
 * open breaker whose cooldown has passed *is* half-open (`currentState`), so
 * nothing has to run at the cooldown's end for the breaker to let one attempt
 * through. A stored `half_open` (another writer, a hand edit) is honoured.
 */
import type { AgentConfig } from '../../config/keys.js';
import { cappedDoubling } from './backoff.js';
import { closedBreaker, iso, ms, type BreakerRecord, type BreakerState } from '../model/project.js';

export type BreakerConfig = Pick<
  AgentConfig,
  'breakerFailureThreshold' | 'breakerCooldownSec' | 'breakerMaxCooldownSec'
>;

/** Cooldown after the `opens`-th opening: min(max, cooldown × 2^(opens-1)), in ms. */
export function cooldownMs(opens: number, config: BreakerConfig): number {
  return cappedDoubling(config.breakerCooldownSec, config.breakerMaxCooldownSec, Math.max(1, opens) - 1) * 1000;
}

/**
 * When an open breaker becomes half-open, in epoch ms; null when it is not
 * open. An open record without a readable `openedAt` is taken as already
 * cooled down: a breaker nobody can date must not block a project forever.
 */
export function halfOpensAt(record: BreakerRecord, config: BreakerConfig): number | null {
  if (record.state !== 'open') return null;
  const openedAt = ms(record.openedAt);
  if (openedAt === null) return Number.NEGATIVE_INFINITY;
  return openedAt + cooldownMs(record.opens, config);
}

/** The state in force at `now`: open turns half-open once `now - openedAt ≥ cooldown`. */
export function currentState(record: BreakerRecord, now: number, config: BreakerConfig): BreakerState {
  const at = halfOpensAt(record, config);
  if (at === null) return record.state;
  return now >= at ? 'half_open' : 'open';
}

/** Closed lets every attempt through; half-open lets the one project it guards try again. */
export function allowsAttempt(record: BreakerRecord, now: number, config: BreakerConfig): boolean {
  return currentState(record, now, config) !== 'open';
}

function open(record: BreakerRecord, now: number, consecutiveFailures: number): BreakerRecord {
  return { state: 'open', consecutiveFailures, openedAt: iso(now), opens: record.opens + 1 };
}

/**
 * Count a failure. Closed: opens at `breakerFailureThreshold` consecutive
 * failures. Half-open: the trial failed, so it re-opens (opens + 1, doubling the
 * cooldown up to the cap). Still open (a failure reported while cooling down,
 * e.g. an external orchestrator ran it anyway): counted, but the cooldown is
 * neither restarted nor lengthened — only a failed trial does that.
 */
export function recordFailure(record: BreakerRecord, now: number, config: BreakerConfig): BreakerRecord {
  const consecutiveFailures = record.consecutiveFailures + 1;
  switch (currentState(record, now, config)) {
    case 'closed':
      return consecutiveFailures >= config.breakerFailureThreshold
        ? open(record, now, consecutiveFailures)
        : { ...record, consecutiveFailures };
    case 'half_open':
      return open(record, now, consecutiveFailures);
    case 'open':
      return { ...record, consecutiveFailures };
  }
}

/** A success closes the breaker from any state and forgets past openings. */
export function recordSuccess(_record: BreakerRecord): BreakerRecord {
  return closedBreaker();
}

/** `agent reset`: back to a fresh closed breaker. */
export function reset(): BreakerRecord {
  return closedBreaker();
}
