/**
 * `agent sync tmux-orchestrator` against a real task_queue.db (written by
 * Python's sqlite3 in their schema), a private tmux server with sessions
 * named like theirs, and real processes.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CycleResult } from '../../src/cycle.js';
import { isRunning, waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';
import { QueueDb } from '../helpers/tmux-orchestrator-db.js';

/** Ignores SIGHUP, so it outlives its tmux session: a zombie once the session is gone. */
const HUP_IMMUNE = ['node', '-e', "process.on('SIGHUP', () => {}); setInterval(() => {}, 1000);"];
const now = () => Date.now() / 1000;

describe('agent sync tmux-orchestrator', function () {
  this.timeout(180_000);
  let q: TestQueue;
  let db: QueueDb;

  beforeEach(() => {
    q = new TestQueue();
    db = QueueDb.create(q.dir.path, 'queue-status');
  });
  afterEach(async () => {
    await q.destroy();
  });

  async function sync(
    extra: string[] = [],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; result: CycleResult; stderr: string }> {
    const r = await q.agent(
      ['sync', 'tmux-orchestrator', '--db', db.path, '--tmux-socket', q.tmux.socket, '--json', ...extra],
      env,
    );
    try {
      return { code: r.code, result: JSON.parse(r.stdout) as CycleResult, stderr: r.stderr };
    } catch {
      throw new Error(`sync printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    }
  }

  /** Their queue: a project whose session will die under a live process, a live one, a credit-paused one, a queued one, an old finished one. */
  function theirQueue(): {
    zombie: number;
    live: number;
    paused: number;
    queued: number;
    zombiePid: number;
    livePid: number;
    pausedPid: number;
  } {
    const zombiePid = q.tmux.newSession('mobile-app-1a2b3c4d', HUP_IMMUNE, q.dir.path);
    const livePid = q.tmux.newSession('web-shop-impl-9f8e7d6c', ['sleep', '600']);
    const pausedPid = q.tmux.newSession('billing-5e6f7a8b', ['sleep', '600']);
    for (const pid of [zombiePid, livePid, pausedPid]) q.processes.track(pid);
    const zombie = db.insert({
      spec_path: '/specs/mobile-app.md',
      project_path: q.dir.path,
      status: 'processing',
      enqueued_at: now() - 600,
      started_at: now() - 60,
      session_name: 'mobile-app-1a2b3c4d',
      batch_id: 'b1',
    });
    const live = db.insert({
      spec_path: '/specs/web-shop.md',
      status: 'processing',
      enqueued_at: '2025-08-20 10:00:00',
      started_at: now() - 30,
      main_session: 'web-shop-impl-9f8e7d6c',
    });
    const paused = db.insert({
      spec_path: '/specs/billing.md',
      status: 'credit_paused',
      started_at: now() - 30,
      orchestrator_session: 'billing-5e6f7a8b',
    });
    const queued = db.insert({ spec_path: '/specs/later.md', status: 'queued', priority: 5 });
    db.insert({ spec_path: '/specs/old.md', status: 'COMPLETED', completed_at: now() - 86_400 });
    return { zombie, live, paused, queued, zombiePid, livePid, pausedPid };
  }

  it('kills a zombie of their queue and writes it back as failed with its reason, leaving live rows and sessions alone', async () => {
    const t = theirQueue();
    const first = await sync();
    expect(first.code, first.stderr).to.equal(0);
    expect(first.result.sourceSync?.[0]).to.include({ ok: true, rows: 4, created: 4 });
    expect(q.get(`to-${t.zombie}`)).to.include({
      state: 'processing',
      name: 'mobile-app',
      pid: t.zombiePid,
      session: 'mobile-app-1a2b3c4d',
    });
    expect(q.get(`to-${t.paused}`)).to.include({ state: 'processing', pid: t.pausedPid });
    expect(q.get(`to-${t.paused}`).source).to.include({ status: 'credit_paused' });
    expect(q.get(`to-${t.queued}`)).to.include({ state: 'queued', priority: 5 });
    expect(q.read().projects.map((p) => p.id)).to.not.include('to-5');

    q.tmux.killSession('mobile-app-1a2b3c4d');
    expect(isRunning(t.zombiePid), 'the process outlives its session').to.equal(true);
    const second = await sync();
    expect(second.code, second.stderr).to.equal(0);
    expect(second.result.transitions.map((x) => `${x.project} ${x.from}->${x.to}`)).to.deep.equal([
      `to-${t.zombie} processing->zombie`,
      `to-${t.zombie} zombie->failed`,
    ]);
    expect(second.result.actions).to.deep.include({
      project: `to-${t.zombie}`,
      action: 'kill_tree',
      outcome: 'success',
      detail: 'killed a tree of 1 process',
      reason: `pid ${t.zombiePid} alive but session mobile-app-1a2b3c4d missing on tmux server ${q.tmux.socket}`,
    });
    expect(second.result.sourceSync?.[0]).to.include({ ok: true, writtenBack: 1 });
    await waitUntil(() => !isRunning(t.zombiePid), 10_000, 'the zombie to be gone');

    const row = db.row(t.zombie);
    expect(row['status']).to.equal('failed');
    expect(String(row['error_message'])).to.match(
      new RegExp(
        `^zombie: process tree of pid ${t.zombiePid} killed \\(session mobile-app-1a2b3c4d missing on tmux server ${q.tmux.socket}\\)`,
      ),
    );
    expect(Number(row['completed_at'])).to.be.closeTo(now(), 60);
    expect(db.row(t.live)).to.include({ status: 'processing', error_message: null, completed_at: null });
    expect(db.row(t.paused)).to.include({ status: 'credit_paused', completed_at: null });
    expect(db.row(t.queued)).to.include({ status: 'queued' });
    expect(db.integrity()).to.equal('ok');
    expect(q.tmux.sessions().sort()).to.deep.equal(['billing-5e6f7a8b', 'web-shop-impl-9f8e7d6c']);
    expect(isRunning(t.livePid) && isRunning(t.pausedPid)).to.equal(true);
    expect(q.get(`to-${t.zombie}`)).to.include({ state: 'failed', failureReason: 'zombie', nextAttemptAt: null });
    expect(q.get(`to-${t.zombie}`).source).to.include({ status: 'failed' });
    expect(q.get(`to-${t.queued}`)).to.include({ state: 'queued', session: null, pid: null });

    const third = await sync();
    expect(third.result.transitions).to.deep.equal([]);
    expect(third.result.sourceSync?.[0]).to.include({ ok: true, moved: 0, writtenBack: 0 });
  });

  it('follows a status their scheduler writes', async () => {
    const t = theirQueue();
    await sync();
    db.sql("UPDATE project_queue SET status = 'COMPLETED', completed_at = ? WHERE id = ?", [now(), t.live]);
    const { result } = await sync();
    expect(result.sourceSync?.[0]?.moves).to.deep.equal([
      {
        project: `to-${t.live}`,
        from: 'processing',
        to: 'completed',
        reason: 'source tmux-orchestrator: status processing -> COMPLETED',
      },
    ]);
    expect(q.get(`to-${t.live}`)).to.include({ state: 'completed' });
    expect(db.row(t.live)['status'], 'their value stays as they wrote it').to.equal('COMPLETED');
  });

  it('with --read-only heals but never writes to their database', async () => {
    const t = theirQueue();
    await sync(['--read-only']);
    q.tmux.killSession('mobile-app-1a2b3c4d');
    const { code, result } = await sync(['--read-only']);
    expect(code).to.equal(0);
    expect(result.transitions.map((x) => x.to)).to.deep.equal(['zombie', 'failed']);
    expect(result.sourceSync?.[0]).to.include({ writtenBack: 0 });
    expect(db.row(t.zombie)).to.include({ status: 'processing', error_message: null });
  });

  it('with --dry-run changes nothing anywhere', async () => {
    const t = theirQueue();
    q.tmux.killSession('mobile-app-1a2b3c4d');
    const { code, result } = await sync(['--dry-run']);
    expect(code).to.equal(0);
    expect(result.dryRun).to.equal(true);
    expect(result.sourceSync?.[0]).to.include({ ok: true, created: 4 });
    expect(existsSync(q.registry)).to.equal(false);
    expect(db.row(t.zombie)).to.include({ status: 'processing' });
    expect(isRunning(t.zombiePid)).to.equal(true);
  });

  describe('bad input', () => {
    it('wants --db (exit 2)', async () => {
      const r = await q.agent(['sync', 'tmux-orchestrator']);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain("required option '--db <path>' not specified");
    });

    it('names a --db that does not exist (exit 2)', async () => {
      const path = join(q.dir.path, 'missing', 'task_queue.db');
      const r = await q.agent(['sync', 'tmux-orchestrator', '--db', path]);
      expect(r.code).to.equal(2);
      expect(r.stderr).to.contain(`--db ${path}: no such file; give the path of Tmux-Orchestrator's task_queue.db`);
    });

    it('fails a pass on a file that is not SQLite (exit 1), changing nothing and holding kills of its projects', async () => {
      const t = theirQueue();
      await sync();
      const before = q.get(`to-${t.live}`);
      writeFileSync(db.path, 'not a database\n'.repeat(500));
      q.tmux.killSession('mobile-app-1a2b3c4d');
      const { code, result, stderr } = await sync();
      expect(code).to.equal(1);
      expect(result.sourceSync?.[0]).to.include({ ok: false });
      expect(result.sourceSync?.[0]?.error).to.match(new RegExp(`^${db.path}: not a SQLite database`));
      expect(stderr).to.contain(`source tmux-orchestrator (${db.path}): FAILED: ${db.path}: not a SQLite database`);
      expect(result.blocked).to.deep.include({
        project: `to-${t.zombie}`,
        action: 'kill_tree',
        reason: 'scan_failed',
        detail: `source tmux-orchestrator failed this cycle: ${result.sourceSync?.[0]?.error ?? ''}`,
      });
      expect(isRunning(t.zombiePid), 'no kill on a failed source').to.equal(true);
      expect(q.get(`to-${t.live}`)).to.deep.equal(before);
    });

    it('fails a pass on a database without project_queue (exit 1), naming it', async () => {
      const other = new QueueDb(join(q.dir.path, 'other.db'));
      other.sql('CREATE TABLE jobs (id INTEGER PRIMARY KEY)');
      const r = await q.agent(['sync', 'tmux-orchestrator', '--db', other.path, '--tmux-socket', q.tmux.socket]);
      expect(r.code).to.equal(1);
      expect(r.stderr).to.contain(`${other.path}: no project_queue table (tables: jobs)`);
      expect(existsSync(q.registry)).to.equal(false);
    });

    it('fails a pass on a database locked past the busy timeout (exit 1), naming it', async () => {
      const lockedDir = join(q.dir.path, 'locked');
      mkdirSync(lockedDir);
      const locked = QueueDb.create(lockedDir, 'scheduler', 'delete');
      const config = join(q.dir.path, 'agent.yaml');
      writeFileSync(config, `sources:\n  - kind: tmux-orchestrator\n    db: ${locked.path}\n    busyTimeoutMs: 300\n`);
      const holder = await locked.hold(60);
      try {
        const r = await q.agent([
          '--config',
          config,
          'sync',
          'tmux-orchestrator',
          '--db',
          locked.path,
          '--tmux-socket',
          q.tmux.socket,
        ]);
        expect(r.code).to.equal(1);
        expect(r.stderr).to.contain(`${locked.path}: locked by another writer past the busy timeout`);
      } finally {
        holder.kill('SIGKILL');
      }
    });
  });
});
