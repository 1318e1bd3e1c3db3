import { expect } from 'chai';
import {
  allowsAttempt,
  cooldownMs,
  currentState,
  halfOpensAt,
  recordFailure,
  recordSuccess,
  reset,
  type BreakerConfig,
} from '../../../src/core/policy/breaker.js';
import { closedBreaker, iso, type BreakerRecord } from '../../../src/core/model/project.js';
import { HOUR, MIN, T0, anOpenBreaker, at } from '../../helpers/policy-builders.js';

const config: BreakerConfig = { breakerFailureThreshold: 3, breakerCooldownSec: 1800, breakerMaxCooldownSec: 86_400 };

function failTimes(record: BreakerRecord, times: number, now: number): BreakerRecord {
  let r = record;
  for (let i = 0; i < times; i += 1) r = recordFailure(r, now, config);
  return r;
}

describe('breaker', () => {
  it('stays closed and counts failures below the threshold', () => {
    const r = failTimes(closedBreaker(), 2, T0);
    expect(r).to.deep.equal({ state: 'closed', consecutiveFailures: 2, openedAt: null, opens: 0 });
    expect(allowsAttempt(r, T0, config)).to.equal(true);
  });

  it('opens at the threshold of consecutive failures', () => {
    const r = failTimes(closedBreaker(), 3, T0);
    expect(r).to.deep.equal({ state: 'open', consecutiveFailures: 3, openedAt: iso(T0), opens: 1 });
    expect(currentState(r, T0, config)).to.equal('open');
    expect(allowsAttempt(r, T0, config)).to.equal(false);
  });

  it('is still open 1 ms before the cooldown ends', () => {
    const r = anOpenBreaker(0);
    expect(currentState(r, T0 + 30 * MIN - 1, config)).to.equal('open');
    expect(allowsAttempt(r, T0 + 30 * MIN - 1, config)).to.equal(false);
  });

  it('is half-open exactly when the cooldown ends', () => {
    const r = anOpenBreaker(0);
    expect(halfOpensAt(r, config)).to.equal(T0 + 30 * MIN);
    expect(currentState(r, T0 + 30 * MIN, config)).to.equal('half_open');
    expect(allowsAttempt(r, T0 + 30 * MIN, config)).to.equal(true);
  });

  it('is half-open 1 ms after the cooldown ends', () => {
    expect(currentState(anOpenBreaker(0), T0 + 30 * MIN + 1, config)).to.equal('half_open');
  });

  it('closes on success from half-open and forgets its openings', () => {
    const r = recordSuccess(anOpenBreaker(0, 4, 9));
    expect(r).to.deep.equal(closedBreaker());
    expect(currentState(r, T0, config)).to.equal('closed');
  });

  it('re-opens on a failure while half-open with a doubled cooldown', () => {
    const now = T0 + 30 * MIN;
    const r = recordFailure(anOpenBreaker(0), now, config);
    expect(r).to.deep.equal({ state: 'open', consecutiveFailures: 4, openedAt: iso(now), opens: 2 });
    expect(currentState(r, now + HOUR - 1, config)).to.equal('open');
    expect(currentState(r, now + HOUR, config)).to.equal('half_open');
  });

  it('doubles the cooldown per re-open up to the cap', () => {
    const cooldownsMin = [1, 2, 3, 4, 5, 6, 7, 8, 100, 5000].map((opens) => cooldownMs(opens, config) / MIN);
    expect(cooldownsMin).to.deep.equal([30, 60, 120, 240, 480, 960, 1440, 1440, 1440, 1440]);
  });

  it('counts a failure while still open without restarting the cooldown', () => {
    const r = recordFailure(anOpenBreaker(0), T0 + 10 * MIN, config);
    expect(r).to.deep.equal({ state: 'open', consecutiveFailures: 4, openedAt: at(0), opens: 1 });
  });

  it('lets an open breaker with an unreadable openedAt through', () => {
    const r: BreakerRecord = { state: 'open', consecutiveFailures: 3, openedAt: 'garbage', opens: 1 };
    expect(currentState(r, T0, config)).to.equal('half_open');
  });

  it('resets to a fresh closed breaker', () => {
    expect(reset()).to.deep.equal(closedBreaker());
  });

  it('goes through the whole lifecycle with explicit times', () => {
    let r = failTimes(closedBreaker(), 3, T0);
    expect(currentState(r, T0 + 29 * MIN, config)).to.equal('open');
    r = recordFailure(r, T0 + 30 * MIN, config); // the half-open trial failed
    expect(currentState(r, T0 + 30 * MIN + HOUR, config)).to.equal('half_open');
    r = recordSuccess(r);
    expect(currentState(r, T0 + 30 * MIN + HOUR, config)).to.equal('closed');
    expect(r.opens).to.equal(0);
  });
});
