import { expect } from 'chai';
import type { ProjectSource } from '../../../src/core/model/project.js';
import { selectLaunches } from '../../../src/core/policy/launch.js';
import { evaluateQueueBreaker } from '../../../src/core/policy/queue-breaker.js';
import { onProjectFailed, planRetries, retryRefusal } from '../../../src/core/policy/retry.js';
import {
  MIN,
  SEC,
  T0,
  aConfig,
  aFailedProject,
  aProcessingProject,
  aProjectWithFinishes,
  aQueuedProject,
  aRunningQueue,
  constant,
} from '../../helpers/policy-builders.js';

const source: ProjectSource = { kind: 'tmux-orchestrator', name: 'to', ref: '7', status: 'queued', heal: true };
const cmd = ['python3', 'run.py'];

describe('imported projects (source set)', () => {
  it('are never launched, even with a command', () => {
    const p = aQueuedProject('to-7', { command: cmd, source });
    expect(selectLaunches([p], aRunningQueue(), aConfig({ maxConcurrent: 3 }), T0, 'h', constant(0))).to.deep.equal([]);
  });

  it('take no launcher slot from the registry’s own projects', () => {
    const projects = [
      aProcessingProject('to-1', { source: { ...source, ref: '1', status: 'processing' } }),
      aQueuedProject('own', { command: cmd }),
    ];
    expect(
      selectLaunches(projects, aRunningQueue(), aConfig({ maxConcurrent: 1 }), T0, 'h', constant(0)).map(
        (a) => a.project,
      ),
    ).to.deep.equal(['own']);
  });

  it('are never retried', () => {
    const p = aFailedProject('to-7', { source: { ...source, status: 'failed' }, nextAttemptAt: null });
    expect(retryRefusal(p, aConfig())).to.match(/imported/);
    expect(planRetries([p], aRunningQueue(), aConfig(), T0 + 10 * MIN, constant(0))).to.deep.equal({
      transitions: [],
      updates: [],
    });
  });

  it('schedule no retry and leave their breaker alone when they fail', () => {
    const p = aProcessingProject('to-7', { source });
    expect(onProjectFailed(p, T0, aConfig(), constant(0.5))).to.deep.equal({
      patch: { nextAttemptAt: null },
      details: {},
    });
  });

  it('do not count toward the queue breaker', () => {
    const failures = Array.from({ length: 6 }, (_, i) => ({
      ...aProjectWithFinishes(`to-${i}`, [['failed', i * SEC]]),
      source: { ...source, ref: String(i) },
    }));
    const evaluation = evaluateQueueBreaker(failures, aRunningQueue(), aConfig(), T0 + MIN);
    expect(evaluation.queue.paused).to.equal(false);
    expect(evaluation.finished).to.equal(0);
  });
});
