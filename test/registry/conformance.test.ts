/**
 * One contract, every backend: the memory, JSON-file and Redis stores must
 * behave alike for load, update, validation, unknown fields, audit, the
 * audit tail, a change that throws, corrupt data and concurrent writers.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newProject, type Project } from '../../src/core/model/project.js';
import { emptyDocument, type RegistryDocument } from '../../src/core/model/registry-document.js';
import { RegistryCorruptError } from '../../src/errors.js';
import { exitCodeOf } from '../../src/cli/exit-codes.js';
import { JsonStore } from '../../src/registry/json-store.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { RedisStore } from '../../src/registry/redis-store.js';
import type { AuditEntry, RegistryStore } from '../../src/registry/store.js';
import { tempDir } from '../helpers/cli.js';
import { RedisServer, startRedis } from '../helpers/redis.js';
import { rejection } from '../helpers/promises.js';

const T0 = '2026-11-26T10:00:00.000Z';

/** One registry of a backend: stores opened on it, and a way to break what it holds. */
interface Fixture {
  /** A store on the registry; a second call gives another client of the same registry where the backend has clients. */
  open(): RegistryStore;
  /** Overwrite the stored registry with a project that does not validate (state "running"). */
  corrupt(): Promise<void>;
  cleanup(): Promise<void>;
}

interface Backend {
  name: string;
  fixture(): Promise<Fixture>;
}

const BAD_PROJECT = { id: 'p1', state: 'running', enqueuedAt: T0 };

let redis: RedisServer | null = null;

const BACKENDS: Backend[] = [
  {
    name: 'memory',
    fixture: async () => {
      const store = new MemoryStore();
      return {
        open: () => store,
        corrupt: async () => {
          // The memory twin keeps its document as text, like a file.
          (store as unknown as { text: string }).text = JSON.stringify({ version: 1, projects: [BAD_PROJECT] });
        },
        cleanup: async () => undefined,
      };
    },
  },
  {
    name: 'json',
    fixture: async () => {
      const dir = tempDir();
      const path = join(dir.path, 'registry.json');
      return {
        open: () => new JsonStore({ path }),
        corrupt: async () => writeFileSync(path, JSON.stringify({ version: 1, projects: [BAD_PROJECT] })),
        cleanup: async () => dir.cleanup(),
      };
    },
  },
  {
    name: 'redis',
    fixture: async () => {
      redis ??= await startRedis();
      const server = redis;
      const keyPrefix = RedisServer.prefix('conf');
      const opened: RegistryStore[] = [];
      return {
        open: () => {
          const store = new RedisStore({ url: server.url(), keyPrefix });
          opened.push(store);
          return store;
        },
        corrupt: async () => {
          await server.cli(['HSET', `${keyPrefix}projects`, 'p1', JSON.stringify(BAD_PROJECT)]);
        },
        cleanup: async () => {
          for (const s of opened) await s.close();
        },
      };
    },
  },
];

function aProject(id: string, fields: Partial<Project> = {}): Project {
  return newProject({ id, enqueuedAt: T0, ...fields });
}

function note(project: string | null, reason: string): AuditEntry {
  return { at: T0, type: 'note', project, by: 'test', reason };
}

describe('registry store conformance', () => {
  after(async () => {
    await redis?.destroy();
    redis = null;
  });

  for (const backend of BACKENDS) {
    describe(backend.name, function () {
      this.timeout(30_000);
      let fx: Fixture;
      let store: RegistryStore;
      beforeEach(async () => {
        fx = await backend.fixture();
        store = fx.open();
      });
      afterEach(async () => {
        await fx.cleanup();
      });

      it('loads an empty registry when nothing is stored', async () => {
        expect(await store.load()).to.deep.equal(emptyDocument());
      });

      it('commits an update and returns what the change returned', async () => {
        const result = await store.update((doc) => {
          doc.projects.push(aProject('p1', { priority: 3 }), aProject('p2'));
          return 'done';
        });
        expect(result).to.equal('done');
        const doc = await fx.open().load();
        expect(doc.projects.map((p) => [p.id, p.priority])).to.deep.equal([
          ['p1', 3],
          ['p2', 0],
        ]);
      });

      it('keeps the order of projects, also after removing and adding', async () => {
        await store.update((doc) => void doc.projects.push(aProject('c'), aProject('a'), aProject('b')));
        await store.update((doc) => {
          doc.projects = doc.projects.filter((p) => p.id !== 'a');
          doc.projects.unshift(aProject('z'));
        });
        expect((await fx.open().load()).projects.map((p) => p.id)).to.deep.equal(['z', 'c', 'b']);
      });

      it('normalises on write: missing optional fields get their defaults', async () => {
        await store.update(
          (doc) => void doc.projects.push({ id: 'p1', state: 'queued', enqueuedAt: T0 } as unknown as Project),
        );
        const p = (await store.load()).projects[0];
        expect(p).to.include({ id: 'p1', priority: 0, host: null, attempts: 0 });
        expect(p?.breaker.state).to.equal('closed');
      });

      it('preserves unknown fields of projects and of the document', async () => {
        await store.update((doc) => {
          doc['orchestrator'] = { shard: 3 };
          doc.projects.push({ ...aProject('p1'), spec: { file: 'spec.md', tokens: 12 } });
        });
        await store.update((doc) => {
          doc.projects[0]!.priority = 5;
        });
        const doc = (await fx.open().load()) as RegistryDocument & { orchestrator?: unknown };
        expect(doc.orchestrator).to.deep.equal({ shard: 3 });
        expect((doc.projects[0] as Project & { spec?: unknown }).spec).to.deep.equal({ file: 'spec.md', tokens: 12 });
        expect(doc.projects[0]?.priority).to.equal(5);
      });

      it('refuses to write a document that does not validate, and writes nothing', async () => {
        await store.update((doc, tx) => {
          doc.projects.push(aProject('p1'));
          tx.audit(note('p1', 'first'));
        });
        const err = await rejection(
          store.update((doc, tx) => {
            (doc.projects[0] as { state: string }).state = 'lost';
            doc.projects.push(aProject('p2'));
            tx.audit(note('p1', 'never'));
          }),
        );
        expect(err).to.be.instanceOf(RegistryCorruptError);
        expect((err as Error).message).to.match(/refusing to write an invalid registry: project "p1"/);
        expect((await store.load()).projects.map((p) => [p.id, p.state])).to.deep.equal([['p1', 'queued']]);
        expect((await store.readAudit(10)).map((e) => e['reason'])).to.deep.equal(['first']);
      });

      it('writes nothing, audit included, when the change throws', async () => {
        await store.update((doc) => void doc.projects.push(aProject('p1')));
        const err = await rejection(
          store.update((doc, tx) => {
            doc.projects.length = 0;
            tx.audit(note(null, 'never'));
            throw new Error('boom');
          }),
        );
        expect((err as Error).message).to.equal('boom');
        expect((await store.load()).projects.map((p) => p.id)).to.deep.equal(['p1']);
        expect(await store.readAudit(10)).to.deep.equal([]);
      });

      it('appends audit lines in order with the commit; readAudit gives the newest, oldest first', async () => {
        for (let i = 1; i <= 5; i++) {
          await store.update((doc, tx) => {
            doc.projects.push(aProject(`p${i}`));
            tx.audit(note(`p${i}`, `n${i}`));
          });
        }
        expect((await store.readAudit(3)).map((e) => e['reason'])).to.deep.equal(['n3', 'n4', 'n5']);
        expect((await fx.open().readAudit(100)).map((e) => e['reason'])).to.deep.equal(['n1', 'n2', 'n3', 'n4', 'n5']);
      });

      it('writes the audit lines of an update that leaves the document unchanged', async () => {
        await store.update((_doc, tx) => tx.audit(note(null, 'only audit')));
        expect((await store.readAudit(10)).map((e) => e['reason'])).to.deep.equal(['only audit']);
        expect(await store.load()).to.deep.equal(emptyDocument());
      });

      it('tails the audit log of every writer from a cursor; a null cursor starts at the end', async () => {
        await store.update((_d, tx) => tx.audit(note(null, 'before')));
        const start = await store.readAuditSince(null);
        expect(start.entries).to.deep.equal([]);
        const other = fx.open();
        await other.update((_d, tx) => {
          tx.audit(note(null, 'a'));
          tx.audit(note(null, 'b'));
        });
        await store.update((_d, tx) => tx.audit(note(null, 'c')));
        const next = await store.readAuditSince(start.cursor);
        expect(next.entries.map((e) => e['reason'])).to.deep.equal(['a', 'b', 'c']);
        const again = await store.readAuditSince(next.cursor);
        expect(again.entries).to.deep.equal([]);
        await other.update((_d, tx) => tx.audit(note(null, 'd')));
        expect((await store.readAuditSince(again.cursor)).entries.map((e) => e['reason'])).to.deep.equal(['d']);
      });

      it('archives projects with the commit without failing it', async () => {
        await store.update(
          (doc) => void doc.projects.push(aProject('old', { state: 'completed', endedAt: T0 }), aProject('new')),
        );
        await store.update((doc, tx) => {
          const old = doc.projects.find((p) => p.id === 'old')!;
          tx.archive(old);
          doc.projects = doc.projects.filter((p) => p !== old);
        });
        expect((await store.load()).projects.map((p) => p.id)).to.deep.equal(['new']);
      });

      it('refuses corrupt stored data on every read and write, and never overwrites it', async () => {
        await store.update((doc) => void doc.projects.push(aProject('p1')));
        await fx.corrupt();
        const loadErr = await rejection(fx.open().load());
        expect(loadErr).to.be.instanceOf(RegistryCorruptError);
        expect(exitCodeOf(loadErr), 'exit code').to.equal(3);
        expect((loadErr as Error).message).to.match(/field "state": must be one of queued, processing/);
        let called = false;
        const updateErr = await rejection(
          store.update((doc) => {
            called = true;
            doc.projects.length = 0;
          }),
        );
        expect(updateErr).to.be.instanceOf(RegistryCorruptError);
        expect(called, 'the change must not run on a corrupt registry').to.equal(false);
        const health = await store.check();
        expect(health.ok).to.equal(false);
        expect(health.issues.join('\n')).to.match(/"state"/);
        // Still the same corrupt data: nothing was written over it.
        expect(await rejection(store.load())).to.be.instanceOf(RegistryCorruptError);
      });

      it('loses no update when several clients write at once', async () => {
        const writers = 4;
        const each = 15;
        const clients = Array.from({ length: writers }, () => fx.open());
        await Promise.all(
          clients.map(async (client, w) => {
            for (let i = 0; i < each; i++) {
              await client.update((doc, tx) => {
                doc['counter'] = ((doc['counter'] as number | undefined) ?? 0) + 1;
                doc.projects.push(aProject(`w${w}-${i}`));
                tx.audit(note(`w${w}-${i}`, 'added'));
              });
            }
          }),
        );
        const doc = await store.load();
        expect(doc['counter']).to.equal(writers * each);
        expect(doc.projects).to.have.length(writers * each);
        expect(await store.readAudit(1000)).to.have.length(writers * each);
      });
    });
  }
});
