/**
 * Host scoping (docs/multi-host.md): a project belongs to the host that
 * starts it. A hostless project is adopted by the first host that starts it,
 * and a project run again elsewhere moves with its new process.
 */
import { expect } from 'chai';
import { fail, enqueue, reset, start } from '../../src/registry/operations.js';
import { MemoryStore } from '../helpers/memory-store.js';

describe('registry operations: the host of a project', () => {
  const T0 = Date.parse('2026-11-26T10:00:00.000Z');
  const ctx = () => ({ store: new MemoryStore(), now: () => T0, by: 'cli@test' });

  it('a project with no host is adopted by the host that reports its start', async () => {
    const c = ctx();
    await enqueue(c, { id: 'p1' });
    expect((await c.store.load()).projects[0]?.host).to.equal(null);
    const started = await start(c, 'p1', { pid: 4242, pidStartTime: 1, host: 'build-01' });
    expect(started.host).to.equal('build-01');
  });

  it('a project started again on another host belongs to that host', async () => {
    const c = ctx();
    await enqueue(c, { id: 'p1' });
    await start(c, 'p1', { pid: 4242, pidStartTime: 1, host: 'build-01' });
    await fail(c, 'p1', { reason: 'crashed' });
    await reset(c, 'p1', {});
    const again = await start(c, 'p1', { pid: 777, pidStartTime: 2, host: 'build-02' });
    expect(again).to.include({ host: 'build-02', pid: 777 });
  });
});
