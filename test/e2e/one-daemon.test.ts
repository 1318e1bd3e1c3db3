import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { holderPath, liveDaemonPid, readDaemonHolder } from '../../src/registry/daemon-holder.js';
import { AGENT_BIN, cleanEnv } from '../helpers/cli.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { isRunning } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

/** `agent serve` started without waiting: resolves "serving" once it prints its status page, or its exit code. */
function serve(
  q: TestQueue,
  env: Record<string, string> = {},
): { child: ChildProcess; stderr: () => string; outcome: Promise<'serving' | number | null> } {
  const child = spawn(process.execPath, [AGENT_BIN, 'serve'], {
    cwd: q.dir.path,
    env: cleanEnv({ ...q.env, AGENT_LISTEN: '127.0.0.1:0', ...env }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const outcome = new Promise<'serving' | number | null>((resolve) => {
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
      if (/status page\s+http:/.test(err)) resolve('serving');
    });
    child.on('exit', (code) => resolve(code));
  });
  return { child, stderr: () => err, outcome };
}

describe('e2e: one daemon per JSON registry', function () {
  this.timeout(90_000);
  let q: TestQueue;
  const agents: RunningAgent[] = [];
  const children: ChildProcess[] = [];
  beforeEach(() => {
    q = new TestQueue({ AGENT_MAX_CONCURRENT: '1', AGENT_SCAN_SCHEDULE: '* * * * * *' });
  });
  afterEach(async () => {
    for (const a of agents.splice(0)) await a.stop('SIGKILL');
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await q.destroy();
  });

  it('refuses a second agent serve with exit 2 naming the PID and host that hold the registry; the queue runs once', async () => {
    for (const id of ['a', 'b', 'c'])
      expect(
        (
          await q.agent([
            'enqueue',
            '--id',
            id,
            '--tmux-socket',
            q.tmux.socket,
            '--cwd',
            q.dir.path,
            '--',
            'sleep',
            '60',
          ])
        ).code,
      ).to.equal(0);
    const first = await startAgent(q.env, q.dir.path);
    agents.push(first);
    const second = await q.agent(['serve'], { AGENT_LISTEN: '127.0.0.1:0' });
    expect(second.code, second.stderr).to.equal(2);
    expect(second.stderr)
      .to.include(`pid ${first.child.pid}`)
      .and.include(`host ${hostname()}`)
      .and.include(q.registry);
    expect(second.stderr.trim().split('\n')).to.have.length(1);
    // The holder goes on: it launches one project at a time, in one session.
    await eventually(
      () => q.read().projects.filter((p) => p.state === 'processing').length === 1,
      30_000,
      'one project launched',
    );
    expect(q.tmux.sessions()).to.have.length(1);
    expect(isRunning(first.child.pid as number)).to.equal(true);
  });

  it('starts after the holder was killed with SIGKILL, taking over its record', async () => {
    const first = await startAgent(q.env, q.dir.path);
    agents.push(first);
    const firstPid = first.child.pid as number;
    expect((await readDaemonHolder(q.registry))?.pid).to.equal(firstPid);
    await first.stop('SIGKILL');
    expect((await readDaemonHolder(q.registry))?.pid, 'a SIGKILLed daemon leaves its record').to.equal(firstPid);
    const next = await startAgent(q.env, q.dir.path);
    agents.push(next);
    expect((await readDaemonHolder(q.registry))?.pid).to.equal(next.child.pid);
    expect(await liveDaemonPid(q.registry)).to.equal(next.child.pid);
  });

  it('lets exactly one of two agent serve started at the same instant run', async () => {
    const a = serve(q);
    const b = serve(q);
    children.push(a.child, b.child);
    const outcomes = await Promise.all([a.outcome, b.outcome]);
    expect(
      outcomes.filter((o) => o === 'serving'),
      `${a.stderr()}\n${b.stderr()}`,
    ).to.have.length(1);
    expect(outcomes.filter((o) => o === 2)).to.have.length(1);
    const winner = outcomes[0] === 'serving' ? a : b;
    const loser = winner === a ? b : a;
    expect(loser.stderr()).to.include(`pid ${winner.child.pid}`);
    expect(await liveDaemonPid(q.registry)).to.equal(winner.child.pid);
  });

  it('leaves the CLI commands working while a daemon holds the registry, and diagnostics names it', async () => {
    const agent = await startAgent(q.env, q.dir.path);
    agents.push(agent);
    expect((await q.agent(['enqueue', '--id', 'p1'])).code).to.equal(0);
    expect((await q.agent(['status'])).code).to.equal(0);
    const heal = await q.heal();
    expect(heal.code, heal.stderr).to.equal(0);
    const diagnostics = JSON.parse((await q.agent(['diagnostics', '--json'])).stdout) as {
      daemon: { holder: unknown };
    };
    expect(diagnostics.daemon.holder).to.deep.include({ pid: agent.child.pid, host: hostname(), alive: true });
  });

  it('removes its record on a clean stop', async () => {
    const agent = await startAgent(q.env, q.dir.path);
    agents.push(agent);
    expect(existsSync(holderPath(q.registry))).to.equal(true);
    expect((await agent.stop('SIGTERM')).code).to.equal(0);
    expect(existsSync(holderPath(q.registry))).to.equal(false);
    expect(await liveDaemonPid(q.registry)).to.equal(null);
  });

  it('refuses a registry held from another host, saying it cannot check it and how to clear it', async () => {
    q.write([]);
    const record = {
      pid: 4242,
      pidStartTime: 1,
      bootId: null,
      host: 'elsewhere.example',
      hostId: 'elsewhere',
      startedAt: '2026-11-26T10:00:00.000Z',
    };
    writeFileSync(holderPath(q.registry), JSON.stringify(record));
    const refused = await q.agent(['serve'], { AGENT_LISTEN: '127.0.0.1:0' });
    expect(refused.code, refused.stderr).to.equal(2);
    expect(refused.stderr)
      .to.include('pid 4242 on host elsewhere.example')
      .and.include('cannot check')
      .and.include(`remove ${holderPath(q.registry)}`);
    expect(JSON.parse(readFileSync(holderPath(q.registry), 'utf8'))).to.deep.equal(record);
  });
});
