/**
 * Crash safety of the daemon (docs/design.md#intents): `agent serve` SIGKILLed at
 * random points, over and over, while zombie, phantom and timeout projects
 * keep arriving and cycles run back to back. test/e2e/crash.test.ts pins the
 * recovery of single crafted intents; this one checks the invariants across
 * hundreds of cycles and tens of crashes:
 * - the registry parses and validates after every crash;
 * - intents a crash left behind are gone once the next cycle has run;
 * - every SIGTERM went to a process the agent was meant to kill (pid and start
 *   time), each such process got exactly one, and no other process got any;
 * - the audit log never holds a partial line, and loses none: every failure
 *   in the registry has its audit line.
 *
 * A crash inside the registry lock leaves `<registry>.lock`, which every
 * writer takes over only once it is stale (10 s). Two independent queues
 * (lanes) crash side by side, so one lane's wait overlaps the other's work.
 */
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Project } from '../../src/core/model/project.js';
import { JsonStore } from '../../src/registry/json-store.js';
import { startAgent, type RunningAgent } from '../helpers/daemon.js';
import { isRunning, sleep, statStartTime } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';
import { TOKEN, Victims, healOnce, key, validRegistry, wholeLines, type Identity } from './helpers.js';

const LANES = 2;
/** Per lane: at least this many restarts, and more until TARGET_CYCLES ran, within MAX_RESTARTS and the budget. */
const MIN_RESTARTS = 10;
const MAX_RESTARTS = 16;
const TARGET_CYCLES = 60;
const BUDGET_MS = 40_000;

const cyclesIn = (agent: RunningAgent): number => (agent.stderr().match(/"message":"cycle done"/g) ?? []).length;

interface LaneFigures {
  restarts: number;
  cycles: number;
  waves: number;
  projects: number;
  sigterms: number;
  intentsLeftByCrashes: number;
  crashesInsideLock: number;
  auditLines: number;
  /** Failures in the registry whose audit line a crash lost (committed, killed before the append). */
  auditLinesLost: number;
  killDelaysMs: number[];
}

/** One queue crashed again and again; resolves with its figures once every invariant was checked. */
class Lane {
  readonly q = new TestQueue({
    AGENT_API_TOKEN: TOKEN,
    AGENT_SCAN_SCHEDULE: '* * * * * *',
    KILL_GRACE_SEC: '1',
    PHANTOM_GRACE_PERIOD_SEC: '0',
    MAX_PROCESS_RUNTIME_SEC: '600',
    MAX_TIMEOUT_EXTENSIONS: '0',
    TIMING_OUT_GRACE_SEC: '0',
    AGENT_RETRY_MAX_ATTEMPTS: '1',
    LOG_LEVEL: 'debug',
  });
  readonly victims = new Victims(this.q.dir.path, this.q.processes);
  readonly store = new JsonStore({ path: this.q.registry, lockWaitMs: 30_000 });
  agent: RunningAgent | null = null;
  /** Processes the agent is meant to kill (zombies, timeouts): pid@start -> project. */
  private readonly killable = new Map<string, string>();
  /** Processes it must never signal: bystanders (healthy projects) and decoys (recorded with another start time). */
  private readonly untouchable = new Map<string, Identity>();
  private wave = 0;

  constructor(private readonly name: string) {}

  private async addWave(): Promise<void> {
    this.wave += 1;
    const w = this.wave;
    const { victims, q } = this;
    const [zombie, timeout, decoy, phantom] = await Promise.all([
      victims.spawn(),
      victims.spawn(),
      victims.spawn(),
      victims.gone(),
    ]);
    this.killable.set(key(zombie), `zombie-${w}`);
    this.killable.set(key(timeout), `timeout-${w}`);
    this.untouchable.set(key(decoy), decoy);
    const projects: Project[] = [
      // PID alive with its start time, its session missing on the (empty) tmux server.
      q.project({ id: `zombie-${w}`, session: `zs-${w}`, ...zombie }),
      // Started two hours ago against a 600 s limit, no heartbeat: timing_out, then killed.
      q.project({ id: `timeout-${w}`, session: null, ...timeout }, 7200),
      // Neither PID nor session: failed as a phantom, nothing to signal.
      q.project({ id: `phantom-${w}`, session: null, ...phantom }),
      // A live PID recorded with another start time (a reused PID): a phantom too, and never signalled.
      q.project({ id: `decoy-${w}`, session: null, pid: decoy.pid, pidStartTime: decoy.pidStartTime - 7 }),
    ];
    // Written as an orchestrator would: under the registry lock, whether the daemon runs or not.
    await this.store.update((doc) => void doc.projects.push(...projects));
  }

  async run(): Promise<LaneFigures> {
    const { q } = this;
    // Healthy projects keep the guard's "more than half of the active projects" rule out of the way.
    const bystanders: Project[] = [];
    for (let i = 1; i <= 6; i++) {
      const b = await this.victims.spawn();
      this.untouchable.set(key(b), b);
      bystanders.push(q.project({ id: `healthy-${i}`, session: null, ...b, heartbeatAt: new Date().toISOString() }, 1));
    }
    q.write(bystanders);

    const started = Date.now();
    const figures: LaneFigures = {
      restarts: 0,
      cycles: 0,
      waves: 0,
      projects: 0,
      sigterms: 0,
      intentsLeftByCrashes: 0,
      crashesInsideLock: 0,
      auditLines: 0,
      auditLinesLost: 0,
      killDelaysMs: [],
    };
    /** Intent ids a crash left behind, not yet seen settled. */
    let pending: string[] = [];
    const more = (): boolean =>
      figures.restarts < MIN_RESTARTS ||
      (figures.restarts < MAX_RESTARTS && figures.cycles < TARGET_CYCLES && Date.now() - started < BUDGET_MS);

    while (more()) {
      await this.addWave();
      const agent = await startAgent(q.env, q.dir.path);
      this.agent = agent;
      let delay: number;
      if (Math.random() < 0.25) {
        // Early: most likely inside the first cycle, which settles what the last crash left.
        delay = Math.floor(Math.random() * 800);
        await sleep(delay);
      } else {
        const result = await healOnce(agent.url);
        if (result.ok) {
          // The first cycle of this run has finished: nothing the last crash left may remain.
          const left = validRegistry(q.registry).intents.map((i) => i.id);
          expect(
            left.filter((id) => pending.includes(id)),
            `${this.name}: intents left by crash ${figures.restarts} after the next cycle`,
          ).to.deep.equal([]);
          figures.intentsLeftByCrashes += pending.length;
          pending = [];
        }
        // Cycles back to back, and sometimes a new wave written under the lock meanwhile; killed at a random point.
        let hammering = true;
        const hammer = (async () => {
          while (hammering) {
            try {
              await healOnce(agent.url, 20_000);
            } catch {
              return; // killed
            }
          }
        })();
        const midWave = Math.random() < 0.3 ? this.addWave() : Promise.resolve();
        delay = 100 + Math.floor(Math.random() * 2400);
        await sleep(delay);
        await agent.stop('SIGKILL');
        hammering = false;
        await hammer;
        await midWave;
      }
      await agent.stop('SIGKILL');
      this.agent = null;
      figures.killDelaysMs.push(delay);
      figures.restarts += 1;
      figures.cycles += cyclesIn(agent);
      if (existsSync(`${q.registry}.lock`)) figures.crashesInsideLock += 1;

      // After every crash: the registry parses and validates, the audit log is whole lines.
      const doc = validRegistry(q.registry);
      wholeLines(join(q.dir.path, 'data', 'audit.jsonl'));
      pending = [...new Set([...pending, ...doc.intents.map((i) => i.id)])];
    }

    // A last run finishes everything: every zombie and timeout failed, no intent left.
    const agent = await startAgent(q.env, q.dir.path);
    this.agent = agent;
    const deadline = Date.now() + 60_000;
    for (;;) {
      await healOnce(agent.url);
      const doc = validRegistry(q.registry);
      const open = doc.projects.filter((p) => !p.id.startsWith('healthy-') && p.state !== 'failed');
      if (open.length === 0 && doc.intents.length === 0) break;
      if (Date.now() > deadline)
        throw new Error(
          `${this.name} not settled: ${JSON.stringify(open.map((p) => [p.id, p.state]))}, intents ${doc.intents.length}`,
        );
      await sleep(200);
    }
    const final = await agent.stop('SIGTERM');
    this.agent = null;
    expect(final.code).to.equal(0);
    figures.cycles += cyclesIn(agent);
    figures.intentsLeftByCrashes += pending.length; // settled by the last run (no intent left, checked above)
    this.verify(figures);
    return figures;
  }

  private verify(figures: LaneFigures): void {
    const { q, name } = this;
    const doc = validRegistry(q.registry);
    const audit = wholeLines(join(q.dir.path, 'data', 'audit.jsonl'));
    const signals = this.victims.signalled();

    // Every SIGTERM went to a process the agent was meant to kill, with that process's start time, once.
    const counts = new Map<string, number>();
    for (const s of signals) counts.set(key(s), (counts.get(key(s)) ?? 0) + 1);
    for (const [k, n] of counts) {
      expect(this.killable.has(k), `${name}: SIGTERM to ${k}, which no zombie or timeout project recorded`).to.equal(
        true,
      );
      expect(n, `${name}: SIGTERMs to ${k} (${this.killable.get(k)})`).to.equal(1);
    }
    for (const [k, id] of this.killable) {
      const pid = Number(k.split('@')[0]);
      expect(counts.get(k), `${name}: SIGTERMs to ${k} of ${id}`).to.equal(1);
      expect(isRunning(pid) && statStartTime(pid) === Number(k.split('@')[1]), `${name}: ${id} still runs`).to.equal(
        false,
      );
    }
    for (const [k, identity] of this.untouchable) {
      expect(counts.has(k), `${name}: bystander or decoy ${k} was signalled`).to.equal(false);
      expect(
        isRunning(identity.pid) && statStartTime(identity.pid) === identity.pidStartTime,
        `${name}: bystander or decoy ${k} still runs`,
      ).to.equal(true);
    }

    // Each project failed once, for the right reason, in its history and in the audit log; the healthy ones untouched.
    const failedLines = new Map<string, number>();
    for (const a of audit)
      if (a['type'] === 'transition' && a['to'] === 'failed')
        failedLines.set(String(a['project']), (failedLines.get(String(a['project'])) ?? 0) + 1);
    for (const p of doc.projects) {
      if (p.id.startsWith('healthy-')) {
        expect(p.state, p.id).to.equal('processing');
        continue;
      }
      const kind = p.id.split('-')[0];
      expect(p.state, `${name}: ${p.id}`).to.equal('failed');
      expect(p.failureReason, `${name}: ${p.id}`).to.equal(
        kind === 'zombie' ? 'zombie' : kind === 'timeout' ? 'timeout' : 'phantom',
      );
      expect(
        p.history.filter((h) => h.to === 'failed'),
        `${name}: ${p.id} failed once`,
      ).to.have.length(1);
      expect(failedLines.get(p.id) ?? 0, `${name}: audit lines of ${p.id} failing`).to.be.at.most(1);
      if (!failedLines.has(p.id)) figures.auditLinesLost += 1;
    }
    figures.waves = this.wave;
    figures.projects = doc.projects.length;
    figures.sigterms = signals.length;
    figures.auditLines = audit.length;
  }

  async destroy(): Promise<void> {
    await this.agent?.stop('SIGKILL');
    this.agent = null;
    await this.q.destroy();
  }
}

describe('reliability: SIGKILL of agent serve at random points', function () {
  this.timeout(170_000);
  let lanes: Lane[] = [];
  afterEach(async () => {
    await Promise.all(lanes.map((l) => l.destroy()));
    lanes = [];
  });

  it(`${LANES * MIN_RESTARTS}+ crashes over ~${LANES * TARGET_CYCLES} cycles: valid registry, intents finished, each victim signalled once, whole audit lines`, async () => {
    const started = Date.now();
    lanes = Array.from({ length: LANES }, (_, i) => new Lane(`lane ${i + 1}`));
    const results = await Promise.all(lanes.map((l) => l.run()));
    const sum = (f: (r: LaneFigures) => number) => results.reduce((n, r) => n + f(r), 0);
    const delays = results.flatMap((r) => r.killDelaysMs);
    const total = {
      restarts: sum((r) => r.restarts),
      cycles: sum((r) => r.cycles),
      projects: sum((r) => r.projects),
      sigterms: sum((r) => r.sigterms),
      intentsLeftByCrashes: sum((r) => r.intentsLeftByCrashes),
      crashesInsideLock: sum((r) => r.crashesInsideLock),
      auditLines: sum((r) => r.auditLines),
      auditLinesLost: sum((r) => r.auditLinesLost),
      killDelayMs: [Math.min(...delays), Math.max(...delays)],
      seconds: Math.round((Date.now() - started) / 1000),
    };
    console.log(`      crash figures: ${JSON.stringify(total)}`);
    expect(total.restarts).to.be.at.least(LANES * MIN_RESTARTS);
    expect(total.auditLinesLost, 'failures in the registry without their audit line').to.equal(0);
  });
});
