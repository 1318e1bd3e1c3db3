/**
 * The Redis registry watch on a real redis-server on loopback: a commit by
 * another client asks for a cycle, the store's own commit does not, and the
 * watch subscribes again after the server was restarted.
 */
import { expect } from 'chai';
import { newProject } from '../../src/core/model/project.js';
import { RedisWatch } from '../../src/events/redis-watch.js';
import { RedisStore } from '../../src/registry/redis-store.js';
import { eventually } from '../helpers/daemon.js';
import { sleep } from '../helpers/processes.js';
import { RedisServer, startRedis } from '../helpers/redis.js';
import { Triggers } from './triggers.js';

const T0 = '2026-11-26T10:00:00.000Z';

describe('events/redis-watch', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let own: RedisStore;
  let other: RedisStore;
  let watch: RedisWatch;
  let triggers: Triggers;

  const enqueue = (store: RedisStore, id: string): Promise<void> =>
    store.update((doc) => void doc.projects.push(newProject({ id, enqueuedAt: T0 })));

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.destroy();
  });
  beforeEach(async () => {
    const keyPrefix = RedisServer.prefix('watch');
    own = new RedisStore({ url: redis.url(), keyPrefix });
    other = new RedisStore({ url: redis.url(), keyPrefix });
    triggers = new Triggers();
    watch = new RedisWatch(own, triggers.trigger, 20);
    await watch.start();
    await eventually(() => watch.health().up, 15_000, 'the subscription');
  });
  afterEach(async () => {
    await watch.stop();
    await own.close();
    await other.close();
  });

  it('asks for a cycle when another client commits', async () => {
    await enqueue(other, 'p1');
    expect(await triggers.after(0, /registry changed/, 'the commit of another client')).to.equal('registry changed');
  });

  it('asks for nothing when the store commits itself', async () => {
    await enqueue(own, 'p1');
    // Nothing to wait for: a quiet spell far longer than the debounce, then another client's commit settles it.
    await sleep(500);
    expect(triggers.reasons).to.deep.equal([]);
    await enqueue(other, 'p2');
    await triggers.after(0, /registry changed/, 'the commit of another client');
  });

  it('subscribes again after the server restarted, and reports down meanwhile', async () => {
    await redis.stop(false);
    await eventually(() => !watch.health().up, 15_000, 'the watch to notice the outage');
    expect(watch.health().detail).to.match(/^not subscribed to /);
    await redis.start();
    await eventually(() => watch.health().up, 15_000, 'the watch to subscribe again');
    await enqueue(other, 'p1');
    await triggers.after(0, /registry changed/, 'a commit after the restart');
  });

  it('reports not started once stopped', async () => {
    await watch.stop();
    expect(watch.health()).to.deep.equal({ up: false, detail: 'not started' });
  });
});
