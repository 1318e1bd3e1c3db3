/**
 * `agent serve` with a `sources` configuration: every cycle syncs a real
 * Tmux-Orchestrator database and a tmux-sessions pattern, heals a zombie of
 * their queue, writes it back, and reports source health on /metrics and
 * /readyz.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { isRunning } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';
import { QueueDb } from '../helpers/tmux-orchestrator-db.js';

const HUP_IMMUNE = ['node', '-e', "process.on('SIGHUP', () => {}); setInterval(() => {}, 1000);"];

interface Ready {
  ready: boolean;
  sources?: { source: string; kind: string; up: boolean; error: string | null }[];
}

describe('agent serve with sources', function () {
  this.timeout(180_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;

  beforeEach(() => {
    q = new TestQueue({ AGENT_SCAN_SCHEDULE: '*/2 * * * * *' });
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  const metrics = async (): Promise<string> => (await fetch(`${agent!.url}/metrics`)).text();
  const ready = async (): Promise<{ status: number; body: Ready }> => {
    const r = await fetch(`${agent!.url}/readyz`);
    return { status: r.status, body: (await r.json()) as Ready };
  };

  it('heals a zombie of their queue, writes it back, leaves the live rows alone and reports the sources up', async () => {
    const db = QueueDb.create(q.dir.path, 'scheduler');
    const zombiePid = q.tmux.newSession('mobile-app-1a2b3c4d', HUP_IMMUNE);
    const livePid = q.tmux.newSession('web-shop-impl-9f8e7d6c', ['sleep', '600']);
    const squadPid = q.tmux.newSession('claudesquad_x', ['sleep', '600']);
    for (const pid of [zombiePid, livePid, squadPid]) q.processes.track(pid);
    const zombie = db.insert({
      spec_path: '/specs/mobile-app.md',
      status: 'processing',
      started_at: Date.now() / 1000 - 30,
      session_name: 'mobile-app-1a2b3c4d',
    });
    const live = db.insert({
      spec_path: '/specs/web-shop.md',
      status: 'processing',
      started_at: Date.now() / 1000 - 30,
      session_name: 'web-shop-impl-9f8e7d6c',
    });
    const sources = [
      { kind: 'tmux-orchestrator', db: db.path, tmuxSocket: q.tmux.socket },
      { kind: 'tmux-sessions', name: 'squad', pattern: '^claudesquad_', tmuxSocket: q.tmux.socket },
    ];
    agent = await startAgent({ ...q.env, AGENT_SOURCES: JSON.stringify(sources) }, q.dir.path);
    await eventually(
      () => q.read().projects.some((p) => p.id === `to-${zombie}` && p.pid === zombiePid),
      30_000,
      'the import of their queue',
    );
    expect(q.get('ts-claudesquad_x')).to.include({ state: 'processing', pid: squadPid });

    q.tmux.killSession('mobile-app-1a2b3c4d');
    await eventually(() => db.row(zombie)['status'] === 'failed', 30_000, 'the zombie written back as failed');
    expect(String(db.row(zombie)['error_message'])).to.match(
      new RegExp(`^zombie: process tree of pid ${zombiePid} killed`),
    );
    expect(isRunning(zombiePid)).to.equal(false);
    expect(db.row(live)).to.include({ status: 'processing', error_message: null });
    expect(isRunning(livePid) && isRunning(squadPid)).to.equal(true);
    expect(q.tmux.sessions().sort()).to.deep.equal(['claudesquad_x', 'web-shop-impl-9f8e7d6c']);
    expect(db.integrity()).to.equal('ok');

    const text = await metrics();
    expect(text).to.match(/^orchestrator_source_up\{source="tmux-orchestrator"\} 1$/m);
    expect(text).to.match(/^orchestrator_source_up\{source="squad"\} 1$/m);
    expect(text).to.match(/^orchestrator_source_sync_duration_seconds_count\{source="tmux-orchestrator"\} [1-9]/m);
    const r = await ready();
    expect(r.status).to.equal(200);
    expect(r.body.sources).to.deep.include({
      source: 'tmux-orchestrator',
      kind: 'tmux-orchestrator',
      location: db.path,
      up: true,
      error: null,
    });
  });

  it('reports a source that stops reading as down on /metrics and /readyz, staying ready', async () => {
    const db = QueueDb.create(q.dir.path, 'original');
    db.insert({ spec_path: '/specs/a.md', status: 'queued' });
    const sources = [{ kind: 'tmux-orchestrator', name: 'main-queue', db: db.path, tmuxSocket: q.tmux.socket }];
    agent = await startAgent({ ...q.env, AGENT_SOURCES: JSON.stringify(sources) }, q.dir.path);
    await eventually(
      async () => /^orchestrator_source_up\{source="main-queue"\} 1$/m.test(await metrics()),
      30_000,
      'the source up',
    );
    const imported = q.get('to-1');

    writeFileSync(db.path, 'not a database any more\n'.repeat(500));
    await eventually(
      async () => /^orchestrator_source_up\{source="main-queue"\} 0$/m.test(await metrics()),
      30_000,
      'the source down',
    );
    const r = await ready();
    expect(r.status, 'a failed source does not make the agent unready').to.equal(200);
    const detail = r.body.sources?.find((s) => s.source === 'main-queue');
    expect(detail).to.include({ up: false });
    expect(detail?.error).to.match(new RegExp(`^${db.path}: not a SQLite database`));
    expect(q.get('to-1'), 'a failed pass changes nothing').to.deep.equal(imported);
  });
});
