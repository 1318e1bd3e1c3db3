/**
 * `agent reset ID --force` on a live project, as an operator runs it: the
 * agent launched the project (`agent heal --once`), the operator resets it,
 * the next cycle relaunches it. The live tree and session are killed first,
 * and the relaunch runs under a fresh session name.
 */
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning, waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

describe('e2e: reset --force on a live project', function () {
  this.timeout(60_000);
  let q: TestQueue;
  beforeEach(() => {
    q = new TestQueue();
  });
  afterEach(async () => {
    await q.destroy();
  });

  function cwd(): string {
    const dir = join(q.dir.path, 'work');
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** `agent enqueue` on the queue's own tmux server. */
  async function enqueue(args: string[]): Promise<void> {
    await agentOk(['enqueue', '--tmux-socket', q.tmux.socket, '--cwd', cwd(), ...args]);
  }

  async function agentOk(args: string[]): Promise<string> {
    const r = await q.agent(args);
    expect(r.code, `agent ${args.join(' ')}: ${r.stdout}${r.stderr}`).to.equal(0);
    return r.stdout;
  }

  /** One cycle that must launch `id`; returns the session it recorded. */
  async function launch(id: string): Promise<string> {
    const { code, result } = await q.heal();
    expect(code, JSON.stringify(result)).to.equal(0);
    expect(result.actions.map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal([`${id}:launch:success`]);
    const p = q.get(id);
    expect(p.state).to.equal('processing');
    if (p.pid !== null) q.processes.track(p.pid);
    return p.session as string;
  }

  /** Pane PIDs of a session on the queue's server (tracked for cleanup). */
  function panePids(session: string): number[] {
    const pids = q.tmux
      .run(['list-panes', '-s', '-t', `=${session}`, '-F', '#{pane_pid}'])
      .split('\n')
      .filter(Boolean)
      .map(Number);
    for (const pid of pids) q.processes.track(pid);
    return pids;
  }

  it('kills the session of a project whose own process has exited while a window it opened still runs, and relaunches it once', async () => {
    // The command opens a worker window that ignores SIGHUP (a session kill alone would not end it) and exits.
    await enqueue(['--id', 'p1', '--', 'sh', '-c', `tmux new-window -d "trap '' HUP; exec sleep 301"; exec sleep 0.3`]);
    const first = await launch('p1');
    const main = q.get('p1').pid as number;
    await waitUntil(() => !isRunning(main), 10_000, 'the launched command to exit');
    const [worker] = panePids(first);
    expect(worker, 'the worker window runs').to.be.a('number');

    const out = await agentOk(['reset', 'p1', '--force']);
    expect(out).to.match(/kill_tree: success/);
    expect(out).to.contain('p1: reset to queued');
    expect(q.tmux.hasSession(first), 'the old session is gone').to.equal(false);
    expect(isRunning(worker as number), 'the worker that ignored SIGHUP was killed with its tree').to.equal(false);

    const second = await launch('p1');
    expect(second).to.not.equal(first);
    expect(second).to.match(/^p1-[0-9a-f]{8}$/);
    expect(q.get('p1')).to.include({ state: 'processing', attempts: 1, failureReason: null });
    expect(q.get('p1').history.filter((h) => h.reason.startsWith('launch failed'))).to.deep.equal([]);
    expect(q.tmux.sessions().sort()).to.deep.equal([second]);
    // The relaunch opened a worker that ignores SIGHUP too: the server's kill in cleanup would not end it.
    const relaunched = q.get('p1').pid as number;
    await waitUntil(() => !isRunning(relaunched), 10_000, 'the relaunched command to exit');
    expect(panePids(second), 'the relaunched worker, tracked for cleanup').to.not.deep.equal([]);
  });

  it('kills a live tree and its session, and the relaunch runs under a fresh session name', async () => {
    await enqueue(['--id', 'p2', '--', 'sleep', '300']);
    const first = await launch('p2');
    const pid = q.get('p2').pid as number;

    const out = await agentOk(['reset', 'p2', '--force']);
    // The launcher and its command.
    expect(out).to.match(/kill_tree: success: killed a tree of 2 processes/);
    expect(isRunning(pid)).to.equal(false);
    expect(q.tmux.hasSession(first)).to.equal(false);
    const kills = q.audit().filter((a) => a['type'] === 'action' && a['project'] === 'p2' && a['action'] !== 'launch');
    expect(kills.map((a) => `${String(a['action'])}:${String(a['outcome'])}:${String(a['by'])}`)).to.include(
      'kill_tree:success:cli@test-host',
    );

    const second = await launch('p2');
    expect(second).to.match(/^p2-[0-9a-f]{8}$/);
    expect(second, 'a fresh name, never the recorded one').to.not.equal(first);
    expect(q.tmux.sessions()).to.deep.equal([second]);
  });

  it('takes --session S at enqueue as the base of every launched name: S-<8 hex>', async () => {
    await enqueue(['--id', 'p3', '--session', 'nightly', '--', 'sleep', '300']);
    expect(q.get('p3')).to.include({ session: null, sessionBase: 'nightly' });
    const first = await launch('p3');
    expect(first).to.match(/^nightly-[0-9a-f]{8}$/);
    await agentOk(['reset', 'p3', '--force']);
    const second = await launch('p3');
    expect(second).to.match(/^nightly-[0-9a-f]{8}$/);
    expect(second).to.not.equal(first);
  });
});
