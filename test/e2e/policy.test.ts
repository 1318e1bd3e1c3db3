/**
 * The self-healing policy (docs/design.md#self-healing-policy) end to end: `agent heal --once`, run
 * again and again against a private tmux server with short config values,
 * launches, completes, fails, retries with backoff, opens breakers and pauses
 * the queue — checked through the registry, `agent status --json` and tmux.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isActive, ms, type HistoryEntry, type Project } from '../../src/core/model/project.js';
import { isRunning, sleep, waitUntil } from '../helpers/processes.js';
import { TestQueue, type HealJson } from '../helpers/queue.js';

interface StatusJson {
  queue: { paused: boolean; resumeAt: string | null; trippedBy: string[]; counts: Record<string, number> };
  projects: {
    id: string;
    state: string;
    attempts: number;
    maxAttempts: number;
    nextAttemptAt: string | null;
    breaker: string;
    session: string | null;
  }[];
}

/** A command that exits without a completion marker. */
const FAILING = ['sh', '-c', 'sleep 0.2; exit 3'];

describe('e2e: self-healing policy through agent heal --once', function () {
  // About 10 s each on an idle machine; the margin is for a loaded CI host.
  this.timeout(45_000);
  let q: TestQueue;
  beforeEach(() => {
    q = new TestQueue({
      PHANTOM_GRACE_PERIOD_SEC: '1',
      AGENT_RETRY_BASE_SEC: '1',
      AGENT_RETRY_MAX_DELAY_SEC: '1',
      AGENT_RETRY_MAX_ATTEMPTS: '5',
    });
  });
  afterEach(async () => {
    await q.destroy();
  });

  function projectDir(id: string): string {
    const dir = join(q.dir.path, 'work', id);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  async function enqueue(id: string, command: string[], extra: string[] = []): Promise<void> {
    const args = ['enqueue', '--id', id, '--tmux-socket', q.tmux.socket, ...extra];
    if (command.length > 0) args.push('--cwd', projectDir(id), '--', ...command);
    const r = await q.agent(args);
    expect(r.code, r.stderr).to.equal(0);
  }

  async function status(): Promise<StatusJson> {
    const r = await q.agent(['status', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    return JSON.parse(r.stdout) as StatusJson;
  }

  async function report(args: string[]): Promise<void> {
    const r = await q.agent(args);
    expect(r.code, `agent ${args.join(' ')}: ${r.stderr}`).to.equal(0);
  }

  /** Heal once, track what it launched (for cleanup), and hand the result to `check`. */
  async function heal(check?: (result: HealJson) => void): Promise<HealJson> {
    const { code, result } = await q.heal();
    expect(code, `every cycle is clean: ${JSON.stringify(result)}`).to.equal(0);
    for (const p of q.read().projects) if (p.pid !== null && isActive(p.state)) q.processes.track(p.pid);
    check?.(result);
    return result;
  }

  /** Heal every ~100 ms until `done()` holds; throws after `timeoutMs`. */
  async function healUntil(
    done: () => boolean,
    timeoutMs: number,
    what: string,
    check?: (result: HealJson) => void,
  ): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let cycles = 0;
    for (;;) {
      await heal(check);
      cycles += 1;
      if (done()) return cycles;
      if (Date.now() > deadline)
        throw new Error(
          `timed out after ${timeoutMs} ms (${cycles} cycles) waiting for ${what}: ${JSON.stringify(q.read().projects.map((p) => [p.id, p.state, p.attempts]))}`,
        );
      await sleep(100);
    }
  }

  const moves = (p: Project): string[] => p.history.filter((h) => h.from !== h.to).map((h) => `${h.from}->${h.to}`);

  it('launches a command project into a new session on its tmux server; once it wrote COMPLETED and exited it is completed', async () => {
    await enqueue('ok', ['sh', '-c', 'sleep 0.5; touch COMPLETED']);
    const launched = await heal();
    expect(launched.actions.map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal(['ok:launch:success']);
    const running = q.get('ok');
    expect(running).to.include({ state: 'processing', tmuxSocket: q.tmux.socket, host: 'test-host', attempts: 1 });
    expect(running.session).to.match(/^ok-[0-9a-f]{8}$/);
    expect(q.tmux.sessions()).to.deep.equal([running.session]);
    expect(running.pid).to.be.a('number');
    expect(running.pidStartTime, 'start time recorded at launch').to.be.a('number');

    // The pane stays (remain-on-exit) until the cycle has read how the command ended.
    const paneDead = () =>
      q.tmux.run(['list-panes', '-t', `=${running.session}:`, '-F', '#{pane_dead}']).trim() === '1';
    await waitUntil(() => !isRunning(running.pid as number) && paneDead(), 15_000, 'the command to finish');
    await heal();
    const done = q.get('ok');
    expect(done.state).to.equal('completed');
    expect(done.completion?.evidence.map((e) => e.method)).to.include.members(['marker', 'exit']);
    expect(done.exitStatus).to.equal(0);
    expect(q.tmux.sessions(), 'the session is closed once read').to.deep.equal([]);
    expect(moves(done)).to.deep.equal(['queued->processing', 'processing->completed']);
    expect(q.read().intents).to.deep.equal([]);
  });

  it('fails one that exits with status 3, retries it after the backoff drawn, and opens its breaker after three failures', async () => {
    q.env = { ...q.env, AGENT_BREAKER_FAILURE_THRESHOLD: '3', AGENT_BREAKER_COOLDOWN_SEC: '60' };
    await enqueue('bad', FAILING);
    const failures = () => q.get('bad').history.filter((h) => h.to === 'failed' && h.from !== 'failed');
    await healUntil(
      () => failures().length === 3,
      25_000,
      'three failures',
      (r) => {
        expect(
          r.actions.every((a) => a.outcome === 'success'),
          JSON.stringify(r.actions),
        ).to.equal(true);
      },
    );

    const p = q.get('bad');
    expect(p).to.include({ state: 'failed', failureReason: 'exit_status', exitStatus: 3, attempts: 3 });
    expect(moves(p)).to.deep.equal([
      'queued->processing',
      'processing->failed',
      'failed->queued',
      'queued->processing',
      'processing->failed',
      'failed->queued',
      'queued->processing',
      'processing->failed',
    ]);
    // Each failure drew a delay in [0, min(cap, base × 2^(attempts-1))] = [0, 1] s, and the retry waited for it.
    const history = p.history;
    for (const [i, h] of history.entries()) {
      if (h.to !== 'failed') continue;
      const delaySec = h['delaySec'];
      expect(delaySec, JSON.stringify(h)).to.be.a('number').within(0, 1);
      const retry = history.slice(i + 1).find((x: HistoryEntry) => x.from === 'failed' && x.to === 'queued');
      if (retry)
        expect(ms(retry.at), `${retry.at} after ${h.at} + ${delaySec}s`).to.be.at.least(
          (ms(h.at) as number) + (delaySec as number) * 1000,
        );
    }
    expect(history.filter((h) => h.to === 'failed').map((h) => h['breaker'] ?? null)).to.deep.equal([
      null,
      null,
      'opened',
    ]);
    expect(p.breaker).to.include({ state: 'open', consecutiveFailures: 3, opens: 1 });

    const s = (await status()).projects.find((x) => x.id === 'bad');
    expect(s).to.include({ state: 'failed', attempts: 3, maxAttempts: 5, breaker: 'open' });
    expect(s?.nextAttemptAt).to.be.a('string');

    // The backoff has run out, but the open breaker holds the project until its cooldown ends.
    await waitUntil(() => Date.now() > (ms(q.get('bad').nextAttemptAt) as number), 15_000, 'the backoff to pass');
    for (let i = 0; i < 2; i++) {
      const r = await heal();
      expect(r.actions, 'no launch while the breaker is open').to.deep.equal([]);
      expect(r.transitions).to.deep.equal([]);
    }
    expect(q.get('bad').history).to.deep.equal(history);
    expect(q.tmux.sessions()).to.deep.equal([]);
  });

  it('after the cooldown an open breaker lets one attempt through, and its failure re-opens it for twice as long', async () => {
    q.env = { ...q.env, AGENT_BREAKER_FAILURE_THRESHOLD: '3', AGENT_BREAKER_COOLDOWN_SEC: '4' };
    const now = Date.now();
    const openedAt = now - 3000;
    q.write([
      q.project({
        id: 'bad',
        state: 'failed',
        command: FAILING,
        cwd: projectDir('bad'),
        attempts: 3,
        pid: null,
        pidStartTime: null,
        failureReason: 'phantom',
        endedAt: new Date(openedAt).toISOString(),
        nextAttemptAt: new Date(openedAt + 100).toISOString(),
        breaker: { state: 'open', consecutiveFailures: 3, openedAt: new Date(openedAt).toISOString(), opens: 1 },
      }),
    ]);
    const halfOpen = openedAt + 4000;
    await healUntil(
      () => q.get('bad').state !== 'failed',
      15_000,
      'the half-open retry',
      (r) => {
        if (r.transitions.length > 0) expect(Date.now(), 'no retry before the cooldown ends').to.be.at.least(halfOpen);
      },
    );
    const retry = q.get('bad').history.at(-1) as HistoryEntry;
    expect(retry).to.include({ from: 'failed', to: 'queued', reason: 'retry', breaker: 'half_open', attempt: 4 });
    expect(ms(retry.at)).to.be.at.least(halfOpen);

    await healUntil(() => q.get('bad').state === 'failed', 8000, 'the trial to fail');
    const p = q.get('bad');
    expect(p.attempts).to.equal(4);
    expect(p.history.at(-1)).to.include({ from: 'processing', to: 'failed', breaker: 'reopened' });
    expect(p.breaker).to.include({ state: 'open', consecutiveFailures: 4, opens: 2 });
    const reopened = ms(p.breaker.openedAt) as number;
    expect((await status()).projects[0]).to.include({ id: 'bad', breaker: 'open' });
    // The second cooldown is 8 s: a cycle 4 s in (the first cooldown's length) still launches nothing.
    await waitUntil(() => Date.now() > reopened + 4100, 15_000, 'the first cooldown length to pass');
    expect(Date.now() - reopened, 'the machine is too slow for this check').to.be.below(6000);
    const r = await heal();
    expect(r.actions).to.deep.equal([]);
    expect(q.get('bad').state).to.equal('failed');
  });

  it('with AGENT_MAX_CONCURRENT=2 never runs more than two at once and starts them in priority order', async () => {
    q.env = { ...q.env, AGENT_MAX_CONCURRENT: '2' };
    const priorities: Record<string, number> = { p1: 1, p2: 5, p3: 3, p4: 4, p5: 2 };
    for (const [id, priority] of Object.entries(priorities))
      await enqueue(id, ['sh', '-c', 'sleep 0.7; touch COMPLETED'], ['--priority', String(priority)]);
    let most = 0;
    await healUntil(
      () => q.read().projects.every((p) => p.state === 'completed'),
      14_000,
      'all five to complete',
      (r) => {
        const running = q.read().projects.filter((p) => isActive(p.state)).length;
        const sessions = q.tmux.sessions().length;
        most = Math.max(most, running, sessions);
        expect(running, 'processing projects').to.be.at.most(2);
        expect(sessions, 'live sessions').to.be.at.most(2);
        expect(r.actions.filter((a) => a.action === 'launch').length).to.be.at.most(2);
      },
    );
    expect(most).to.equal(2);
    const started = q
      .read()
      .projects.map((p) => ({ id: p.id, at: ms(p.history.find((h) => h.to === 'processing')?.at) as number }));
    const order = [...started]
      .sort((a, b) => a.at - b.at || (priorities[b.id] as number) - (priorities[a.id] as number))
      .map((s) => s.id);
    expect(order).to.deep.equal(['p2', 'p4', 'p3', 'p5', 'p1']);
    for (const p of q.read().projects) expect(p.attempts, p.id).to.equal(1);
  });

  it('a project that cannot be launched fails as invalid_command instead of holding the only slot forever', async () => {
    await enqueue('broken', ['sleep', '30'], ['--priority', '10']);
    await enqueue('good', ['sh', '-c', 'sleep 0.3; touch COMPLETED']);
    rmSync(projectDir('broken'), { recursive: true });
    const { code, result } = await q.heal();
    expect(code, 'the failed launch is reported').to.equal(1);
    expect(result.actions.map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal(['broken:launch:failure']);
    const broken = q.get('broken');
    expect(broken).to.include({ state: 'failed', failureReason: 'invalid_command', attempts: 1, nextAttemptAt: null });
    expect(moves(broken)).to.deep.equal(['queued->processing', 'processing->failed']);
    expect(broken.history.at(-1)?.reason).to.contain('is not an existing directory');
    expect(q.read().intents).to.deep.equal([]);

    await healUntil(() => q.get('good').state === 'completed', 6000, 'the next project to run');
    expect(q.get('broken').state, 'never retried: the command cannot run').to.equal('failed');
  });

  it('a launch tmux refuses fails as launch_failed, is retried after its backoff and starts once tmux accepts it', async () => {
    const bin = join(q.dir.path, 'refusing-bin');
    const refuse = join(q.dir.path, 'refuse');
    mkdirSync(bin, { recursive: true });
    writeFileSync(refuse, '');
    // tmux itself, except that new-session is refused while the file "refuse" exists.
    const tmux = execFileSync('sh', ['-c', 'command -v tmux'], { encoding: 'utf8' }).trim();
    writeFileSync(
      join(bin, 'tmux'),
      `#!/bin/sh\ncase " $* " in *" new-session "*) if [ -e '${refuse}' ]; then echo 'create window failed: fork failed: Resource temporarily unavailable' >&2; exit 1; fi;; esac\nexec ${tmux} "$@"\n`,
    );
    chmodSync(join(bin, 'tmux'), 0o755);
    const env = { PATH: `${bin}:${process.env['PATH'] ?? ''}` };
    await enqueue('dup', ['sh', '-c', 'sleep 0.3; touch COMPLETED']);
    const { code, result } = await q.heal(env);
    expect(code, 'the failed launch is reported').to.equal(1);
    expect(result.actions.map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal(['dup:launch:failure']);
    expect(result.actions[0]?.detail).to.contain('fork failed');
    const failed = q.get('dup');
    expect(failed).to.include({ state: 'failed', failureReason: 'launch_failed', attempts: 1, pid: null });
    expect(failed.nextAttemptAt, 'retried with backoff').to.be.a('string');
    expect(failed.history.at(-1)?.reason).to.match(/^launch failed: tmux new-session .* fork failed/);
    expect(q.read().intents).to.deep.equal([]);

    rmSync(refuse);
    q.env = { ...q.env, ...env };
    await healUntil(() => q.get('dup').state === 'completed', 8000, 'the retried launch to complete');
    const done = q.get('dup');
    expect(done.attempts).to.equal(2);
    expect(moves(done)).to.deep.equal([
      'queued->processing',
      'processing->failed',
      'failed->queued',
      'queued->processing',
      'processing->completed',
    ]);
  });

  it('a launch whose tmux timed out keeps its intent: the next cycle adopts the session it created instead of launching twice', async () => {
    const bin = join(q.dir.path, 'slow-bin');
    mkdirSync(bin, { recursive: true });
    // tmux itself, except that new-session answers only after the agent's timeout (the session exists by then).
    writeFileSync(
      join(bin, 'tmux'),
      `#!/bin/sh\n${execFileSync('sh', ['-c', 'command -v tmux'], { encoding: 'utf8' }).trim()} "$@"; rc=$?\ncase " $* " in *" new-session "*) exec sleep 5;; esac\nexit $rc\n`,
    );
    chmodSync(join(bin, 'tmux'), 0o755);
    await enqueue('slow', ['sleep', '300']);
    const first = await q.heal({ PATH: `${bin}:${process.env['PATH'] ?? ''}`, AGENT_TMUX_TIMEOUT_MS: '1000' });
    expect(first.code).to.equal(1);
    expect(first.result.actions.map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal([
      'slow:launch:failure',
    ]);
    expect(first.result.actions[0]?.detail).to.contain('timed out');
    expect(q.get('slow')).to.include({ state: 'queued', attempts: 0 });
    const [intent] = q.read().intents;
    expect(intent, 'the launch intent is kept').to.include({ project: 'slow', action: 'launch' });
    expect(q.tmux.hasSession(intent?.session as string), 'tmux created the session').to.equal(true);

    await heal();
    const adopted = q.get('slow');
    expect(adopted).to.include({ state: 'processing', session: intent?.session, attempts: 1 });
    expect(adopted.history.at(-1)?.reason).to.contain('adopted from an unfinished launch');
    expect(q.read().intents).to.deep.equal([]);
    expect(q.tmux.sessions(), 'one session, not two').to.deep.equal([intent?.session]);
  });

  it('requeues a failed project of an external orchestrator after its backoff, then leaves it queued for the orchestrator', async () => {
    const orchestrator = await q.processes.sleeper({ detached: true });
    await enqueue('ext', []);
    await report(['start', 'ext', '--pid', String(orchestrator)]);
    expect(q.get('ext')).to.include({ state: 'processing', pid: orchestrator });
    await report(['fail', 'ext', '--reason', 'tests failed']);
    const failed = q.get('ext');
    expect(failed).to.include({ state: 'failed', failureReason: 'tests failed' });
    expect(isRunning(orchestrator), 'a live project that failed is killed').to.equal(false);
    const due = ms(failed.nextAttemptAt) as number;
    expect(due - (ms(failed.endedAt) as number)).to.be.within(0, 1000);

    await healUntil(
      () => q.get('ext').state === 'queued',
      15_000,
      'the retry',
      (r) => {
        expect(r.actions).to.deep.equal([]);
      },
    );
    const queued = q.get('ext');
    const retry = queued.history.at(-1) as HistoryEntry;
    expect(retry).to.include({ from: 'failed', to: 'queued', reason: 'retry', attempt: 2 });
    expect(ms(retry.at)).to.be.at.least(due);

    for (let i = 0; i < 2; i++) {
      const r = await heal();
      expect(r.actions, 'no launch: no command, the orchestrator starts it').to.deep.equal([]);
    }
    expect(q.get('ext')).to.include({ state: 'queued', attempts: 1, pid: null });
    expect(q.tmux.sessions()).to.deep.equal([]);
  });

  it('the queue breaker pauses the queue after several failures: no launch and no requeue while paused', async () => {
    q.env = {
      ...q.env,
      AGENT_QUEUE_BREAKER_WINDOW: '5',
      AGENT_QUEUE_BREAKER_MIN_FINISHED: '3',
      AGENT_QUEUE_BREAKER_COOLDOWN_SEC: '60',
    };
    // Two attempts failed a moment ago (as an orchestrator reported them); the third is reported now.
    const now = Date.now();
    const failedAt = (i: number) => new Date(now - 2000 + i * 100).toISOString();
    q.write(
      [1, 2].map((i) =>
        q.project({
          id: `f${i}`,
          state: 'failed',
          pid: null,
          pidStartTime: null,
          endedAt: failedAt(i),
          failureReason: 'reported',
          nextAttemptAt: new Date(now + 500).toISOString(),
          breaker: { state: 'closed', consecutiveFailures: 1, openedAt: null, opens: 0 },
          history: [
            {
              at: failedAt(i),
              from: 'processing',
              to: 'failed',
              reason: 'failed (reported): reported',
              by: 'cli@test-host',
            },
          ],
        }),
      ),
    );
    const orchestrator = await q.processes.sleeper({ detached: true });
    await enqueue('f3', []);
    await report(['start', 'f3', '--pid', String(orchestrator)]);
    await report(['fail', 'f3']);
    await enqueue('next', ['sleep', '30']);

    const first = await heal();
    expect(first.actions, 'nothing launched').to.deep.equal([]);
    expect(first.transitions).to.deep.equal([]);
    const s = await status();
    expect(s.queue.paused).to.equal(true);
    expect([...s.queue.trippedBy].sort()).to.deep.equal(['f1', 'f2', 'f3']);
    expect(ms(s.queue.resumeAt)).to.be.greaterThan(Date.now() + 50_000);
    const audit = q.audit().filter((a) => a['type'] === 'note' && a['reason'] === 'queue breaker tripped');
    expect(audit).to.have.length(1);

    // Every retry is due now; the paused queue holds them all.
    await waitUntil(
      () =>
        q
          .read()
          .projects.filter((p) => p.state === 'failed')
          .every((p) => Date.now() > (ms(p.nextAttemptAt) as number)),
      15_000,
      'the retries to fall due',
    );
    for (let i = 0; i < 2; i++) {
      const r = await heal();
      expect(r.actions).to.deep.equal([]);
      expect(r.transitions).to.deep.equal([]);
    }
    const states = Object.fromEntries(q.read().projects.map((p) => [p.id, p.state]));
    expect(states).to.deep.equal({ f1: 'failed', f2: 'failed', f3: 'failed', next: 'queued' });
    expect(q.tmux.sessions()).to.deep.equal([]);
    expect((await status()).queue.paused).to.equal(true);
  });
});
