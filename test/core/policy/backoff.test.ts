import { expect } from 'chai';
import {
  backoffCeilingSec,
  cappedDoubling,
  fullJitterDelaySec,
  fullJitterStep,
  noJitterDelaySec,
  noJitterStep,
  type BackoffOptions,
} from '../../../src/core/policy/backoff.js';
import { constant } from '../../helpers/policy-builders.js';

const defaults: BackoffOptions = { baseSec: 30, capSec: 3600 };

describe('backoff', () => {
  it('doubles from the base and stops at the cap without jitter', () => {
    const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => noJitterDelaySec(n, defaults));
    expect(delays).to.deep.equal([30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
  });

  it('walks the same sequence as a step function', () => {
    let state = { attempt: 1 };
    const delays: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const step = noJitterStep(state, defaults);
      delays.push(step.delaySec);
      state = step.next;
    }
    expect(delays).to.deep.equal([30, 60, 120, 240]);
    expect(state.attempt).to.equal(5);
  });

  it('stays at the cap for huge attempt numbers', () => {
    for (const n of [64, 1024, 1025, 10_000, Number.MAX_SAFE_INTEGER]) {
      expect(noJitterDelaySec(n, defaults), `attempt ${n}`).to.equal(3600);
    }
  });

  it('never yields NaN or Infinity when the base is zero', () => {
    expect(noJitterDelaySec(5000, { baseSec: 0, capSec: 3600 })).to.equal(0);
    expect(cappedDoubling(0, 3600, Number.POSITIVE_INFINITY)).to.equal(0);
  });

  it('treats an attempt below 1 as the first', () => {
    expect(backoffCeilingSec(0, defaults)).to.equal(30);
    expect(backoffCeilingSec(-3, defaults)).to.equal(30);
    expect(backoffCeilingSec(Number.NaN, defaults)).to.equal(30);
  });

  it('caps at the base when the base is above the cap', () => {
    expect(noJitterDelaySec(1, { baseSec: 100, capSec: 50 })).to.equal(50);
  });

  it('scales the ceiling by the random draw', () => {
    expect(fullJitterDelaySec(3, defaults, constant(0))).to.equal(0);
    expect(fullJitterDelaySec(3, defaults, constant(0.25))).to.equal(30);
    expect(fullJitterStep({ attempt: 8 }, defaults, constant(0.5)).delaySec).to.equal(1800);
  });

  it('clamps a random source that strays outside [0, 1)', () => {
    expect(fullJitterDelaySec(1, defaults, constant(-1))).to.equal(0);
    expect(fullJitterDelaySec(1, defaults, constant(7))).to.equal(30);
    expect(fullJitterDelaySec(1, defaults, constant(Number.NaN))).to.equal(0);
  });

  it('keeps 10,000 jittered draws within [0, ceiling] with a mean near half of it', () => {
    const attempt = 4;
    const ceiling = noJitterDelaySec(attempt, defaults);
    let sum = 0;
    for (let i = 0; i < 10_000; i += 1) {
      const d = fullJitterDelaySec(attempt, defaults, Math.random);
      expect(d).to.be.within(0, ceiling);
      sum += d;
    }
    // Standard error of the mean is ceiling/sqrt(12 × 10,000) ≈ 0.29 % of it; 3 % is ~10 sigma.
    expect(sum / 10_000).to.be.closeTo(ceiling / 2, ceiling * 0.03);
  });
});
