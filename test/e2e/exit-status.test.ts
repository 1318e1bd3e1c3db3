/**
 * A command the agent launched that ends, as a user meets it: `agent
 * enqueue -- <command>` with the built CLI, a real `agent serve` or
 * `agent heal --once`, real tmux. A crash is decided within a cycle of its
 * exit, with its status and last output kept, and frees its slot; an exit
 * with status 0 completes; a start an orchestrator reported keeps the
 * phantom grace.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newProject } from '../../src/core/model/project.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { isRunning, waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

/** Cycles only on events: whatever is decided was triggered by the exit, not by a scheduled tick. */
const HOURLY = '0 0 * * * *';
const CRASH = 'echo "fatal: API key expired" >&2; exit 3';

describe('e2e: a launched command that ends', function () {
  this.timeout(90_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  beforeEach(() => {
    // A phantom grace of 15 min: anything decided in this test was decided by the exit itself.
    q = new TestQueue({ AGENT_MAX_CONCURRENT: '1', PHANTOM_GRACE_PERIOD_SEC: '900' });
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  const enqueue = (id: string, command: string[]): Promise<void> => q.enqueue(id, command);

  it('agent serve fails a crashing command within a cycle with exit_status, its status and output, closes its session and launches the next project', async () => {
    agent = await startAgent({ ...q.env, AGENT_SCAN_SCHEDULE: HOURLY, LOG_LEVEL: 'info' }, q.dir.path);
    await eventually(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, 15_000, 'the first cycle');
    await enqueue('crash', ['sh', '-c', CRASH]);
    await enqueue('next', ['sleep', '600']);

    const crash = await eventually(
      () => {
        const p = q.get('crash');
        return p.state === 'failed' ? p : null;
      },
      30_000,
      'the crash to be decided',
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; registry: ${JSON.stringify(q.read().projects.map((p) => [p.id, p.state, p.pid, p.session]))}; agent log: ${agent?.stderr().slice(-2000)}`,
      );
    });
    expect(crash.failureReason).to.equal('exit_status');
    expect(crash.exitStatus).to.equal(3);
    expect(crash.lastOutput).to.include('fatal: API key expired');
    expect(crash.history.map((h) => `${h.from}->${h.to}`)).to.deep.equal(['queued->processing', 'processing->failed']);
    expect(crash.history.at(-1)?.reason).to.equal(
      'exit_status: the launched command exited with status 3; last output: "fatal: API key expired"',
    );
    await eventually(() => !q.tmux.hasSession(crash.session as string), 15_000, 'the crashed session to be closed');

    const next = await eventually(
      () => {
        const p = q.get('next');
        return p.state === 'processing' && p.pid !== null ? p : null;
      },
      30_000,
      'the next project to be launched',
    );
    q.processes.track(next.pid as number);
    expect(isRunning(next.pid as number)).to.equal(true);

    const api = (await (await fetch(`${agent.url}/api/projects/crash`)).json()) as {
      exitStatus: number;
      lastOutput: string[];
      failureReason: string;
    };
    expect(api).to.deep.include({ exitStatus: 3, failureReason: 'exit_status' });
    expect(api.lastOutput).to.include('fatal: API key expired');
    const status = await q.agent(['status']);
    expect(status.stdout).to.match(/crash\s+failed\s.*exit_status 3/);
    expect(status.stdout).to.match(
      /crash: its command exited with status 3; last output:\n {2}\| fatal: API key expired/,
    );
    const statusJson = JSON.parse((await q.agent(['status', '--json'])).stdout) as {
      projects: { id: string; exitStatus: number | null; lastOutput: string[] | null }[];
    };
    expect(statusJson.projects.find((p) => p.id === 'crash')).to.deep.include({ exitStatus: 3 });
    const stuck = JSON.parse((await q.agent(['list-stuck', '--json'])).stdout) as {
      failedCommands: { project: string; exitStatus: number; lastOutput: string[] }[];
    };
    expect(stuck.failedCommands.map((f) => [f.project, f.exitStatus])).to.deep.equal([['crash', 3]]);
    expect(stuck.failedCommands[0]?.lastOutput).to.include('fatal: API key expired');
    expect((await q.agent(['list-stuck'])).stdout).to.match(
      /crash: its command exited with status 3; last output:\n {2}\| fatal: API key expired/,
    );
  });

  it('keeps the error line and status of every one of 100 commands that crash at once, launched in one cycle', async function () {
    this.timeout(120_000);
    // tmux drops what a pane's process wrote but tmux had not read yet when that process exits: in a burst of
    // 100 instant crashes about a quarter lost their error line before the launcher waited for tmux to read it.
    const ids = Array.from({ length: 100 }, (_, i) => `burst-${i}`);
    const when = new Date(Date.now() - 60_000).toISOString();
    q.write(
      ids.map((id) => newProject({ id, enqueuedAt: when, command: ['sh', '-c', CRASH], tmuxSocket: q.tmux.socket })),
    );
    const burst = { AGENT_MAX_CONCURRENT: '100' };
    const launch = await q.heal(burst);
    const launched = launch.result.actions.filter((a) => a.action === 'launch' && a.outcome === 'success');
    expect(launched.length, JSON.stringify(launch.result.actions.filter((a) => a.outcome !== 'success'))).to.equal(100);

    const deadPanes = (): number =>
      q.tmux
        .run(['list-panes', '-a', '-F', '#{pane_dead}'])
        .split('\n')
        .filter((l) => l === '1').length;
    await waitUntil(() => deadPanes() === 100, 60_000, 'every launched command to exit');
    // A cycle decides every exit it can read; one whose status tmux had not read yet waits for the next.
    const undecided = (): string[] =>
      q
        .read()
        .projects.filter((p) => p.state !== 'failed')
        .map((p) => p.id);
    for (let cycle = 0; cycle < 5 && undecided().length > 0; cycle++) await q.heal(burst);
    expect(undecided(), 'projects not failed after 5 cycles').to.deep.equal([]);

    const projects = q.read().projects;
    expect(
      projects
        .filter((p) => p.failureReason !== 'exit_status' || p.exitStatus !== 3)
        .map((p) => [p.id, p.failureReason, p.exitStatus]),
    ).to.deep.equal([]);
    const lost = projects.filter((p) => !(p.lastOutput ?? []).includes('fatal: API key expired'));
    expect(
      lost.map((p) => `${p.id}: ${JSON.stringify(p.lastOutput)}`),
      `${lost.length} of 100 lost their last output`,
    ).to.deep.equal([]);
  });

  it('heal --once completes a command that exited with status 0 and closes its session', async () => {
    await enqueue('ok', ['sh', '-c', 'echo all good; exit 0']);
    const launch = await q.heal();
    expect(
      launch.result.actions.map((a) => `${a.action}:${a.outcome}`),
      JSON.stringify(launch.result),
    ).to.deep.equal(['launch:success']);
    const session = q.get('ok').session as string;
    await waitUntil(
      () => q.tmux.run(['list-panes', '-t', `=${session}:`, '-F', '#{pane_dead}']).trim() === '1',
      10_000,
      'the command to exit',
    );
    const done = await q.heal();
    expect(
      done.result.transitions.map((t) => `${t.project}:${t.from}->${t.to}`),
      JSON.stringify(done.result),
    ).to.deep.equal(['ok:processing->completed']);
    expect(done.result.actions.map((a) => `${a.action}:${a.outcome}`)).to.deep.equal(['kill_session:success']);
    const ok = q.get('ok');
    expect(ok).to.deep.include({ state: 'completed', exitStatus: 0, failureReason: null });
    expect(ok.completion?.evidence.map((e) => e.method)).to.deep.equal(['exit']);
    expect(q.tmux.hasSession(session)).to.equal(false);
  });

  it('a start an orchestrator reported still waits for the phantom grace when its process dies, even in a kept pane', async () => {
    const r = await q.agent(['enqueue', '--id', 'rep', '--tmux-socket', q.tmux.socket]);
    expect(r.code, r.stderr).to.equal(0);
    // The user's own session keeps its pane after exit, and the orchestrator reports the pane's process.
    const pid = q.tmux.newSession('rep-1', [
      'sh',
      '-c',
      `while [ ! -e '${join(q.dir.path, 'go')}' ]; do sleep 0.1; done; exit 3`,
    ]);
    q.processes.track(pid);
    q.tmux.run(['set-option', '-w', '-t', '=rep-1:', 'remain-on-exit', 'on']);
    const started = await q.agent([
      'start',
      'rep',
      '--pid',
      String(pid),
      '--session',
      'rep-1',
      '--tmux-socket',
      q.tmux.socket,
    ]);
    expect(started.code, started.stderr).to.equal(0);
    await q.agent(['heartbeat', 'rep']);
    writeFileSync(join(q.dir.path, 'go'), '');
    await waitUntil(() => !isRunning(pid), 10_000, 'the reported process to exit');
    await waitUntil(
      () => q.tmux.run(['list-panes', '-t', '=rep-1:', '-F', '#{pane_dead}']).trim() === '1',
      10_000,
      'the pane to be dead',
    );

    const inGrace = await q.heal();
    expect(inGrace.result.transitions, JSON.stringify(inGrace.result)).to.deep.equal([]);
    expect(q.get('rep')).to.deep.include({ state: 'processing', exitStatus: null });
    const pastGrace = await q.heal({ PHANTOM_GRACE_PERIOD_SEC: '0' });
    expect(pastGrace.result.transitions.map((t) => `${t.project}:${t.to}`)).to.deep.equal(['rep:failed']);
    expect(q.get('rep')).to.deep.include({ failureReason: 'phantom', exitStatus: null });
  });
});
