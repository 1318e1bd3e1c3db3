import { expect } from 'chai';
import {
  evaluateQueueBreaker,
  finishedProjects,
  isQueuePaused,
  parsePauseEnd,
  pauseQueue,
  resumeQueue,
  type QueueBreakerConfig,
} from '../../../src/core/policy/queue-breaker.js';
import { iso, type Project } from '../../../src/core/model/project.js';
import {
  HOUR,
  MIN,
  SEC,
  T0,
  aFailedProject,
  aPausedQueue,
  aProjectWithFinishes,
  aRunningQueue,
  at,
} from '../../helpers/policy-builders.js';

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
  it('trips when half of at least the minimum finished projects failed', () => {
    const now = T0 + MIN;
    const r = evaluateQueueBreaker(finishes([F, C, F, C, F, C]), aRunningQueue(), config, now);
    expect(r.event).to.equal('tripped');
    expect(r.queue).to.deep.equal({
      paused: true,
      pausedAt: iso(now),
      resumeAt: iso(now + COOLDOWN),
      opens: 1,
      trippedBy: ['p4', 'p2', 'p0'],
      pausedBy: 'breaker',
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

  it('judges only the newest projects of the window', () => {
    // 10 old failures, then 20 newer completions: the failures are out of the window.
    const projects = [
      ...finishes(Array<'failed'>(10).fill(F), 0, 'old'),
      ...finishes(Array<'completed'>(20).fill(C), HOUR, 'new'),
    ];
    const r = evaluateQueueBreaker(projects, aRunningQueue(), config, T0 + 2 * HOUR);
    expect(r).to.include({ event: null, finished: 20, failed: 0 });
  });

  it('counts a project that failed five times once: one flaky project does not pause the queue', () => {
    const flaky = aProjectWithFinishes('flaky', [
      [F, 0],
      [F, MIN],
      [F, 2 * MIN],
      [F, 3 * MIN],
      [F, 4 * MIN],
    ]);
    const r = evaluateQueueBreaker([flaky, ...finishes([C, C], 5 * MIN)], aRunningQueue(), config, T0 + 10 * MIN);
    expect(r).to.include({ event: null, finished: 3, failed: 1 });
    expect(r.queue.paused).to.equal(false);
  });

  it('counts each project by its latest outcome', () => {
    const recovered = aProjectWithFinishes('recovered', [
      [F, 0],
      [F, MIN],
      [C, 2 * MIN],
    ]);
    const relapsed = aProjectWithFinishes('relapsed', [
      [C, 0],
      [F, 3 * MIN],
    ]);
    expect(finishedProjects([recovered, relapsed], null)).to.deep.equal([
      { project: 'relapsed', at: T0 + 3 * MIN, outcome: 'failed' },
      { project: 'recovered', at: T0 + 2 * MIN, outcome: 'completed' },
    ]);
  });

  it('trips on five different failed projects', () => {
    const r = evaluateQueueBreaker(finishes([F, F, F, F, F]), aRunningQueue(), config, T0 + MIN);
    expect(r.event).to.equal('tripped');
    expect(r.queue.trippedBy).to.deep.equal(['p4', 'p3', 'p2', 'p1', 'p0']);
  });

  it('counts a terminal project without a finishing history entry at its endedAt', () => {
    const bare = aFailedProject('bare', { history: [] });
    expect(finishedProjects([bare], null)).to.deep.equal([{ project: 'bare', at: T0, outcome: 'failed' }]);
  });

  it('ignores history notes that change no state', () => {
    const p = aFailedProject('n');
    p.history.push({ at: at(MIN), from: 'failed', to: 'failed', reason: 'retry_scheduled', by: 'agent@test' });
    expect(finishedProjects([p], null)).to.deep.equal([{ project: 'n', at: T0, outcome: 'failed' }]);
  });

  it('does not count a project whose latest outcome came before the last resume', () => {
    const p = aProjectWithFinishes('old', [
      [F, 0],
      [F, MIN],
    ]);
    expect(finishedProjects([p], T0 + 2 * MIN)).to.deep.equal([]);
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
    expect(r.queue).to.deep.include({ paused: false, pausedAt: null, resumeAt: iso(T0 + COOLDOWN), pausedBy: null });
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

  describe('paused by hand', () => {
    const running = aRunningQueue();

    it('pauses until the given time, recording who paused it, and resumes by itself then', () => {
      const paused = pauseQueue(running, T0, 'cli@h', T0 + HOUR);
      expect(paused).to.deep.include({
        paused: true,
        pausedAt: iso(T0),
        resumeAt: iso(T0 + HOUR),
        pausedBy: 'cli@h',
        opens: 0,
      });
      expect(isQueuePaused(paused, T0 + HOUR - 1)).to.equal(true);
      expect(evaluateQueueBreaker([], paused, config, T0 + HOUR - 1).queue).to.deep.equal(paused);
      const r = evaluateQueueBreaker([], paused, config, T0 + HOUR);
      expect(r.event).to.equal('resumed');
      expect(r.queue).to.deep.include({ paused: false, pausedBy: null });
    });

    it('without an end lasts until resumed: no cooldown ends it', () => {
      const paused = pauseQueue(running, T0, 'api@h', null);
      const later = T0 + 30 * 24 * HOUR;
      expect(isQueuePaused(paused, later)).to.equal(true);
      const r = evaluateQueueBreaker(finishes([F, F, F, F, F]), paused, config, later);
      expect(r).to.include({ event: null });
      expect(r.queue).to.deep.equal(paused);
    });

    it('resume starts a fresh window: what finished before it never trips the breaker', () => {
      const tripped = evaluateQueueBreaker(finishes([F, F, F, F, F]), running, config, T0 + MIN).queue;
      expect(tripped.pausedBy).to.equal('breaker');
      const resumed = resumeQueue(tripped, T0 + 2 * MIN);
      expect(resumed).to.deep.include({
        paused: false,
        pausedAt: null,
        resumeAt: iso(T0 + 2 * MIN),
        pausedBy: null,
        trippedBy: tripped.trippedBy,
      });
      expect(evaluateQueueBreaker(finishes([F, F, F, F, F]), resumed, config, T0 + 3 * MIN).event).to.equal(null);
    });

    it('resume leaves a running queue unchanged', () => {
      expect(resumeQueue(running, T0)).to.equal(running);
    });

    it('takes the pause end as a duration or an ISO time with its zone', () => {
      expect(parsePauseEnd('30m', T0)).to.equal(T0 + 30 * MIN);
      expect(parsePauseEnd('2h', T0)).to.equal(T0 + 2 * HOUR);
      expect(parsePauseEnd('45s', T0)).to.equal(T0 + 45 * SEC);
      expect(parsePauseEnd('1d', T0)).to.equal(T0 + 24 * HOUR);
      expect(parsePauseEnd(iso(T0 + HOUR), T0)).to.equal(T0 + HOUR);
      expect(parsePauseEnd('2026-11-26T12:00:00+01:00', T0)).to.equal(Date.parse('2026-11-26T11:00:00Z'));
    });

    for (const [what, text] of [
      ['a word', 'tomorrow'],
      ['a number without unit', '30'],
      ['an unknown unit', '3w'],
      ['a time without its zone', '2026-11-26T12:00:00'],
      ['a date alone', '2026-11-27'],
      ['an empty value', ''],
    ] as const) {
      it(`refuses ${what}, naming what is allowed`, () => {
        expect(() => parsePauseEnd(text, T0)).to.throw(
          /must be an ISO-8601 time with its zone .* or a duration \(e\.g\. 30m, 2h; units s, m, h, d\)/,
        );
      });
    }

    it('refuses a time that is not in the future', () => {
      expect(() => parsePauseEnd(iso(T0 - MIN), T0)).to.throw(/is not in the future/);
    });
  });
});
