import { expect } from 'chai';
import { nextAttempt, stateSince } from '../../../src/core/views/project-view.js';
import { pauseQueue } from '../../../src/core/policy/queue-breaker.js';
import {
  HOUR,
  MIN,
  T0,
  aConfig,
  aFailedProject,
  aPausedQueue,
  aProcessingProject,
  aQueuedProject,
  aRunningQueue,
  anOpenBreaker,
  at,
} from '../../helpers/policy-builders.js';

const config = aConfig({ retryMaxAttempts: 5, breakerCooldownSec: 1800 });
const running = aRunningQueue();

describe('project view: next attempt', () => {
  it('is scheduled at nextAttemptAt while nothing holds it', () => {
    const p = aFailedProject('f', { nextAttemptAt: at(MIN) });
    expect(nextAttempt(p, running, config, T0)).to.deep.equal({ status: 'scheduled', at: at(MIN), reason: null });
  });

  it('is due, never "ago", once nextAttemptAt has passed and nothing holds it', () => {
    const p = aFailedProject('f', { nextAttemptAt: at(-MIN) });
    expect(nextAttempt(p, running, config, T0)).to.deep.include({ status: 'due' });
  });

  it('is held by an open breaker, whether nextAttemptAt is past or still ahead', () => {
    for (const when of [-MIN, 4000]) {
      const p = aFailedProject('f', { attempts: 3, nextAttemptAt: at(when), breaker: anOpenBreaker(0) });
      expect(nextAttempt(p, running, config, T0 + 1000)).to.deep.equal({
        status: 'held',
        at: at(when),
        reason: 'breaker open',
      });
    }
  });

  it('goes once the breaker is half-open', () => {
    const p = aFailedProject('f', { attempts: 3, nextAttemptAt: at(MIN), breaker: anOpenBreaker(0) });
    expect(nextAttempt(p, running, config, T0 + 30 * MIN).status).to.equal('due');
  });

  it('is held while the queue is paused, by the breaker or by hand', () => {
    const p = aFailedProject('f', { nextAttemptAt: at(-MIN) });
    expect(nextAttempt(p, aPausedQueue(0, 30 * MIN), config, T0 + MIN)).to.deep.include({
      status: 'held',
      reason: 'queue paused',
    });
    expect(nextAttempt(p, pauseQueue(running, T0, 'cli@h', null), config, T0 + MIN)).to.deep.include({
      status: 'held',
      reason: 'queue paused',
    });
    const queued = aQueuedProject('q', { command: ['sleep', '1'] });
    expect(nextAttempt(queued, pauseQueue(running, T0, 'cli@h', null), config, T0 + MIN)).to.deep.include({
      status: 'held',
      reason: 'queue paused',
    });
  });

  it('is never for a project out of attempts, even with an open breaker', () => {
    const p = aFailedProject('f', { attempts: 5, nextAttemptAt: null, breaker: anOpenBreaker(0) });
    expect(nextAttempt(p, running, config, T0)).to.deep.equal({
      status: 'never',
      at: null,
      reason: 'attempts exhausted (5 of 5)',
    });
  });

  it('is none for a running project and for one an orchestrator starts', () => {
    expect(nextAttempt(aProcessingProject('r'), running, config, T0).status).to.equal('none');
    expect(nextAttempt(aQueuedProject('ext'), running, config, T0).status).to.equal('none');
  });
});

describe('project view: since', () => {
  it('is the time of the move into the current state: a reset, not the failure before it', () => {
    const p = aFailedProject('f', { state: 'queued', endedAt: at(-HOUR) });
    p.history.push({ at: at(0), from: 'failed', to: 'queued', reason: 'reset', by: 'cli@h' });
    expect(stateSince(p)).to.equal(at(0));
  });

  it('counts the reset of a queued project, which is noted without a move', () => {
    const p = aQueuedProject('q', {
      history: [{ at: at(5 * MIN), from: 'queued', to: 'queued', reason: 'reset (already queued)', by: 'cli@h' }],
    });
    expect(stateSince(p)).to.equal(at(5 * MIN));
  });

  it('ignores notes that are not resets (an extension of a running project)', () => {
    const p = aProcessingProject('r', {
      history: [
        { at: at(0), from: 'queued', to: 'processing', reason: 'launched', by: 'agent@h' },
        { at: at(MIN), from: 'processing', to: 'processing', reason: 'extended', by: 'agent@h' },
      ],
    });
    expect(stateSince(p)).to.equal(at(0));
  });

  it('is enqueuedAt without history', () => {
    expect(stateSince(aQueuedProject('q'))).to.equal(at(0));
  });
});
