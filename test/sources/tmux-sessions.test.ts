/**
 * The tmux-sessions source through `agent heal --once` with a `sources`
 * configuration: a real private tmux server, sessions named like a tool's,
 * real processes.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning, sleep, waitUntil } from '../helpers/processes.js';
import { TestQueue, type HealJson } from '../helpers/queue.js';

const HUP_IMMUNE = ['node', '-e', "process.on('SIGHUP', () => {}); setInterval(() => {}, 1000);"];

interface SyncedJson extends HealJson {
  sourceSync: { source: string; ok: boolean; created: number; dropped: number; withheld: number; rows: number }[];
}

describe('tmux-sessions source', function () {
  this.timeout(180_000);
  let q: TestQueue;

  function sources(heal: boolean): string {
    return JSON.stringify([
      { kind: 'tmux-sessions', name: 'squad', pattern: '^claudesquad_', tmuxSocket: q.tmux.socket, heal },
    ]);
  }

  beforeEach(() => {
    q = new TestQueue();
  });
  afterEach(async () => {
    await q.destroy();
  });

  async function heal(heal = false, env: Record<string, string> = {}): Promise<SyncedJson> {
    const r = await q.heal({ AGENT_SOURCES: sources(heal), ...env });
    return r.result as SyncedJson;
  }

  it('adopts every matching session with its pane PID, and no other', async () => {
    const alpha = q.tmux.newSession('claudesquad_alpha', ['sleep', '600']);
    const beta = q.tmux.newSession('claudesquad_beta', ['sleep', '600']);
    const notes = q.tmux.newSession('notes', ['sleep', '600']);
    for (const pid of [alpha, beta, notes]) q.processes.track(pid);
    const result = await heal();
    expect(result.sourceSync[0]).to.include({ ok: true, rows: 2, created: 2 });
    expect(q.get('ts-claudesquad_alpha')).to.include({
      state: 'processing',
      session: 'claudesquad_alpha',
      tmuxSocket: q.tmux.socket,
      pid: alpha,
    });
    expect(q.get('ts-claudesquad_beta')).to.include({ state: 'processing', pid: beta });
    expect(q.get('ts-claudesquad_beta').source).to.include({
      kind: 'tmux-sessions',
      name: 'squad',
      ref: 'claudesquad_beta',
      heal: false,
    });
    expect(
      q
        .read()
        .projects.map((p) => p.id)
        .sort(),
    ).to.deep.equal(['ts-claudesquad_alpha', 'ts-claudesquad_beta']);
    expect(result.actions).to.deep.equal([]);
  });

  it('reports a session lost under a live process as a zombie and never kills it unless heal is on', async () => {
    const pid = q.tmux.newSession('claudesquad_z', HUP_IMMUNE);
    q.processes.track(pid);
    await heal();
    q.tmux.killSession('claudesquad_z');
    const first = await heal();
    expect(first.transitions.map((t) => `${t.from}->${t.to}`)).to.deep.equal(['processing->zombie']);
    expect(first.actions).to.deep.equal([]);
    expect(first.blocked).to.deep.equal([]);
    expect(first.sourceSync[0]).to.include({ withheld: 1 });
    expect(first.detections.map((d) => d.kind)).to.deep.equal(['zombie']);
    const again = await heal();
    expect(again.actions).to.deep.equal([]);
    expect(isRunning(pid)).to.equal(true);
    expect(q.get('ts-claudesquad_z').state).to.equal('zombie');

    const healed = await heal(true);
    expect(healed.actions.map((a) => `${a.action} ${a.outcome}`)).to.deep.equal(['kill_tree success']);
    await waitUntil(() => !isRunning(pid), 10_000, 'the zombie to be killed');
    expect(q.get('ts-claudesquad_z')).to.include({ state: 'failed', failureReason: 'zombie', nextAttemptAt: null });
  });

  it('completes a session that ended with its process on completion evidence', async () => {
    const dir = join(q.dir.path, 'work');
    mkdirSync(dir);
    const pid = q.tmux.newSession(
      'claudesquad_done',
      ['node', '-e', "setTimeout(() => require('fs').writeFileSync('COMPLETED', 'ok'), 2500)"],
      dir,
    );
    q.processes.track(pid);
    await heal();
    expect(q.get('ts-claudesquad_done')).to.include({ state: 'processing', projectDir: dir });
    await waitUntil(() => !q.tmux.hasSession('claudesquad_done'), 20_000, 'the session to end');
    expect(existsSync(join(dir, 'COMPLETED'))).to.equal(true);
    const result = await heal();
    expect(result.transitions.map((t) => `${t.from}->${t.to}`)).to.deep.equal(['processing->completed']);
    expect(q.get('ts-claudesquad_done').completion?.evidence.map((e) => e.method)).to.deep.equal(['marker']);
  });

  it('drops a session that ended with its process without evidence after the grace, never failing it', async () => {
    const pid = q.tmux.newSession('claudesquad_quit', ['sleep', '2']);
    q.processes.track(pid);
    const env = { PHANTOM_GRACE_PERIOD_SEC: '3' };
    await heal(false, env);
    expect(q.get('ts-claudesquad_quit').state).to.equal('processing');
    await waitUntil(() => !q.tmux.hasSession('claudesquad_quit'), 20_000, 'the session to end');
    const within = await heal(false, env);
    expect(within.transitions).to.deep.equal([]);
    await sleep(3500);
    const after = await heal(false, env);
    expect(after.transitions).to.deep.equal([]);
    expect(after.sourceSync[0]).to.include({ dropped: 1 });
    expect(q.read().projects.map((p) => p.id)).to.not.include('ts-claudesquad_quit');
    const archived = readFileSync(join(q.dir.path, 'data', 'archive.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { id: string; state: string });
    expect(archived.map((p) => [p.id, p.state])).to.deep.equal([['ts-claudesquad_quit', 'processing']]);
    expect(
      q
        .audit()
        .filter((a) => a['project'] === 'ts-claudesquad_quit')
        .map((a) => String(a['reason'])),
    ).to.satisfy((reasons: string[]) =>
      reasons.some((r) => r.startsWith('dropped: session claudesquad_quit ended with its process')),
    );
    expect(q.audit().some((a) => a['project'] === 'ts-claudesquad_quit' && a['to'] === 'failed')).to.equal(false);
  });
});
