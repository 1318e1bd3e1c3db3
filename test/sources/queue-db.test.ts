/**
 * The Tmux-Orchestrator source against real SQLite files written by Python's
 * sqlite3 module in each of their schema variants: reads, bad inputs, guarded
 * write-back, and a concurrent writer that must lose nothing.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TmuxOrchestratorSourceConfig } from '../../src/config/sources.js';
import { applyTransition, findProject } from '../../src/core/model/apply.js';
import { emptyDocument } from '../../src/core/model/registry-document.js';
import { createLogger } from '../../src/log.js';
import { MemoryStore } from '../helpers/memory-store.js';
import { SourceSet } from '../../src/sources/source-set.js';
import { readQueue, writeRows } from '../../src/sources/tmux-orchestrator/queue-db.js';
import { FULL_READ_EVERY_MS, TmuxOrchestratorSource } from '../../src/sources/tmux-orchestrator/source.js';
import { tempDir } from '../helpers/cli.js';
import { waitUntil } from '../helpers/processes.js';
import { PrivateTmux } from '../helpers/tmux.js';
import { QueueDb } from '../helpers/tmux-orchestrator-db.js';

const log = createLogger({ level: 'error' });
const fast = { busyTimeoutMs: 300 };

describe('Tmux-Orchestrator database', function () {
  this.timeout(120_000);
  let dir: ReturnType<typeof tempDir>;
  let tmux: PrivateTmux;

  beforeEach(() => {
    dir = tempDir('toa-todb-');
    tmux = new PrivateTmux('todb');
  });
  afterEach(() => {
    tmux.destroy();
    dir.cleanup();
  });

  function sourceConfig(db: QueueDb, fields: Partial<TmuxOrchestratorSourceConfig> = {}): TmuxOrchestratorSourceConfig {
    return {
      kind: 'tmux-orchestrator',
      name: 'to',
      idPrefix: 'to-',
      db: db.path,
      tmuxSocket: tmux.socket,
      readOnly: false,
      heal: true,
      busyTimeoutMs: 10_000,
      ...fields,
    };
  }

  describe('reading', () => {
    for (const variant of ['scheduler', 'queue-status', 'original'] as const) {
      it(`reads the ${variant} variant of their schema`, async () => {
        const db = QueueDb.create(dir.path, variant);
        db.insert({ spec_path: '/specs/a.md', status: 'processing', started_at: 1_700_000_000.25 });
        db.insert({ spec_path: '/specs/b.md', status: 'queued' });
        const snapshot = await readQueue(db.path, fast);
        expect(snapshot.rows.map((r) => [r['id'], r['spec_path'], r['status']])).to.deep.equal([
          [1, '/specs/a.md', 'processing'],
          [2, '/specs/b.md', 'queued'],
        ]);
        expect(snapshot.rows[0]?.['started_at']).to.equal(1_700_000_000.25);
        expect(snapshot.schema.columns.includes('session_name')).to.equal(variant !== 'original');
        expect(snapshot.schema.heartbeats).to.equal(variant === 'queue-status');
      });
    }

    it('takes the newest heartbeat of each session from the agents table', async () => {
      const db = QueueDb.create(dir.path, 'queue-status');
      db.sql(
        "INSERT INTO agents (agent_id, last_heartbeat) VALUES ('web-1a2b3c4d:0', '2025-08-20 10:00:00'), ('web-1a2b3c4d:2', '2025-08-20 10:05:00'), ('other-9:1', '2025-08-20 09:00:00')",
      );
      const snapshot = await readQueue(db.path, fast);
      expect(snapshot.heartbeats.get('web-1a2b3c4d')).to.equal(Date.UTC(2025, 7, 20, 10, 5));
      expect(snapshot.heartbeats.get('other-9')).to.equal(Date.UTC(2025, 7, 20, 9));
    });

    it('reads an empty queue as no rows', async () => {
      const db = QueueDb.create(dir.path, 'scheduler');
      expect((await readQueue(db.path, fast)).rows).to.deep.equal([]);
    });

    it('skips the read while neither the database nor its -wal changed', async () => {
      const db = QueueDb.create(dir.path, 'scheduler');
      db.insert({ spec_path: '/specs/a.md', status: 'queued' });
      const source = new TmuxOrchestratorSource(sourceConfig(db), { log, tmuxTimeoutMs: 5000 });
      const doc = emptyDocument();
      const now = Date.now();
      expect((await source.pass(doc, now)).skipped).to.equal(false);
      // The first read opened the file in WAL mode, which may create its -wal: one more read settles it.
      await source.pass(doc, now);
      expect((await source.pass(doc, now + 1000)).skipped).to.equal(true);
      db.insert({ spec_path: '/specs/b.md', status: 'queued' });
      const after = await source.pass(doc, now + 2000);
      expect(after.skipped).to.equal(false);
      expect(after.rows).to.equal(2);
      // The writer closed its connection, which removed the -wal; the read recreated it.
      await source.pass(doc, now + 3000);
      expect((await source.pass(doc, now + 4000)).skipped).to.equal(true);
      expect(
        (await source.pass(doc, now + 3000 + FULL_READ_EVERY_MS)).skipped,
        'a full read at least once a minute',
      ).to.equal(false);
    });
  });

  describe('bad input', () => {
    async function failure(path: string, options = fast): Promise<Error> {
      try {
        await readQueue(path, options);
      } catch (err) {
        return err as Error;
      }
      throw new Error('the read did not fail');
    }

    it('names a missing file', async () => {
      const path = join(dir.path, 'nope.db');
      const source = new TmuxOrchestratorSource(sourceConfig(new QueueDb(path)), { log, tmuxTimeoutMs: 5000 });
      const err = await source.pass(emptyDocument(), Date.now()).then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).to.equal(`${path}: no such file`);
    });

    it('names a file that is not SQLite', async () => {
      const path = join(dir.path, 'task_queue.db');
      writeFileSync(path, 'this is a text file, not a database\n'.repeat(200));
      expect((await failure(path)).message).to.match(new RegExp(`^${path}: not a SQLite database`));
    });

    it('names a database without project_queue', async () => {
      const db = new QueueDb(join(dir.path, 'other.db'));
      db.sql('CREATE TABLE jobs (id INTEGER PRIMARY KEY)');
      expect((await failure(db.path)).message).to.equal(
        `${db.path}: no project_queue table (tables: jobs); is this Tmux-Orchestrator's task_queue.db?`,
      );
    });

    it('names the columns project_queue lacks', async () => {
      const db = new QueueDb(join(dir.path, 'odd.db'));
      db.sql('CREATE TABLE project_queue (id INTEGER PRIMARY KEY, spec TEXT, state TEXT)');
      expect((await failure(db.path)).message).to.equal(
        `${db.path}: project_queue has no column spec_path, status (columns: id, spec, state); needed: id, spec_path, status`,
      );
    });

    it('gives up on a database locked past the busy timeout, naming it', async () => {
      const db = QueueDb.create(dir.path, 'scheduler', 'delete');
      db.insert({ spec_path: '/specs/a.md', status: 'queued' });
      const holder = await db.hold(30);
      try {
        const started = Date.now();
        const err = await failure(db.path, { busyTimeoutMs: 300 });
        expect(err.message).to.match(new RegExp(`^${db.path}: locked by another writer past the busy timeout`));
        expect(Date.now() - started).to.be.at.least(250);
      } finally {
        holder.kill('SIGKILL');
      }
    });
  });

  describe('writing back', () => {
    it('writes only rows that still have the status read, and no column a variant lacks', async () => {
      const db = QueueDb.create(dir.path, 'original');
      const a = db.insert({ spec_path: '/specs/a.md', status: 'processing' });
      const b = db.insert({ spec_path: '/specs/b.md', status: 'processing' });
      db.sql("UPDATE project_queue SET status = 'completed' WHERE id = ?", [b]);
      const written = await writeRows(
        db.path,
        [
          {
            id: a,
            expected: 'processing',
            status: 'failed',
            errorMessage: "zombie: it's gone",
            completedAt: 1_700_000_000.5,
          },
          { id: b, expected: 'processing', status: 'failed', errorMessage: 'zombie', completedAt: 1_700_000_000.5 },
        ],
        ['id', 'spec_path', 'status', 'completed_at', 'error_message'],
        fast,
      );
      expect([...written]).to.deep.equal([a]);
      expect(db.row(a)).to.include({
        status: 'failed',
        error_message: "zombie: it's gone",
        completed_at: 1_700_000_000.5,
      });
      expect(db.row(b)).to.include({ status: 'completed', error_message: null });
      expect(db.integrity()).to.equal('ok');
    });

    it('loses nothing of a concurrent writer doing immediate transactions all through repeated syncs and write-backs', async () => {
      const db = QueueDb.create(dir.path, 'scheduler');
      const counter = db.insert({ spec_path: '/writer/counter.md', status: 'completed', priority: 0 });
      const ids: number[] = [];
      for (let i = 0; i < 12; i++)
        ids.push(
          db.insert({
            spec_path: `/specs/p${i}.md`,
            project_path: `/work/p${i}`,
            status: 'processing',
            started_at: 1_700_000_000 + i,
          }),
        );
      const set = new SourceSet([new TmuxOrchestratorSource(sourceConfig(db), { log, tmuxTimeoutMs: 5000 })], log);
      const store = new MemoryStore();
      const ctx = (now: number) => ({ store, now, dryRun: false, hostId: 'h' });

      const stop = join(dir.path, 'stop-writer');
      const writer = db.writer(stop, 5);
      const written = (): number => Number(db.row(counter)['priority']);
      try {
        let before = 0;
        for (const id of ids) {
          // Each round starts once the writer has committed since the last one began: it writes all through.
          await waitUntil(() => written() > before, 30_000, 'the writer to commit again');
          before = written();
          await set.sync(await store.load(), ctx(Date.now()));
          expect(set.reports()[0], JSON.stringify(set.reports()[0])).to.include({ ok: true });
          // The agent decides this project failed (as a zombie kill would), then writes it back.
          await store.update((doc) => {
            const p = findProject(doc, `to-${id}`);
            if (p)
              applyTransition(doc, p, 'failed', { now: Date.now(), by: 'agent@h', reason: `zombie: pid ${id} killed` });
          });
          await set.writeBack(await store.load(), ctx(Date.now()));
          expect(set.reports()[0], JSON.stringify(set.reports()[0])).to.include({ ok: true, writtenBack: 1 });
        }
      } finally {
        // Stopped and waited for on every path, so a failed round leaves no writer running.
        writeFileSync(stop, '');
        await writer.done.catch(() => undefined);
      }
      const summary = await writer.done;

      expect(summary.failed, 'writer transactions that failed').to.equal(0);
      expect(summary.committed).to.be.above(ids.length);
      expect(db.integrity()).to.equal('ok');
      const rows = db.rows();
      expect(rows.filter((r) => String(r['spec_path']).startsWith('/writer/spec-'))).to.have.length(summary.committed);
      expect(db.row(counter)['priority'], 'every counter increment kept').to.equal(summary.committed);
      for (const id of ids)
        expect(db.row(id)).to.include({
          status: 'failed',
          error_message: `zombie: pid ${id} killed [tmux-orchestrator-agent]`,
        });
    });
  });
});
