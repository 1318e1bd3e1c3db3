import { expect } from 'chai';
import {
  isRetriable,
  onProjectCompleted,
  onProjectFailed,
  planRetries,
  retryRefusal,
} from '../../../src/core/policy/retry.js';
import { closedBreaker, iso } from '../../../src/core/model/project.js';
import {
  MIN,
  SEC,
  T0,
  aConfig,
  aFailedProject,
  aPausedQueue,
  aProcessingProject,
  aRunningQueue,
  anOpenBreaker,
  at,
  constant,
} from '../../helpers/policy-builders.js';

const config = aConfig();
const half = constant(0.5);

describe('retry', () => {
  describe('planRetries', () => {
    it('schedules a failed project without nextAttemptAt from its endedAt', () => {
      const p = aFailedProject('a', { attempts: 2 }); // ceiling 60 s, half of it drawn
      const plan = planRetries([p], aRunningQueue(), config, T0 + SEC, half);
      expect(plan.transitions).to.deep.equal([]);
      expect(plan.updates).to.deep.equal([
        {
          project: 'a',
          patch: { nextAttemptAt: iso(T0 + 30 * SEC) },
          note: 'retry_scheduled',
          details: { attempt: 3, delaySec: 30 },
        },
      ]);
    });

    it('requeues a due project with the delay recorded', () => {
      const p = aFailedProject('a', { attempts: 2, nextAttemptAt: at(45 * SEC) });
      const plan = planRetries([p], aRunningQueue(), config, T0 + 45 * SEC, half);
      expect(plan.updates).to.deep.equal([]);
      expect(plan.transitions).to.deep.equal([
        { project: 'a', from: 'failed', to: 'queued', reason: 'retry', details: { attempt: 3, delaySec: 45 } },
      ]);
    });

    it('leaves a project alone 1 ms before it is due', () => {
      const p = aFailedProject('a', { nextAttemptAt: at(45 * SEC) });
      expect(planRetries([p], aRunningQueue(), config, T0 + 45 * SEC - 1, half)).to.deep.equal({
        transitions: [],
        updates: [],
      });
    });

    it('requeues at once when a freshly drawn schedule is already due', () => {
      const p = aFailedProject('a', { attempts: 1 }); // ended at T0, delay 15 s
      const plan = planRetries([p], aRunningQueue(), config, T0 + MIN, half);
      expect(plan.transitions).to.have.length(1);
      expect(plan.transitions[0]?.details).to.deep.equal({ attempt: 2, delaySec: 15 });
    });

    it('never requeues a non-retriable failure reason', () => {
      for (const reason of config.nonRetriableReasons) {
        const p = aFailedProject('a', { failureReason: reason, nextAttemptAt: at(0) });
        expect(planRetries([p], aRunningQueue(), config, T0 + MIN, half), reason).to.deep.equal({
          transitions: [],
          updates: [],
        });
      }
    });

    it('never requeues a project failed with retry false', () => {
      const p = aFailedProject('a', { retry: false, nextAttemptAt: at(0) });
      expect(planRetries([p], aRunningQueue(), config, T0 + MIN, half)).to.deep.equal({ transitions: [], updates: [] });
    });

    it('keeps a project that used all its attempts failed', () => {
      const p = aFailedProject('a', { attempts: 5, nextAttemptAt: at(0) });
      expect(planRetries([p], aRunningQueue(), config, T0 + MIN, half)).to.deep.equal({ transitions: [], updates: [] });
    });

    it('honours the per-project maxAttempts over the default', () => {
      const capped = aFailedProject('a', { attempts: 2, maxAttempts: 2, nextAttemptAt: at(0) });
      const roomy = aFailedProject('b', { attempts: 7, maxAttempts: 10, nextAttemptAt: at(0) });
      const plan = planRetries([capped, roomy], aRunningQueue(), config, T0 + MIN, half);
      expect(plan.transitions.map((t) => t.project)).to.deep.equal(['b']);
    });

    it('holds a due project while its breaker is open', () => {
      const p = aFailedProject('a', { nextAttemptAt: at(0), breaker: anOpenBreaker(0) });
      expect(planRetries([p], aRunningQueue(), config, T0 + 30 * MIN - 1, half).transitions).to.deep.equal([]);
    });

    it('lets the one trial through once the breaker is half-open', () => {
      const p = aFailedProject('a', { nextAttemptAt: at(0), breaker: anOpenBreaker(0) });
      const plan = planRetries([p], aRunningQueue(), config, T0 + 30 * MIN, half);
      expect(plan.transitions[0]?.details).to.include({ breaker: 'half_open' });
    });

    it('holds every due project while the queue is paused', () => {
      const p = aFailedProject('a', { nextAttemptAt: at(0) });
      expect(planRetries([p], aPausedQueue(0, 30 * MIN), config, T0 + MIN, half).transitions).to.deep.equal([]);
    });

    it('still schedules while the queue is paused', () => {
      const p = aFailedProject('a', { attempts: 3 }); // ceiling 120 s
      const plan = planRetries([p], aPausedQueue(0, 30 * MIN), config, T0 + 10 * MIN, half);
      expect(plan.updates[0]?.patch).to.deep.equal({ nextAttemptAt: iso(T0 + MIN) });
    });

    it('ignores projects that are not failed', () => {
      const p = aProcessingProject('a');
      expect(planRetries([p], aRunningQueue(), config, T0, half)).to.deep.equal({ transitions: [], updates: [] });
    });
  });

  describe('on entering failed or completed', () => {
    it('counts the failure in the breaker and schedules the retry', () => {
      const p = aProcessingProject('a', { attempts: 1, failureReason: 'phantom' });
      const r = onProjectFailed(p, T0, config, constant(0.25)); // ceiling 30 s
      expect(r.patch).to.deep.equal({
        breaker: { ...closedBreaker(), consecutiveFailures: 1 },
        nextAttemptAt: iso(T0 + 7500),
      });
      expect(r.details).to.deep.equal({ delaySec: 7.5 });
    });

    it('opens the breaker on the third consecutive failure and says so', () => {
      const p = aProcessingProject('a', { attempts: 3, breaker: { ...closedBreaker(), consecutiveFailures: 2 } });
      const r = onProjectFailed(p, T0, config, half);
      expect(r.patch.breaker).to.deep.equal({ state: 'open', consecutiveFailures: 3, openedAt: iso(T0), opens: 1 });
      expect(r.details).to.include({ breaker: 'opened' });
    });

    it('counts a non-retriable failure in the breaker but schedules nothing', () => {
      const p = aProcessingProject('a', { failureReason: 'killed_by_operator' });
      const r = onProjectFailed(p, T0, config, half);
      expect(r.patch).to.deep.equal({ breaker: { ...closedBreaker(), consecutiveFailures: 1 }, nextAttemptAt: null });
      expect(r.details).to.deep.equal({});
    });

    it('closes the breaker on completion', () => {
      const p = aProcessingProject('a', { breaker: anOpenBreaker(0, 3) });
      expect(onProjectCompleted(p).patch).to.deep.equal({ breaker: closedBreaker(), nextAttemptAt: null });
    });

    it('explains why a project is not retried', () => {
      expect(retryRefusal(aFailedProject('a', { retry: false }), config)).to.equal('retry disabled');
      expect(retryRefusal(aFailedProject('a', { attempts: 5 }), config)).to.equal('attempts exhausted (5 of 5)');
      expect(isRetriable(aFailedProject('a'), config)).to.equal(true);
    });
  });
});
