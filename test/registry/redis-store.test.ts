/**
 * What only the Redis store has: its key layout, leases and fencing, an
 * outage (fail fast, name the URL without credentials, recover without a
 * restart), repair from the last good copy, migration both ways through the
 * CLI, and CLI commands that exit promptly. A real redis-server on a free
 * loopback port, started once for this file.
 */
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newProject } from '../../src/core/model/project.js';
import { emptyDocument } from '../../src/core/model/registry-document.js';
import { LeaseLostError, RegistryCorruptError, RegistryUnreadableError } from '../../src/errors.js';
import { openStore } from '../../src/registry/open.js';
import { RedisStore } from '../../src/registry/redis-store.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { freePort } from '../helpers/daemon.js';
import { RedisServer, startRedis } from '../helpers/redis.js';
import { rejection } from '../helpers/promises.js';

const T0 = '2026-11-26T10:00:00.000Z';

describe('registry/redis-store', function () {
  this.timeout(60_000);
  let redis: RedisServer;
  let prefix: string;
  const stores: RedisStore[] = [];
  const open = (options: Partial<ConstructorParameters<typeof RedisStore>[0]> = {}): RedisStore => {
    const store = new RedisStore({ url: redis.url(), keyPrefix: prefix, ...options });
    stores.push(store);
    return store;
  };

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.destroy();
  });
  beforeEach(() => {
    prefix = RedisServer.prefix('store');
  });
  afterEach(async () => {
    for (const s of stores.splice(0)) await s.close();
  });

  it('is chosen by a redis:// location; the location shown has no credentials', () => {
    const store = openStore('redis://agent:s3cret@127.0.0.1:6379/2', { redisKeyPrefix: 'q1:' });
    expect(store.backend).to.equal('redis');
    expect(store.location).to.equal('redis://127.0.0.1:6379/2');
    void store.close();
    expect(() => openStore('http://127.0.0.1/x')).to.throw(/unsupported URL scheme/);
    expect(() => openStore('redis://127.0.0.1:6379/db')).to.throw(/database must be a number/);
  });

  it('keeps one hash field per project, and the rest of the document in its own keys', async () => {
    const store = open();
    await store.update((doc) => {
      doc.projects.push(newProject({ id: 'a', enqueuedAt: T0 }), newProject({ id: 'b', enqueuedAt: T0 }));
      doc['orchestrator'] = { shard: 1 };
    });
    expect((await redis.cli(['HKEYS', `${prefix}projects`])).split('\n').filter(Boolean).sort()).to.deep.equal([
      'a',
      'b',
    ]);
    expect(JSON.parse(await redis.cli(['HGET', `${prefix}projects`, 'a']))).to.include({ id: 'a', state: 'queued' });
    const meta = JSON.parse(await redis.cli(['GET', `${prefix}meta`]));
    expect(meta).to.include.keys('version', 'queue', 'intents', 'orchestrator');
    expect(meta).to.not.have.key('projects');
    expect(JSON.parse(await redis.cli(['GET', `${prefix}order`]))).to.deep.equal(['a', 'b']);
    expect((await redis.cli(['GET', `${prefix}rev`])).trim()).to.equal('1');
    // A change to one project writes that project only, and bumps the revision.
    await store.update((doc) => {
      doc.projects[1]!.priority = 9;
    });
    expect((await redis.cli(['GET', `${prefix}rev`])).trim()).to.equal('2');
    // An unchanged document is not written.
    await store.update(() => undefined);
    expect((await redis.cli(['GET', `${prefix}rev`])).trim()).to.equal('2');
  });

  it('a leader lease has one holder; its fencing token grows with each new holder', async () => {
    const store = open();
    const a = store.leaderLease('A/1', 1000);
    const b = store.leaderLease('B/1', 1000);
    const first = await a.acquireOrRenew();
    expect(first).to.include({ leader: true, holder: 'A/1' });
    expect(await b.acquireOrRenew()).to.include({ leader: false, holder: 'A/1', token: first.token });
    expect(await a.acquireOrRenew()).to.include({ leader: true, token: first.token });
    await a.release();
    const second = await b.acquireOrRenew();
    expect(second).to.include({ leader: true, holder: 'B/1' });
    expect(second.token).to.equal((first.token as number) + 1);
  });

  it('a lease not renewed lapses after its TTL and another agent takes it', async () => {
    const store = open();
    await store.leaderLease('A/1', 300).acquireOrRenew();
    const b = store.leaderLease('B/1', 300);
    const waiting = await b.acquireOrRenew();
    expect(waiting.leader).to.equal(false);
    expect(waiting.expiresInMs).to.be.within(1, 300);
    await new Promise((r) => setTimeout(r, (waiting.expiresInMs ?? 300) + 30));
    expect((await b.acquireOrRenew()).leader).to.equal(true);
  });

  it('refuses a queue-wide write whose fencing token is stale, and writes nothing', async () => {
    const store = open();
    const old = await store.leaderLease('A/1', 200).acquireOrRenew();
    await store.update((doc) => void doc.projects.push(newProject({ id: 'p1', enqueuedAt: T0 })), { fence: old.token });
    await new Promise((r) => setTimeout(r, 250));
    const next = await store.leaderLease('B/1', 5000).acquireOrRenew();
    const err = await rejection(store.update((doc) => void (doc.projects[0]!.priority = 7), { fence: old.token }));
    expect(err).to.be.instanceOf(LeaseLostError);
    expect((err as Error).message).to.match(/another agent leads now/);
    expect((await store.load()).projects[0]?.priority).to.equal(0);
    await store.update((doc) => void (doc.projects[0]!.priority = 8), { fence: next.token });
    // Writes that are not queue-wide carry no token and are never fenced.
    await store.update((doc) => void (doc.projects[0]!.name = 'x'));
    expect((await store.load()).projects[0]).to.include({ priority: 8, name: 'x' });
  });

  it('per-project action leases: one agent per project until released', async () => {
    const store = open();
    const a = store.projectLeases('A/1', 5000);
    const b = store.projectLeases('B/1', 5000);
    expect([...(await a.acquire(['p1', 'p2']))].sort()).to.deep.equal(['p1', 'p2']);
    expect([...(await b.acquire(['p1', 'p3']))]).to.deep.equal(['p3']);
    expect([...(await a.acquire(['p1']))], 'a holder extends its own lease').to.deep.equal(['p1']);
    await a.releaseAll();
    expect([...(await b.acquire(['p1', 'p2']))].sort()).to.deep.equal(['p1', 'p2']);
  });

  it("announces other clients' commits to a watcher, not its own", async () => {
    const store = open();
    const other = open();
    let seen = 0;
    const watch = await store.watchChanges(() => (seen += 1));
    try {
      expect(watch.health().up).to.equal(true);
      await store.update((doc) => void doc.projects.push(newProject({ id: 'mine', enqueuedAt: T0 })));
      await other.update((doc) => void doc.projects.push(newProject({ id: 'theirs', enqueuedAt: T0 })));
      await other.update((_doc, tx) => tx.audit({ at: T0, type: 'note', project: null, by: 'test' }));
      const deadline = Date.now() + 15_000;
      while (seen < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 100));
      expect(seen).to.equal(2);
    } finally {
      await watch.stop();
    }
  });

  it('repair restores the last good copy and keeps the invalid keys', async () => {
    const store = open();
    await store.update(
      (doc) =>
        void doc.projects.push(newProject({ id: 'p1', enqueuedAt: T0 }), newProject({ id: 'p2', enqueuedAt: T0 })),
    );
    expect((await store.repair()).restored).to.equal(false);
    await redis.cli(['HSET', `${prefix}projects`, 'p2', '{"id":"p2","state":"gone"']);
    const broken = await store.check();
    expect(broken.ok).to.equal(false);
    expect(broken.lastGood).to.equal(true);
    expect(broken.issues[0]).to.match(/project record "p2" .* is not valid JSON/);
    const err = await rejection(store.load());
    expect(err).to.be.instanceOf(RegistryCorruptError);
    const copy = (err as RegistryCorruptError).corruptCopy as string;
    expect(copy).to.match(new RegExp(`^${prefix}corrupt:[0-9a-f]{16}$`));
    const repaired = await store.repair();
    expect(repaired.restored).to.equal(true);
    expect((await store.load()).projects.map((p) => p.id)).to.deep.equal(['p1', 'p2']);
    expect(await redis.cli(['GET', copy])).to.contain('"state\\":\\"gone\\"');
    expect((await store.readAudit(1))[0]).to.include({ type: 'repair' });
  });

  it('repair without a last good copy refuses and changes nothing', async () => {
    const store = open();
    await redis.cli(['SET', `${prefix}meta`, '{not json']);
    const err = await rejection(store.repair());
    expect(err).to.be.instanceOf(RegistryUnreadableError);
    expect((err as Error).message).to.match(/no last good copy/);
    expect((await redis.cli(['GET', `${prefix}meta`])).trim()).to.equal('{not json');
  });

  it('an unreachable Redis fails fast naming the URL without credentials, and works again once it is back', async () => {
    const server = new RedisServer();
    server.port = await freePort();
    const store = new RedisStore({
      url: `redis://default:hunter2@127.0.0.1:${server.port}/0`,
      keyPrefix: prefix,
      timeoutMs: 500,
    });
    stores.push(store);
    try {
      for (let i = 0; i < 2; i++) {
        const started = Date.now();
        const err = await rejection(store.load());
        expect(err).to.be.instanceOf(RegistryUnreadableError);
        expect((err as Error).message).to.contain(`registry redis://127.0.0.1:${server.port}/0 is unreachable`);
        expect((err as Error).message).to.not.contain('hunter2');
        // Fails fast (the timeout is 500 ms) rather than retrying forever; generous for a busy machine.
        expect(Date.now() - started).to.be.below(5000);
      }
      await server.start();
      await server.cli(['CONFIG', 'SET', 'requirepass', 'hunter2']);
      // Reconnected in the background: the same store works without being reopened.
      const deadline = Date.now() + 5000;
      for (;;) {
        try {
          await store.update((doc) => void doc.projects.push(newProject({ id: 'back', enqueuedAt: T0 })));
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect((await store.load()).projects.map((p) => p.id)).to.deep.equal(['back']);
    } finally {
      await store.close();
      await server.destroy();
    }
  });

  describe('through the CLI', () => {
    let dir: ReturnType<typeof tempDir>;
    beforeEach(() => (dir = tempDir()));
    afterEach(() => dir.cleanup());
    const cli = (args: string[], env: Record<string, string> = {}) =>
      runCli(args, { cwd: dir.path, env: { AGENT_REDIS_KEY_PREFIX: prefix, LOG_LEVEL: 'error', ...env } });

    it('migrates a JSON registry to Redis and back, verified by counts and sha256; a non-empty target needs --force', async () => {
      const file = join(dir.path, 'registry.json');
      const doc = {
        ...emptyDocument(),
        orchestrator: { shard: 2 },
        projects: [
          newProject({ id: 'q1', enqueuedAt: T0, priority: 2 }),
          newProject({ id: 'f1', enqueuedAt: T0, state: 'failed', attempts: 2, endedAt: T0, failureReason: 'zombie' }),
          newProject({ id: 'c1', enqueuedAt: T0, state: 'completed', endedAt: T0 }),
        ],
      };
      writeFileSync(file, JSON.stringify(doc));
      writeFileSync(
        join(dir.path, 'audit.jsonl'),
        `${JSON.stringify({ at: T0, type: 'note', project: 'q1', by: 'test', reason: 'old' })}\n`,
      );

      const toRedis = await cli(['registry', 'migrate', '--from', file, '--to', redis.url(), '--json']);
      expect(toRedis.code, toRedis.stderr).to.equal(0);
      const report = JSON.parse(toRedis.stdout);
      expect(report).to.include({ verified: true, replaced: false, auditEntries: 1 });
      expect(report.projects).to.deep.equal({ source: 3, target: 3 });
      expect(report.byState.target).to.include({ queued: 1, failed: 1, completed: 1 });
      expect(report.sha256.source)
        .to.match(/^[0-9a-f]{64}$/)
        .and.to.equal(report.sha256.target);

      const status = await cli(['status', '--json'], { AGENT_REGISTRY: redis.url() });
      expect(status.code, status.stderr).to.equal(0);

      const again = await cli(['registry', 'migrate', '--from', file, '--to', redis.url()]);
      expect(again.code).to.equal(1);
      expect(again.stderr).to.match(/already holds 3 projects.*--force/);

      const back = join(dir.path, 'back', 'registry.json');
      const toJson = await cli(['registry', 'migrate', '--from', redis.url(), '--to', back]);
      expect(toJson.code, toJson.stderr).to.equal(0);
      expect(toJson.stdout).to.contain(`sha256    ${report.sha256.source} (source)`);
      expect(toJson.stdout).to.contain('verified: counts and checksum match');
      const roundTrip = JSON.parse(readFileSync(back, 'utf8'));
      expect(roundTrip.orchestrator).to.deep.equal({ shard: 2 });
      expect(roundTrip.projects.map((p: { id: string }) => p.id)).to.deep.equal(['q1', 'f1', 'c1']);
      const audit = readFileSync(join(dir.path, 'back', 'audit.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(audit.map((e) => e.reason)).to.deep.equal([
        'old',
        `registry migrated from ${file}`,
        `registry migrated from ${redis.url()}`,
      ]);

      const forced = await cli(['registry', 'migrate', '--from', back, '--to', redis.url(), '--force']);
      expect(forced.code, forced.stderr).to.equal(0);
      expect(forced.stdout).to.contain('(replaced what the target held)');
    });

    it('refuses to migrate onto itself (exit 2) and from an unreadable source (exit 3)', async () => {
      const same = await cli(['registry', 'migrate', '--from', redis.url(), '--to', redis.url()]);
      expect(same.code).to.equal(2);
      const port = await freePort();
      const dead = await cli(
        ['registry', 'migrate', '--from', `redis://127.0.0.1:${port}/0`, '--to', join(dir.path, 'r.json')],
        { AGENT_REDIS_TIMEOUT_MS: '500' },
      );
      expect(dead.code).to.equal(3);
      expect(dead.stderr).to.contain(`redis://127.0.0.1:${port}/0 is unreachable`);
    });

    it('commands exit promptly: at once when Redis answers, with exit 3 and the URL when it does not', async () => {
      let started = Date.now();
      const ok = await cli(['enqueue', '--id', 'p1'], { AGENT_REGISTRY: redis.url() });
      expect(ok.code, ok.stderr).to.equal(0);
      expect(Date.now() - started).to.be.below(15_000);
      const port = await freePort();
      started = Date.now();
      const down = await cli(['status'], {
        AGENT_REGISTRY: `redis://127.0.0.1:${port}/0`,
        AGENT_REDIS_TIMEOUT_MS: '500',
      });
      expect(down.code).to.equal(3);
      expect(down.stderr).to.contain(`registry redis://127.0.0.1:${port}/0 is unreachable`);
      expect(Date.now() - started).to.be.below(15_000);
    });
  });
});
