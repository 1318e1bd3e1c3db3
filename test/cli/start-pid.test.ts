import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { AGENT_BIN, cleanEnv, type CliResult } from '../helpers/cli.js';
import { startAgent, type RunningAgent } from '../helpers/daemon.js';
import { TestQueue } from '../helpers/queue.js';

const TOKEN = 'start-pid-token-0123456789ab';

/** `agent start p1 --pid $$` from a shell that execs the agent: the PID is the reporting command's own. */
function startWithOwnPid(q: TestQueue): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', 'exec "$0" "$1" start p1 --pid $$', process.execPath, AGENT_BIN], {
      cwd: q.dir.path,
      env: cleanEnv(q.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe("cli and API: start --pid refuses PIDs that can never be a project's", function () {
  this.timeout(60_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  beforeEach(async () => {
    q = new TestQueue({ AGENT_API_TOKEN: TOKEN, AGENT_SCAN_SCHEDULE: '0 0 1 1 *' });
    expect((await q.agent(['enqueue', '--id', 'p1'])).code).to.equal(0);
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  async function refusedByCli(pid: number, why: RegExp): Promise<void> {
    const before = q.bytes();
    const r = await q.agent(['start', 'p1', '--pid', String(pid)]);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.include(`pid ${pid}`).and.match(why);
    expect(q.bytes()).to.equal(before);
  }

  async function refusedByApi(pid: number, why: RegExp): Promise<void> {
    const before = q.bytes();
    const running = agent as RunningAgent;
    const r = await fetch(`${running.url}/api/projects/p1/start`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ pid }),
    });
    const body = (await r.json()) as { error: { message: string; field?: string } };
    expect(r.status, body.error.message).to.equal(400);
    expect(body.error.field).to.equal('pid');
    expect(body.error.message).to.include(`pid ${pid}`).and.match(why);
    expect(q.bytes()).to.equal(before);
  }

  it('refuses PID 1', async () => {
    await refusedByCli(1, /init/);
  });

  it('refuses the PID of the reporting command itself', async () => {
    const before = q.bytes();
    const r = await startWithOwnPid(q);
    expect(r.code, r.stderr).to.equal(2);
    expect(r.stderr).to.match(/refused pid \d+: that is this agent command itself/);
    expect(q.bytes()).to.equal(before);
  });

  it('refuses the PID of the daemon holding the registry', async () => {
    agent = await startAgent(q.env, q.dir.path);
    await refusedByCli(agent.child.pid as number, /the agent daemon \(agent serve\)/);
  });

  it('refuses the PID of a tmux server the agent watches', async () => {
    q.tmux.newSession('other', ['sleep', '60']);
    const server = Number(q.tmux.run(['display-message', '-p', '#{pid}']).trim());
    await refusedByCli(server, new RegExp(`tmux server ${q.tmux.socket}`));
  });

  it('refuses over HTTP (400, nothing written) PID 1, the daemon itself and a watched tmux server', async () => {
    q.tmux.newSession('other', ['sleep', '60']);
    agent = await startAgent(q.env, q.dir.path);
    await refusedByApi(1, /init/);
    await refusedByApi(agent.child.pid as number, /the agent daemon/);
    await refusedByApi(Number(q.tmux.run(['display-message', '-p', '#{pid}']).trim()), /tmux server/);
  });

  it('accepts the PID of the process in a pane', async () => {
    const pane = q.tmux.newSession('work', ['sleep', '60']);
    const r = await q.agent([
      'start',
      'p1',
      '--pid',
      String(pane),
      '--session',
      'work',
      '--tmux-socket',
      q.tmux.socket,
    ]);
    expect(r.code, r.stderr).to.equal(0);
    expect(q.get('p1')).to.include({ state: 'processing', pid: pane });
  });
});
