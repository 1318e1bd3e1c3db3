import { expect } from 'chai';
import { evaluateQueueBreaker, finishedAttempts, isQueuePaused, type QueueBreakerConfig } from '../../src/core/queue-breaker.js';
import { iso, type Project } from '../../src/core/project.js';
import { HOUR, MIN, SEC, T0, aFailedProject, aPausedQueue, aProjectWithFinishes, aRunningQueue, at } from '../helpers/policy-builders.js';

const config: QueueBreakerConfig = {
  queueBreakerWindow: 20,
  queueBreakerMinFinished: 5,
  queueBreakerFailureRatio: 0.5,
  queueBreakerCooldownSec: 1800,
};
const COOLDOWN = 30 * MIN;

/** One project per outcome, finished one second apart starting at `startMs`. */
function finishes(outcomes: Array<'failed' | 'completed'>, startMs = 0, prefix = 'p'): Project[] {
  return outcomes.map((o, i) => aProjectWithFinishes(`${prefix}${i}`, [[o, startMs + i * SEC]]));
}

const F = 'failed' as const;
const C = 'completed' as const;

describe('queue breaker', () => {
  it('trips when half of at least the minimum finished attempts failed', () => {
    const now = T0 + MIN;
    const r = evaluateQueueBreaker(finishes([F, C, F, C, F, C]), aRunningQueue(), config, now);
    expect(r.event).to.equal('tripped');
    expect(r.queue).to.deep.equal({
      paused: true,
      pausedAt: iso(now),
      resumeAt: iso(now + COOLDOWN),
      opens: 1,
      trippedBy: ['p4', 'p2', 'p0'],
    });
  });

  it('does not trip below the minimum volume even when all failed', () => {
    const r = evaluateQueueBreaker(finishes([F, F, F, F]), aRunningQueue(), config, T0 + MIN);
    expect(r.event).to.equal(null);
    expect(r.queue.paused).to.equal(false);
    expect(r.finished).to.equal(4);
  });

  it('does not trip just below the ratio', () => {
    const r = evaluateQueueBreaker(finishes([F, C, F, C, C]), aRunningQueue(), config, T0 + MIN);
    expect(r.event).to.equal(null);
    expect(r).to.include({ finished: 5, failed: 2 });
  });

  it('judges only the newest attempts of the window', () => {
    // 10 old failures, then 20 newer completions: the failures are out of the window.
    const projects = [...finishes(Array<'failed'>(10).fill(F), 0, 'old'), ...finishes(Array<'completed'>(20).fill(C), HOUR, 'new')];
    const r = evaluateQueueBreaker(projects, aRunningQueue(), config, T0 + 2 * HOUR);
    expect(r).to.include({ event: null, finished: 20, failed: 0 });
  });

  it('counts every failed attempt of a project retried several times', () => {
    const retried = aProjectWithFinishes('flaky', [[F, 0], [F, MIN], [F, 2 * MIN]]);
    const r = evaluateQueueBreaker([retried, ...finishes([C, C], 3 * MIN)], aRunningQueue(), config, T0 + 10 * MIN);
    expect(r.event).to.equal('tripped');
    expect(r.queue.trippedBy).to.deep.equal(['flaky']);
  });

  it('counts a terminal project without a finishing history entry at its endedAt', () => {
    const bare = aFailedProject('bare', { history: [] });
    expect(finishedAttempts([bare], null)).to.deep.equal([{ project: 'bare', at: T0, outcome: 'failed' }]);
  });

  it('ignores history notes that change no state', () => {
    const p = aFailedProject('n');
    p.history.push({ at: at(MIN), from: 'failed', to: 'failed', reason: 'retry_scheduled', by: 'agent@test' });
    expect(finishedAttempts([p], null)).to.deep.equal([{ project: 'n', at: T0, outcome: 'failed' }]);
  });

  it('stays paused until the cooldown ends', () => {
    const queue = aPausedQueue(0, COOLDOWN);
    const r = evaluateQueueBreaker(finishes([F, F, F, F, F]), queue, config, T0 + COOLDOWN - 1);
    expect(r.event).to.equal(null);
    expect(r.queue).to.deep.equal(queue);
    expect(isQueuePaused(r.queue, T0 + COOLDOWN - 1)).to.equal(true);
  });

  it('resumes after the cooldown without re-tripping on the old failures', () => {
    const old = finishes([F, F, F, F, F, F], -MIN);
    const r = evaluateQueueBreaker(old, aPausedQueue(0, COOLDOWN), config, T0 + COOLDOWN);
    expect(r.event).to.equal('resumed');
    expect(r.queue).to.deep.include({ paused: false, pausedAt: null, resumeAt: iso(T0 + COOLDOWN) });
    expect(isQueuePaused(r.queue, T0 + COOLDOWN)).to.equal(false);

    const later = evaluateQueueBreaker(old, r.queue, config, T0 + COOLDOWN + 10 * MIN);
    expect(later).to.include({ event: null, finished: 0 });
  });

  it('does not count attempts that finished during the pause', () => {
    const duringPause = finishes([F, F, F, F, F], 5 * MIN);
    const r = evaluateQueueBreaker(duringPause, aPausedQueue(0, COOLDOWN), config, T0 + COOLDOWN);
    expect(r.event).to.equal('resumed');
    expect(r.queue.paused).to.equal(false);
  });

  it('trips again on enough new failures after the resume', () => {
    const resumed = aRunningQueue({ resumeAt: at(COOLDOWN), opens: 1 });
    const projects = [...finishes([F, F, F, F, F, F], 0, 'old'), ...finishes([F, F, F, C, C], COOLDOWN + MIN, 'new')];
    const r = evaluateQueueBreaker(projects, resumed, config, T0 + 2 * COOLDOWN);
    expect(r.event).to.equal('tripped');
    expect(r.queue.opens).to.equal(2);
    expect(r.queue.trippedBy).to.deep.equal(['new2', 'new1', 'new0']);
  });

  it('forgets past pauses once a resumed queue fills the minimum window cleanly', () => {
    const resumed = aRunningQueue({ resumeAt: at(COOLDOWN), opens: 2 });
    const r = evaluateQueueBreaker(finishes([C, C, C, F, C], COOLDOWN + MIN), resumed, config, T0 + 2 * COOLDOWN);
    expect(r.event).to.equal(null);
    expect(r.queue.opens).to.equal(0);
  });

  it('derives a missing resumeAt of a paused queue from pausedAt', () => {
    const queue = { ...aPausedQueue(0, COOLDOWN), resumeAt: null };
    expect(evaluateQueueBreaker([], queue, config, T0 + MIN).queue.resumeAt).to.equal(iso(T0 + COOLDOWN));
    expect(evaluateQueueBreaker([], queue, config, T0 + COOLDOWN).event).to.equal('resumed');
  });
});
