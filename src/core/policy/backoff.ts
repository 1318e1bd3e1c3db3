/**
 * Full-jitter exponential backoff (docs/design.md#self-healing-policy): the delay before attempt n is
 * drawn uniformly from [0, min(cap, base × 2^(n-1))) seconds. Pure: the random
 * source is an argument, so tests pass a fixed one or use `noJitterDelaySec`.
 */
import type { AgentConfig } from '../../config/keys.js';

/** A random source in [0, 1), like Math.random. */
export type RandomSource = () => number;

export interface BackoffOptions {
  /** Base delay in seconds (config `retryBaseSec`, default 30). */
  baseSec: number;
  /** Largest ceiling in seconds (config `retryMaxDelaySec`, default 3600). */
  capSec: number;
}

export function backoffOptions(config: Pick<AgentConfig, 'retryBaseSec' | 'retryMaxDelaySec'>): BackoffOptions {
  return { baseSec: config.retryBaseSec, capSec: config.retryMaxDelaySec };
}

/**
 * min(cap, base × 2^exponent) without ever computing an infinite or NaN
 * intermediate: once base × 2^exponent would pass the cap the answer is the
 * cap, whatever the exponent (so attempt 10,000 is as cheap and exact as 2).
 * Shared with the breaker's doubling cooldown.
 */
export function cappedDoubling(base: number, cap: number, exponent: number): number {
  if (!(base > 0) || !(cap > 0)) return 0;
  if (base >= cap) return cap;
  const e = Number.isFinite(exponent) ? Math.max(0, Math.floor(exponent)) : 0;
  // base × 2^e ≥ cap  ⇔  e ≥ log2(cap / base); compare exponents, not products.
  if (e >= Math.log2(cap / base)) return cap;
  return Math.min(cap, base * 2 ** e);
}

/**
 * Attempts below 1 (a hand-edited registry, attempts 0) are treated as 1:
 * the policy must keep running on odd data rather than throw mid-cycle.
 */
function attemptNumber(attempt: number): number {
  return Number.isFinite(attempt) && attempt >= 1 ? Math.floor(attempt) : 1;
}

/** The ceiling of the delay before `attempt` (n ≥ 1): min(cap, base × 2^(n-1)) seconds. */
export function backoffCeilingSec(attempt: number, options: BackoffOptions): number {
  return cappedDoubling(options.baseSec, options.capSec, attemptNumber(attempt) - 1);
}

/** The no-jitter variant: exactly the ceiling, for exact tests and diagnostics. */
export function noJitterDelaySec(attempt: number, options: BackoffOptions): number {
  return backoffCeilingSec(attempt, options);
}

/**
 * Full jitter: uniform in [0, ceiling). A source that strays outside [0, 1)
 * is clamped, so the result is always within [0, ceiling].
 */
export function fullJitterDelaySec(attempt: number, options: BackoffOptions, random: RandomSource): number {
  const draw = random();
  const unit = Number.isFinite(draw) ? Math.min(1, Math.max(0, draw)) : 0;
  return unit * backoffCeilingSec(attempt, options);
}

/** Backoff as a step: the delay for the current attempt and the state of the next. */
export interface BackoffStep {
  delaySec: number;
  next: { attempt: number };
}

export function fullJitterStep(state: { attempt: number }, options: BackoffOptions, random: RandomSource): BackoffStep {
  return {
    delaySec: fullJitterDelaySec(state.attempt, options, random),
    next: { attempt: attemptNumber(state.attempt) + 1 },
  };
}

export function noJitterStep(state: { attempt: number }, options: BackoffOptions): BackoffStep {
  return { delaySec: noJitterDelaySec(state.attempt, options), next: { attempt: attemptNumber(state.attempt) + 1 } };
}
