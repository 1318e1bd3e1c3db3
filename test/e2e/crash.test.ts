/**
 * Crash safety of one cycle (docs/design.md#intents: an action is recorded as
 * intended before it runs; after a crash the next cycle finishes or re-plans
 * it, never repeats a kill on a new PID), against a real tmux server and real processes:
 * registries left as a crashed cycle would leave them, and `agent heal --once`
 * SIGKILLed while it kills.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Intent } from '../../src/core/model/registry-document.js';
import { AGENT_BIN, cleanEnv } from '../helpers/cli.js';
import { isRunning, sleep, waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

function anIntent(fields: Partial<Intent> & Pick<Intent, 'id' | 'action'>): Intent {
  return {
    project: null,
    pid: null,
    pidStartTime: null,
    session: null,
    tmuxSocket: null,
    then: null,
    at: new Date(Date.now() - 5000).toISOString(),
    by: 'agent@test-host',
    ...fields,
  };
}

const zombieFollowUp = (pid: number) => ({
  to: 'failed' as const,
  reason: `zombie: process tree of pid ${pid} killed`,
  patch: { failureReason: 'zombie' },
});

describe('e2e: crash recovery of a cycle', function () {
  this.timeout(30_000);
  let q: TestQueue;
  beforeEach(() => {
    q = new TestQueue();
  });
  afterEach(async () => {
    await q.destroy();
  });

  async function registryValid(): Promise<void> {
    const check = await q.agent(['registry', 'check']);
    expect(check.code, check.stdout + check.stderr).to.equal(0);
  }

  function auditLinesParse(): void {
    const text = readFileSync(join(q.dir.path, 'data', 'audit.jsonl'), 'utf8');
    expect(text.endsWith('\n'), 'audit.jsonl ends with a whole line').to.equal(true);
    for (const line of text.split('\n').filter(Boolean)) expect(() => JSON.parse(line), line).to.not.throw();
  }

  it('finishes a kill whose process is already dead: the follow-up once, the intent cleared', async () => {
    const pid = await q.processes.sleeper({ detached: true });
    const identity = q.identity(pid);
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !isRunning(pid), 15_000, 'the zombie to die');
    const intent = anIntent({
      id: 'k1',
      project: 'z',
      action: 'kill_tree',
      ...identity,
      tmuxSocket: q.tmux.socket,
      then: zombieFollowUp(pid),
    });
    q.write([q.project({ id: 'z', state: 'zombie', session: 'gone', ...identity })], { intents: [intent] });

    const { code, result } = await q.heal();
    expect(code, JSON.stringify(result)).to.equal(0);
    expect(result.actions, 'nothing is killed again').to.deep.equal([]);
    const p = q.get('z');
    expect(p).to.include({ state: 'failed', failureReason: 'zombie' });
    expect(p.history.filter((h) => h.to === 'failed')).to.have.length(1);
    expect(p.history.at(-1)?.reason).to.contain('finished after a restart');
    expect(q.read().intents).to.deep.equal([]);

    await q.heal();
    expect(q.get('z').history, 'a second cycle changes nothing').to.deep.equal(p.history);
    expect(q.audit().filter((a) => a['project'] === 'z' && a['to'] === 'failed')).to.have.length(1);
    await registryValid();
  });

  it("never signals a live process whose start time differs from the intent's", async () => {
    const pid = await q.processes.sleeper({ detached: true });
    const { pidStartTime } = q.identity(pid);
    const recorded = { pid, pidStartTime: (pidStartTime as number) - 7 };
    const intent = anIntent({ id: 'k2', project: 'r', action: 'kill_tree', ...recorded, then: zombieFollowUp(pid) });
    q.write([q.project({ id: 'r', state: 'zombie', session: 'gone', ...recorded })], { intents: [intent] });

    const { result } = await q.heal();
    expect(result.actions.filter((a) => a.action === 'kill_tree')).to.deep.equal([]);
    await sleep(300);
    expect(isRunning(pid), 'the process that now holds the PID lives').to.equal(true);
    expect(q.get('r')).to.include({ state: 'failed', failureReason: 'zombie' });
    expect(q.read().intents).to.deep.equal([]);
    await registryValid();
  });

  it('re-plans a kill whose target still lives, with a fresh start-time check, and kills it once', async () => {
    const pid = await q.processes.sleeper({ detached: true });
    const identity = q.identity(pid);
    const intent = anIntent({ id: 'k3', project: 'z', action: 'kill_tree', ...identity, then: zombieFollowUp(pid) });
    q.write([q.project({ id: 'z', state: 'zombie', session: 'gone', ...identity })], { intents: [intent] });

    const { result } = await q.heal();
    expect(result.actions.map((a) => `${a.action}:${a.outcome}`)).to.deep.equal(['kill_tree:success']);
    await waitUntil(() => !isRunning(pid), 15_000, 'the zombie to die');
    const p = q.get('z');
    expect(p).to.include({ state: 'failed', failureReason: 'zombie' });
    expect(p.history.filter((h) => h.to === 'failed')).to.have.length(1);
    expect(q.read().intents).to.deep.equal([]);
  });

  it('adopts a launch whose session exists: no second launch, the slot counted, the session not taken for an orphan', async () => {
    const pane = q.tmux.newSession('adopt-1', ['sleep', '60']);
    q.processes.track(pane);
    const paneStart = q.identity(pane).pidStartTime;
    const now = Date.now();
    const queued = (id: string, priority: number) =>
      q.project({
        id,
        state: 'queued',
        priority,
        command: ['sleep', '60'],
        pid: null,
        pidStartTime: null,
        startedAt: null,
        lastSeenAliveAt: null,
        attempts: 0,
        host: null,
        enqueuedAt: new Date(now - 60_000).toISOString(),
      });
    const intent = anIntent({
      id: 'l1',
      project: 'a',
      action: 'launch',
      session: 'adopt-1',
      tmuxSocket: q.tmux.socket,
      then: { to: 'processing', reason: 'launched', patch: { host: 'test-host', session: 'adopt-1' } },
    });
    q.write([queued('a', 0), queued('b', 10)], { intents: [intent] });

    const env = { AGENT_MAX_CONCURRENT: '1', AGENT_ORPHAN_SESSION_PATTERNS: '^adopt-', ORPHAN_GRACE_SEC: '0' };
    const { code, result } = await q.heal(env);
    expect(code, JSON.stringify(result)).to.equal(0);
    const a = q.get('a');
    expect(result.actions, 'no launch, no orphan kill').to.deep.equal([]);
    expect(a, JSON.stringify(result)).to.include({
      state: 'processing',
      pid: pane,
      session: 'adopt-1',
      tmuxSocket: q.tmux.socket,
      attempts: 1,
    });
    expect(a.pidStartTime).to.equal(paneStart);
    expect(a.history.at(-1)?.reason).to.contain('adopted from an unfinished launch');
    expect(q.get('b').state, 'one slot (AGENT_MAX_CONCURRENT=1), taken by the adopted launch').to.equal('queued');
    expect(q.tmux.sessions()).to.deep.equal(['adopt-1']);
    expect(isRunning(pane)).to.equal(true);
    expect(q.read().intents).to.deep.equal([]);

    await q.heal(env);
    expect(q.get('a').state).to.equal('processing');
    expect(q.get('b').state).to.equal('queued');
    expect(q.tmux.sessions()).to.deep.equal(['adopt-1']);
    await registryValid();
  });

  it('launches again a project whose launch never happened (intent left, no session)', async () => {
    const dir = q.dir.path;
    const intent = anIntent({
      id: 'l2',
      project: 'c',
      action: 'launch',
      session: 'c-1',
      tmuxSocket: q.tmux.socket,
      then: { to: 'processing', reason: 'launched', patch: { host: 'test-host', session: 'c-1' } },
    });
    q.write(
      [
        q.project({
          id: 'c',
          state: 'queued',
          command: ['sleep', '60'],
          cwd: dir,
          session: 'c-1',
          pid: null,
          pidStartTime: null,
          startedAt: null,
          lastSeenAliveAt: null,
          attempts: 0,
        }),
      ],
      { intents: [intent] },
    );
    const { result } = await q.heal();
    expect(result.actions.map((a) => `${a.action}:${a.outcome}`)).to.deep.equal(['launch:success']);
    const c = q.get('c');
    expect(c).to.include({ state: 'processing', attempts: 1 });
    q.processes.track(c.pid as number);
    expect(c.session, 'a launch that never happened is launched again under a fresh name').to.match(/^c-[0-9a-f]{8}$/);
    expect(q.tmux.sessions()).to.deep.equal([c.session]);
    expect(q.read().intents).to.deep.equal([]);
  });

  it('an intent for an attempt the operator has since reset is settled without touching the project', async () => {
    const pid = await q.processes.sleeper({ detached: true });
    const identity = q.identity(pid);
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !isRunning(pid), 15_000, 'the old process to die');
    const intent = anIntent({ id: 'k4', project: 'z', action: 'kill_tree', ...identity, then: zombieFollowUp(pid) });
    // `agent reset z --force` ran between the crash and this cycle: z is queued, no longer the zombie the intent was for.
    q.write(
      [
        q.project({
          id: 'z',
          state: 'queued',
          pid: null,
          pidStartTime: null,
          startedAt: null,
          lastSeenAliveAt: null,
          attempts: 0,
        }),
      ],
      { intents: [intent] },
    );
    const { code, result } = await q.heal();
    expect(code, JSON.stringify(result)).to.equal(0);
    expect(result.errors).to.deep.equal([]);
    expect(q.get('z').state).to.equal('queued');
    expect(q.read().intents).to.deep.equal([]);
  });

  describe('SIGKILL of agent heal --once while it kills a TERM-ignoring zombie', () => {
    // Points after the intent is written: inside the kill grace, around the SIGKILL, and at the outcome write.
    const points = [0, 300 + Math.floor(Math.random() * 1200), 1900 + Math.floor(Math.random() * 400)];
    for (const [i, delayMs] of points.entries()) {
      it(`crash ${i + 1}: killed ${delayMs} ms after the intent is recorded, the next cycle finishes the job`, async () => {
        const env = { ...q.env, KILL_GRACE_SEC: '2' };
        const pid = await q.processes.termIgnorer({ detached: true });
        q.write([q.project({ id: 'z', session: 'gone', ...q.identity(pid) })]);

        const heal = spawn(process.execPath, [AGENT_BIN, 'heal', '--once', '--json'], {
          cwd: q.dir.path,
          env: cleanEnv(env),
          stdio: 'ignore',
        });
        const exited = new Promise<void>((resolve) => heal.on('exit', () => resolve()));
        try {
          await waitUntil(
            () => {
              try {
                return q.read().intents.length > 0;
              } catch {
                return false; // a write in progress is renamed into place atomically; a failed read means "not yet"
              }
            },
            10_000,
            'the kill intent to be recorded',
          );
          await sleep(delayMs);
        } finally {
          heal.kill('SIGKILL');
          await exited;
        }

        const { code, result } = await q.heal({ KILL_GRACE_SEC: '2' });
        expect(code, JSON.stringify(result)).to.equal(0);
        await waitUntil(() => !isRunning(pid), 15_000, 'the TERM-ignoring zombie to die');
        const p = q.get('z');
        expect(p).to.include({ state: 'failed', failureReason: 'zombie' });
        expect(
          p.history.filter((h) => h.to === 'failed'),
          JSON.stringify(p.history),
        ).to.have.length(1);
        expect(q.read().intents).to.deep.equal([]);
        await registryValid();
        auditLinesParse();
      });
    }
  });
});
