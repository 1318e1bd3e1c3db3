/**
 * `agent fail ID` (and `POST /api/projects/:id/fail`) on a live project: the
 * failure is recorded, then the project's process tree and session are
 * killed after the normal kill grace, as `reset --force` kills them. Left
 * running, a failed project would run twice once its retry launched it again.
 */
import { expect } from 'chai';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AGENT_BIN } from '../helpers/cli.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { isRunning, waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

const TOKEN = 'fail-live-token-0123456789abcdef';
/** A command that ignores SIGTERM (and SIGHUP): only the SIGKILL after the grace ends it. */
const STUBBORN = ['sh', '-c', "trap '' TERM HUP; sleep 300"];

describe('e2e: fail on a live project', function () {
  this.timeout(60_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  beforeEach(() => {
    q = new TestQueue({ KILL_GRACE_SEC: '1' });
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  function cwd(): string {
    const dir = join(q.dir.path, 'work');
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  /** Enqueue `command` and let one cycle launch it; returns its pid and session. */
  async function launched(id: string, command: string[]): Promise<{ pid: number; session: string }> {
    const r = await q.agent(['enqueue', '--id', id, '--tmux-socket', q.tmux.socket, '--cwd', cwd(), '--', ...command]);
    expect(r.code, r.stderr).to.equal(0);
    const { result } = await q.heal();
    expect(result.actions.map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal([`${id}:launch:success`]);
    const p = q.get(id);
    q.processes.track(p.pid as number);
    return { pid: p.pid as number, session: p.session as string };
  }

  it('agent fail records the failure, then kills the tree (SIGKILL after the grace) and the session', async () => {
    const { pid, session } = await launched('p1', STUBBORN);
    const childrenOf = (parent: number): string =>
      readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim();
    // The pid is the launcher's; its child is the command, whose child is the sleep.
    await waitUntil(
      () => childrenOf(pid) !== '' && childrenOf(Number(childrenOf(pid))) !== '',
      15_000,
      'the command to start its sleep',
    );

    const r = await q.agent(['fail', 'p1', '--reason', 'tests failed']);
    expect(r.code, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).to.equal('p1: failed (state failed)');
    expect(lines[1]).to.equal('p1 was live: its process tree and session were killed (grace 1s)');
    expect(r.stdout).to.match(/kill_tree: success: killed a tree of 3 processes \(3 needed SIGKILL after 1000 ms\)/);
    expect(isRunning(pid)).to.equal(false);
    expect(q.tmux.hasSession(session)).to.equal(false);

    const p = q.get('p1');
    expect(p).to.include({ state: 'failed', failureReason: 'tests failed' });
    expect(p.history.at(-1)).to.include({
      from: 'processing',
      to: 'failed',
      reason: 'failed (reported): tests failed',
      by: 'cli@test-host',
    });
    const kills = q.audit().filter((a) => a['type'] === 'action' && a['by'] === 'cli@test-host');
    expect(kills.map((a) => `${String(a['action'])}:${String(a['outcome'])}`)).to.include('kill_tree:success');
    // The failure is written before the kill: the transition's audit line comes first.
    const audit = q.audit();
    const failedAt = audit.findIndex((a) => a['to'] === 'failed');
    const killedAt = audit.findIndex((a) => a['type'] === 'action' && a['by'] === 'cli@test-host');
    expect(failedAt).to.be.within(0, killedAt);
  });

  it('an orchestrator that reports its own failure from inside its session ends failed, with nothing left running', async () => {
    const self = [process.execPath, AGENT_BIN, 'fail', 'p2', '--reason', 'gave up'].map((w) => `'${w}'`).join(' ');
    const { pid, session } = await launched('p2', ['sh', '-c', `sleep 0.5; ${self}; sleep 300`]);
    await waitUntil(() => q.get('p2').state === 'failed', 20_000, 'the reported failure');
    await waitUntil(() => !isRunning(pid) && !q.tmux.hasSession(session), 20_000, 'the session and its tree to end');
    expect(q.get('p2')).to.include({ state: 'failed', failureReason: 'gave up' });
  });

  it('POST /api/projects/:id/fail on a live project kills it the same way and lists the kills', async () => {
    agent = await startAgent({ ...q.env, AGENT_API_TOKEN: TOKEN, AGENT_SCAN_SCHEDULE: '0 0 * * * *' }, q.dir.path);
    await eventually(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, 10_000, 'the first cycle');
    const r0 = await q.agent([
      'enqueue',
      '--id',
      'p3',
      '--tmux-socket',
      q.tmux.socket,
      '--cwd',
      cwd(),
      '--',
      ...STUBBORN,
    ]);
    expect(r0.code, r0.stderr).to.equal(0);
    const running = await eventually(
      () => (q.get('p3').state === 'processing' ? q.get('p3') : null),
      10_000,
      'the daemon to launch it',
    );
    q.processes.track(running.pid as number);

    const res = await fetch(`${agent.url}/api/projects/p3/fail`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ reason: 'operator gave up', noRetry: true }),
    });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as {
      project: { state: string };
      actions: { action: string; outcome: string; detail: string }[];
    };
    expect(body.project.state).to.equal('failed');
    expect(body.actions.map((a) => `${a.action}:${a.outcome}`)).to.include('kill_tree:success');
    expect(isRunning(running.pid as number)).to.equal(false);
    expect(q.tmux.hasSession(running.session as string)).to.equal(false);
    expect(q.get('p3')).to.include({ state: 'failed', failureReason: 'operator gave up', retry: false });
  });
});
