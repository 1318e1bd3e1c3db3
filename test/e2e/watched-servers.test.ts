/**
 * A project never runs on a tmux server the agent does not watch: with
 * AGENT_TMUX_SOCKETS set, a command enqueued without a socket is launched on
 * the first watched server, an explicit unwatched socket is refused at
 * enqueue (CLI and API), and `agent diagnostics` reports a project found on
 * one as a problem.
 */
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from '../helpers/daemon.js';
import { TestQueue } from '../helpers/queue.js';
import { PrivateTmux } from '../helpers/tmux.js';

const TOKEN = 'watched-servers-token-0123456789';

describe('e2e: only watched tmux servers', function () {
  this.timeout(60_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  /** A second private server the agent is not told to watch (cleaned up whatever the code under test did there). */
  let other: PrivateTmux;
  beforeEach(() => {
    q = new TestQueue();
    other = new PrivateTmux('unwatched');
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    other.destroy();
    await q.destroy();
  });

  function cwd(): string {
    const dir = join(q.dir.path, 'work');
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  it('launches a command enqueued without --tmux-socket on the first watched server', async () => {
    q.env = { ...q.env, AGENT_TMUX_SOCKETS: `${q.tmux.socket},default` };
    const r = await q.agent(['enqueue', '--id', 'p1', '--cwd', cwd(), '--', 'sleep', '300']);
    expect(r.code, r.stderr).to.equal(0);
    const { result } = await q.heal();
    const p = q.get('p1');
    if (p.pid !== null) q.processes.track(p.pid);
    expect(result.actions.map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal(['p1:launch:success']);
    expect(p).to.include({ state: 'processing', tmuxSocket: q.tmux.socket });
    expect(q.tmux.sessions()).to.deep.equal([p.session]);

    // The next cycle sees it there: alive, nothing to heal.
    const again = await q.heal();
    expect(again.code).to.equal(0);
    expect(again.result.transitions).to.deep.equal([]);
    expect(q.get('p1').state).to.equal('processing');
  });

  it('refuses --tmux-socket naming a server the agent does not watch with exit 2, naming the watched servers, and writes nothing', async () => {
    q.write([]);
    const before = q.bytes();
    const r = await q.agent([
      'enqueue',
      '--id',
      'p1',
      '--tmux-socket',
      'elsewhere',
      '--cwd',
      cwd(),
      '--',
      'sleep',
      '300',
    ]);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('invalid tmux socket "elsewhere"');
    expect(r.stderr).to.contain(`it watches tmux server ${q.tmux.socket}`);
    expect(q.bytes()).to.equal(before);
  });

  it('POST /api/projects with a tmuxSocket the agent does not watch answers 400 naming the watched servers', async () => {
    q.write([]);
    agent = await startAgent({ ...q.env, AGENT_API_TOKEN: TOKEN }, q.dir.path);
    const post = (body: unknown) =>
      fetch(`${agent!.url}/api/projects`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    const refused = await post({ id: 'p1', tmuxSocket: 'elsewhere', cwd: cwd(), command: ['sleep', '300'] });
    expect(refused.status).to.equal(400);
    const message = ((await refused.json()) as { error: { message: string } }).error.message;
    expect(message).to.contain(`it watches tmux server ${q.tmux.socket}`);
    expect(q.read().projects).to.deep.equal([]);

    const accepted = await post({ id: 'p2', tmuxSocket: q.tmux.socket });
    expect(accepted.status).to.equal(201);
  });

  it('does not launch a queued project on a server the agent does not watch: it fails as invalid_command, naming the watched servers', async () => {
    const open = { AGENT_TMUX_SOCKETS: `${q.tmux.socket},${other.socket}` };
    expect(
      (
        await q.agent(
          ['enqueue', '--id', 'p1', '--tmux-socket', other.socket, '--cwd', cwd(), '--', 'sleep', '300'],
          open,
        )
      ).code,
    ).to.equal(0);
    const { code, result } = await q.heal();
    expect(code).to.equal(1);
    expect(result.actions.map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal(['p1:launch:failure']);
    expect(q.get('p1')).to.include({ state: 'failed', failureReason: 'invalid_command', pid: null });
    expect(q.tmux.sessions().concat(other.sessions())).to.deep.equal([]);
    expect(q.get('p1').history.at(-1)?.reason).to.contain(
      `tmux server ${other.socket} is not watched by this agent; it watches tmux server ${q.tmux.socket}`,
    );
  });

  it('agent diagnostics lists a project running on an unwatched server as a problem and exits 1', async () => {
    const pid = await q.processes.sleeper({ detached: true });
    // Enqueued and started by an orchestrator whose configuration watched that server.
    const open = { AGENT_TMUX_SOCKETS: `${q.tmux.socket},${other.socket}` };
    expect(
      (await q.agent(['enqueue', '--id', 'lost', '--tmux-socket', other.socket, '--session', 'lost'], open)).code,
    ).to.equal(0);
    expect((await q.agent(['start', 'lost', '--pid', String(pid)], open)).code).to.equal(0);

    const clean = await q.agent(['diagnostics'], open);
    expect(clean.stdout).to.not.contain('PROBLEM');
    const r = await q.agent(['diagnostics']);
    expect(r.code).to.equal(1);
    expect(r.stdout).to.contain('PROBLEM: 1 project on a tmux server the agent does not watch');
    expect(r.stdout).to.contain(`processing project lost: tmux server ${other.socket} is not watched by this agent`);
    const json = await q.agent(['diagnostics', '--json']);
    expect(json.code).to.equal(1);
    const doc = JSON.parse(json.stdout) as { unwatchedProjects: { project: string; server: string }[] };
    expect(doc.unwatchedProjects.map((u) => [u.project, u.server])).to.deep.equal([['lost', other.socket]]);
  });
});
