import { expect } from 'chai';
import { queueHealth, type QueueHealthInput } from '../../../src/core/rules/queue-health.js';
import {
  MIN,
  SEC,
  T0,
  aConfig,
  aPausedQueue,
  aProcessingProject,
  aQueuedProject,
  aRunningQueue,
} from '../../helpers/policy-builders.js';

const config = aConfig({ queueBlockedAfterSec: 300 });
const healthy = (blockedSince: number | null = null): QueueHealthInput => ({
  scanOk: true,
  registryOk: true,
  blockedSince,
});
const queued = [aQueuedProject('a'), aQueuedProject('b')];

describe('queue health', () => {
  it('starts the blocked clock when work waits with nothing active', () => {
    const h = queueHealth(queued, aRunningQueue(), config, T0, healthy());
    expect(h).to.include({
      status: 'waiting',
      queued: 2,
      processing: 0,
      paused: false,
      blocked: false,
      blockedSince: T0,
    });
  });

  it('is not blocked 1 ms before queueBlockedAfterSec', () => {
    const h = queueHealth(queued, aRunningQueue(), config, T0 + 300 * SEC - 1, healthy(T0));
    expect(h).to.include({ status: 'waiting', blocked: false, blockedSince: T0 });
  });

  it('is blocked once queueBlockedAfterSec has passed', () => {
    const h = queueHealth(queued, aRunningQueue(), config, T0 + 300 * SEC, healthy(T0));
    expect(h).to.include({ status: 'blocked', blocked: true, blockedSince: T0 });
    expect(h.reason).to.equal('2 queued and nothing active for 300s (limit 300s)');
  });

  it('is not blocked while something is active', () => {
    const h = queueHealth([...queued, aProcessingProject('p')], aRunningQueue(), config, T0 + 10 * MIN, healthy(T0));
    expect(h).to.include({ status: 'running', processing: 1, blocked: false, blockedSince: null });
  });

  it('is not blocked while the queue breaker holds the queue', () => {
    const h = queueHealth(queued, aPausedQueue(0, 30 * MIN), config, T0 + 10 * MIN, healthy(T0));
    expect(h).to.include({ status: 'paused', paused: true, blocked: false, blockedSince: null });
  });

  it('is idle with nothing queued', () => {
    expect(queueHealth([], aRunningQueue(), config, T0, healthy(T0))).to.include({
      status: 'idle',
      blocked: false,
      blockedSince: null,
    });
  });

  it('reports an unreadable registry as an error with unknown counts, keeping the clock', () => {
    const h = queueHealth([], aRunningQueue(), config, T0 + 10 * MIN, {
      scanOk: true,
      registryOk: false,
      blockedSince: T0,
    });
    expect(h).to.deep.equal({
      status: 'error',
      queued: null,
      processing: null,
      paused: null,
      blocked: false,
      blockedSince: T0,
      reason: 'registry unreadable: queue state unknown',
    });
  });

  it('reports a scan error as an error and still says the queue is blocked', () => {
    const h = queueHealth(queued, aRunningQueue(), config, T0 + 10 * MIN, {
      scanOk: false,
      registryOk: true,
      blockedSince: T0,
    });
    expect(h).to.include({ status: 'error', blocked: true, blockedSince: T0 });
    expect(h.reason).to.match(/^scan failed; from the registry: 2 queued and nothing active/);
  });
});
