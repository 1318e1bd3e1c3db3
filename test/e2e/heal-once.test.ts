/**
 * `agent heal --once` against real tmux servers on private sockets and real
 * process trees: each scenario of the scan/heal issue, end to end.
 */
import { expect } from 'chai';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRunning, sleep, waitUntil } from '../helpers/processes.js';
import { SEC, TestQueue } from '../helpers/queue.js';

/** A node program that ignores SIGHUP, so it outlives its tmux session, and idles. */
const HUP_IMMUNE = "process.on('SIGHUP', () => {}); setInterval(() => {}, 1000);";

/** The same program, which first spawns a child running it too and writes the child's pid to argv[1]. */
const HUP_IMMUNE_TREE = [
  HUP_IMMUNE,
  "const { spawn } = require('node:child_process');",
  `const c = spawn(process.execPath, ['-e', ${JSON.stringify(HUP_IMMUNE)}], { stdio: 'ignore' });`,
  "require('node:fs').writeFileSync(process.argv[1], String(c.pid));",
].join(' ');

/**
 * The set-up of both suites: a minute per test (real tmux servers, real
 * process trees), each test on a fresh TestQueue that `use` receives and
 * that is destroyed after it.
 */
function aFreshQueuePerTest(suite: Mocha.Suite, use: (q: TestQueue) => void): void {
  suite.timeout(60_000);
  let q: TestQueue | undefined;
  beforeEach(() => {
    q = new TestQueue();
    use(q);
  });
  afterEach(async () => {
    await q?.destroy();
  });
}

describe('e2e: agent heal --once', function () {
  let q: TestQueue;
  aFreshQueuePerTest(this, (fresh) => (q = fresh));

  it('kills a zombie tree (parent, child, grandchild) whose session is gone and fails it with reason zombie', async () => {
    const tree = await q.processes.tree({ detached: true });
    q.write([q.project({ id: 'z1', session: 'w-1', ...q.identity(tree.root) })]);
    const { code, result } = await q.heal();
    expect(code, JSON.stringify(result)).to.equal(0);
    for (const pid of [tree.root, tree.child, tree.grandchild])
      await waitUntil(() => !isRunning(pid), 15_000, `pid ${pid} to die`);
    const p = q.get('z1');
    expect(p.state).to.equal('failed');
    expect(p.failureReason).to.equal('zombie');
    expect(p.history.map((h) => `${h.from}->${h.to}`)).to.deep.equal(['processing->zombie', 'zombie->failed']);
    expect(result.actions).to.have.length(1);
    expect(result.actions[0]).to.include({ project: 'z1', action: 'kill_tree', outcome: 'success' });
    const kinds = q.audit().map((a) => `${a['type']}:${a['to'] ?? a['action']}`);
    expect(kinds).to.include.members(['transition:zombie', 'action:kill_tree', 'transition:failed']);
  });

  it('a process that outlived its killed tmux session is found as a zombie and killed', async () => {
    const pidFile = join(q.dir.path, 'child.pid');
    const panePid = q.tmux.newSession('w-2', [process.execPath, '-e', HUP_IMMUNE_TREE, pidFile]);
    q.processes.track(panePid);
    await waitUntil(
      () => {
        try {
          return Number(readFileSync(pidFile, 'utf8')) > 0;
        } catch {
          return false;
        }
      },
      15_000,
      'the child pid file',
    );
    const childPid = Number(readFileSync(pidFile, 'utf8'));
    q.processes.track(childPid);
    q.write([q.project({ id: 'z2', session: 'w-2', ...q.identity(panePid) })]);
    q.tmux.killSession('w-2');
    await sleep(200);
    expect(isRunning(panePid), 'the pane process ignores SIGHUP').to.equal(true);
    const { code, result } = await q.heal();
    expect(code, JSON.stringify(result)).to.equal(0);
    await waitUntil(() => !isRunning(panePid) && !isRunning(childPid), 15_000, 'the zombie tree to die');
    expect(q.get('z2')).to.include({ state: 'failed', failureReason: 'zombie' });
  });

  it('SIGKILLs a process that ignores SIGTERM after the kill grace', async () => {
    const pid = await q.processes.termIgnorer({ detached: true });
    q.write([q.project({ id: 'z3', session: 'gone', ...q.identity(pid) })]);
    const started = Date.now();
    const { code, result } = await q.heal({ KILL_GRACE_SEC: '1' });
    expect(code, JSON.stringify(result)).to.equal(0);
    expect(Date.now() - started).to.be.at.least(1000);
    await waitUntil(() => !isRunning(pid), 15_000, 'the TERM-ignoring process to die');
    expect(q.get('z3').state).to.equal('failed');
  });

  it('leaves a phantom alone inside its grace and fails it past the grace with reason phantom', async () => {
    const now = Date.now();
    q.write([
      q.project(
        { id: 'inside', session: 'nothing-1', pid: null, lastSeenAliveAt: new Date(now - 100 * SEC).toISOString() },
        200,
      ),
      q.project(
        { id: 'past', session: 'nothing-2', pid: null, lastSeenAliveAt: new Date(now - 1000 * SEC).toISOString() },
        2000,
      ),
    ]);
    const { result } = await q.heal();
    expect(q.get('inside').state).to.equal('processing');
    const past = q.get('past');
    expect(past).to.include({ state: 'failed', failureReason: 'phantom' });
    expect(result.transitions.find((t) => t.project === 'past')?.reason).to.match(/phantom/);
  });

  it('completes, never fails, a finished project whose session is gone (marker file, or all phases done)', async () => {
    const dir = join(q.dir.path, 'proj');
    mkdirSync(dir);
    writeFileSync(join(dir, 'COMPLETED'), '');
    q.write([
      q.project({ id: 'marker', session: 'done-1', pid: null, projectDir: dir }, 2000),
      q.project(
        {
          id: 'phases',
          session: 'done-2',
          pid: null,
          phases: [
            { name: 'a', done: true },
            { name: 'b', done: true },
          ],
        },
        2000,
      ),
    ]);
    await q.heal();
    for (const id of ['marker', 'phases']) {
      const p = q.get(id);
      expect(p.state, id).to.equal('completed');
      expect(p.completion?.decision, id).to.equal('completed');
      expect(
        p.history.some((h) => h.to === 'failed'),
        id,
      ).to.equal(false);
    }
    expect(q.get('marker').completion?.evidence.map((e) => e.method)).to.include('marker');
  });

  it('extends a timeout while the heartbeat is fresh, up to MAX_TIMEOUT_EXTENSIONS, then times out and kills after the grace', async () => {
    const panePid = q.tmux.newSession('slow', ['sleep', '300']);
    q.processes.track(panePid);
    const env = {
      MAX_PROCESS_RUNTIME_SEC: '60',
      EXTENSION_DURATION_SEC: '10',
      MAX_TIMEOUT_EXTENSIONS: '2',
      HEARTBEAT_TIMEOUT_SEC: '600',
      TIMING_OUT_GRACE_SEC: '1',
    };
    q.write([
      q.project({ id: 't1', session: 'slow', ...q.identity(panePid), heartbeatAt: new Date().toISOString() }, 3600),
    ]);
    await q.heal(env);
    expect(q.get('t1')).to.include({ state: 'processing', timeoutExtensions: 1 });
    await q.heal(env);
    expect(q.get('t1')).to.include({ state: 'processing', timeoutExtensions: 2 });
    await q.heal(env);
    expect(q.get('t1').state).to.equal('timing_out');
    expect(isRunning(panePid), 'nothing killed on entering timing_out').to.equal(true);
    await sleep(1100);
    const { result } = await q.heal(env);
    await waitUntil(() => !isRunning(panePid), 15_000, 'the timed-out tree to die');
    expect(q.tmux.hasSession('slow')).to.equal(false);
    expect(q.get('t1')).to.include({ state: 'failed', failureReason: 'timeout' });
    expect(result.actions[0]).to.include({ action: 'kill_tree', outcome: 'success' });
  });

  it('never signals a reused PID: a recorded start time that differs leaves the live process alone', async () => {
    const pid = await q.processes.sleeper({ detached: true });
    const { pidStartTime } = q.identity(pid);
    q.write([q.project({ id: 'reuse', session: 'gone', pid, pidStartTime: (pidStartTime as number) - 5 }, 2000)]);
    const { result } = await q.heal();
    expect(isRunning(pid)).to.equal(true);
    expect(result.actions.filter((a) => a.action === 'kill_tree')).to.deep.equal([]);
    // The recorded process is gone (its PID now belongs to another): a phantom past its grace.
    expect(q.get('reuse')).to.include({ state: 'failed', failureReason: 'phantom' });
  });

  it('prefix safety: session w-1 gone while w-10 lives makes w-1 a zombie and leaves w-10 untouched', async () => {
    const w10 = q.tmux.newSession('w-10', ['sleep', '300']);
    q.processes.track(w10);
    const orphanOfW1 = await q.processes.sleeper({ detached: true });
    q.write([
      q.project({ id: 'one', session: 'w-1', ...q.identity(orphanOfW1) }),
      q.project({ id: 'ten', session: 'w-10', ...q.identity(w10) }),
    ]);
    const { result } = await q.heal();
    await waitUntil(() => !isRunning(orphanOfW1), 5000, "w-1's process to die");
    expect(q.get('one')).to.include({ state: 'failed', failureReason: 'zombie' });
    expect(q.get('ten').state).to.equal('processing');
    expect(q.tmux.hasSession('w-10')).to.equal(true);
    expect(isRunning(w10)).to.equal(true);
    expect(result.actions.every((a) => a.project === 'one')).to.equal(true);
  });

  describe('when a scan source fails', () => {
    const brokenTmux = (q: TestQueue, body: string): string => {
      const bin = join(q.dir.path, 'bin');
      mkdirSync(bin, { recursive: true });
      writeFileSync(join(bin, 'tmux'), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, 'tmux'), 0o755);
      return `${bin}:${process.env['PATH'] ?? ''}`;
    };

    for (const [what, env] of [
      ['tmux missing from PATH', (q: TestQueue) => ({ PATH: join(q.dir.path, 'empty-bin') })],
      [
        'a tmux that exits with an error',
        (q: TestQueue) => ({ PATH: brokenTmux(q, 'echo "protocol version mismatch" >&2; exit 1') }),
      ],
      ['a tmux that hangs', (q: TestQueue) => ({ PATH: brokenTmux(q, 'exec sleep 30'), AGENT_TMUX_TIMEOUT_MS: '500' })],
    ] as const) {
      it(`${what}: no destructive action, the reason reported, exit 1`, async () => {
        const pid = await q.processes.sleeper({ detached: true });
        q.write([q.project({ id: 'z', session: 'w-1', ...q.identity(pid) })]);
        const { code, result } = await q.heal({ ...env(q), PATH: env(q).PATH });
        expect(code).to.equal(1);
        expect(isRunning(pid), 'nothing is killed on a failed scan').to.equal(true);
        expect(result.actions).to.deep.equal([]);
        expect(result.errors.some((e) => e.source === 'tmux')).to.equal(true);
        expect(q.get('z').state).to.not.equal('failed');
      });
    }
  });

  it('six zombies at once with the default limit: five killed, one held with a reason', async () => {
    const pids: number[] = [];
    const projects = [];
    for (let i = 0; i < 6; i++) {
      const pid = await q.processes.sleeper({ detached: true });
      pids.push(pid);
      projects.push(q.project({ id: `z${i}`, session: `w-${i}`, ...q.identity(pid) }, 100 - i));
    }
    // Keep the "more than half of at least 4 processing" rule out of the way: ten healthy projects run too.
    for (let i = 0; i < 10; i++) {
      const pane = q.tmux.newSession(`ok-${i}`, ['sleep', '300']);
      q.processes.track(pane);
      projects.push(q.project({ id: `ok${i}`, session: `ok-${i}`, ...q.identity(pane) }));
    }
    q.write(projects);
    const { code, result } = await q.heal();
    expect(code).to.equal(1);
    expect(result.actions.filter((a) => a.action === 'kill_tree' && a.outcome === 'success')).to.have.length(5);
    expect(result.blocked).to.have.length(1);
    expect(result.blocked[0]).to.include({ action: 'kill_tree', reason: 'too_many_kills' });
    expect(result.blocked[0]?.detail).to.contain('at most 5 per cycle');
    const states = Array.from({ length: 6 }, (_, i) => q.get(`z${i}`).state);
    expect(states.filter((s) => s === 'failed')).to.have.length(5);
    expect(states.filter((s) => s === 'zombie')).to.have.length(1);
    expect(pids.filter((p) => isRunning(p))).to.have.length(1);
  });

  it('kills an orphan session that matches a pattern past its grace and never touches a session matching no pattern', async () => {
    const orphan = q.tmux.newSession('agent-orphan', ['sleep', '300']);
    const foreign = q.tmux.newSession('my-editor', ['sleep', '300']);
    q.processes.track(orphan);
    q.processes.track(foreign);
    q.write([]);
    const env = { AGENT_ORPHAN_SESSION_PATTERNS: '^agent-', ORPHAN_GRACE_SEC: '0' };
    await sleep(1100);
    const { result } = await q.heal(env);
    expect(result.actions).to.have.length(1);
    expect(result.actions[0]).to.include({ action: 'kill_session', outcome: 'success', project: null });
    expect(q.tmux.hasSession('agent-orphan')).to.equal(false);
    expect(q.tmux.hasSession('my-editor')).to.equal(true);
    expect(isRunning(foreign)).to.equal(true);
  });

  it('--dry-run leaves the registry bytes and the processes exactly as they were', async () => {
    const pid = await q.processes.sleeper({ detached: true });
    q.write([
      q.project({ id: 'z', session: 'w-1', ...q.identity(pid) }),
      q.project({ id: 'ph', session: 'x', pid: null }, 5000),
    ]);
    const before = q.bytes();
    const { code, result } = await q.heal({}, ['--dry-run']);
    expect(code).to.equal(0);
    expect(q.bytes()).to.equal(before);
    expect(isRunning(pid)).to.equal(true);
    expect(result.transitions.map((t) => `${t.project}:${t.to}`)).to.include.members(['z:zombie', 'ph:failed']);
    expect(result.actions[0]).to.include({ action: 'kill_tree', outcome: 'planned' });
    expect(q.audit()).to.deep.equal([]);
  });
});

describe('e2e: recovery commands', function () {
  let q: TestQueue;
  aFreshQueuePerTest(this, (fresh) => (q = fresh));

  it('list-stuck exits 0 with nothing stuck and 1 with a zombie, naming it and why', async () => {
    const pane = q.tmux.newSession('fine', ['sleep', '300']);
    q.processes.track(pane);
    q.write([q.project({ id: 'fine', session: 'fine', ...q.identity(pane), heartbeatAt: new Date().toISOString() })]);
    const ok = await q.agent(['list-stuck']);
    expect(ok.code, ok.stdout + ok.stderr).to.equal(0);
    expect(ok.stdout).to.contain('nothing stuck');

    const pid = await q.processes.sleeper({ detached: true });
    q.write([...q.read().projects, q.project({ id: 'z', session: 'gone', ...q.identity(pid) })]);
    const stuck = await q.agent(['list-stuck', '--json']);
    expect(stuck.code).to.equal(1);
    const doc = JSON.parse(stuck.stdout);
    expect(doc.stuck).to.have.length(1);
    expect(doc.stuck[0]).to.include({ kind: 'zombie', project: 'z' });
    expect(doc.stuck[0].reason).to.contain(String(pid));
    expect(isRunning(pid), 'list-stuck changes nothing').to.equal(true);
  });

  it('kill-zombie refuses a project that is not a zombie, and kills one that is', async () => {
    const pane = q.tmux.newSession('live', ['sleep', '300']);
    q.processes.track(pane);
    const pid = await q.processes.sleeper({ detached: true });
    q.write([
      q.project({ id: 'live', session: 'live', ...q.identity(pane) }),
      q.project({ id: 'z', session: 'gone', ...q.identity(pid) }),
    ]);
    const refused = await q.agent(['kill-zombie', 'live']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('is not a zombie');
    expect(isRunning(pane)).to.equal(true);

    const killed = await q.agent(['kill-zombie', 'z']);
    expect(killed.code, killed.stderr).to.equal(0);
    await waitUntil(() => !isRunning(pid), 15_000, 'the zombie to die');
    expect(q.get('z')).to.include({ state: 'failed', failureReason: 'zombie' });
  });

  it('reset --force kills a live project first, then requeues it', async () => {
    const pane = q.tmux.newSession('live', ['sleep', '300']);
    q.processes.track(pane);
    q.write([q.project({ id: 'live', session: 'live', ...q.identity(pane) })]);
    const refused = await q.agent(['reset', 'live']);
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('--force');
    const forced = await q.agent(['reset', 'live', '--force', '--json']);
    expect(forced.code, forced.stderr + forced.stdout).to.equal(0);
    await waitUntil(() => !isRunning(pane), 15_000, 'the live project to die');
    expect(q.tmux.hasSession('live')).to.equal(false);
    expect(q.get('live')).to.include({ state: 'queued', attempts: 0 });
  });
});
