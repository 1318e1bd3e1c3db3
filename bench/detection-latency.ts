/**
 * Detection latency of `agent serve` with polling set to once an hour, so
 * only the event sources can see a death: tmux session kills (the project's
 * process ignores SIGHUP and outlives its session → zombie; the tmux hook)
 * and process exits (a tracked PID is SIGKILLed → failed, phantom grace 0;
 * the PID probe). Each kind alone, one death at a time, and in bursts of 20
 * simultaneous deaths. The registry holds 1,000 finished projects besides.
 *
 * Latency is from the kill to the registry write that committed the
 * transition: the file is polled, and a version holding the transition for
 * the first time is dated by its inode's change time (the atomic rename that
 * committed it; a later version when two commits fall between polls, which
 * only overstates). Not the history entry's time, which is taken in memory
 * before the write. Budget: p99 ≤ 1 s for every kind, bursts included.
 *
 *   npm run build && npx tsx bench/detection-latency.ts [singles] [bursts]
 */
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistryDocument } from '../src/core/model/registry-document.js';
import { newProject, type Project } from '../src/core/model/project.js';
import {
  BenchTmux,
  buildRegistry,
  registryPath,
  sleep,
  startTimeOf,
  type Teardown,
  tempDir,
  writeRegistry,
} from './lib/load.js';
import { percentile, type Results, runBench } from './lib/results.js';
import { requireBuild, startServe } from './lib/serve.js';

const SINGLES = Number(process.argv[2] ?? 30);
const BURSTS = Number(process.argv[3] ?? 3);
const BURST = 20;
const FINISHED = 1000;
const BUDGET_MS = 1000;
/** A project process that outlives its session: SIGHUP ignored, which exec keeps. */
const HUP_IMMUNE = ['sh', '-c', 'trap "" HUP; exec sleep 3600'];

/** The time each transition (`<project> <to>`) was first committed to the registry file, from polling it. */
class CommitWatch {
  readonly committedAt = new Map<string, number>();
  private last = '';
  private running = true;
  private readonly loop: Promise<void>;

  constructor(private readonly path: string) {
    this.loop = this.poll();
  }

  private async poll(): Promise<void> {
    while (this.running) {
      this.check();
      await sleep(2);
    }
  }

  private check(): void {
    let st;
    try {
      st = statSync(this.path);
    } catch {
      return; // between unlink and rename, or not yet written
    }
    const identity = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    if (identity === this.last) return;
    let doc: RegistryDocument;
    try {
      doc = JSON.parse(readFileSync(this.path, 'utf8')) as RegistryDocument;
    } catch {
      return; // replaced while read: the next poll reads the new version
    }
    this.last = identity;
    const at = Math.max(st.ctimeMs, st.mtimeMs);
    for (const p of doc.projects) {
      for (const h of p.history) {
        const key = `${p.id} ${h.to}`;
        if (!this.committedAt.has(key)) this.committedAt.set(key, at);
      }
    }
  }

  async waitFor(keys: string[], timeoutMs: number): Promise<number[]> {
    const deadline = Date.now() + timeoutMs;
    while (keys.some((k) => !this.committedAt.has(k))) {
      if (Date.now() > deadline)
        throw new Error(
          `not committed within ${timeoutMs} ms: ${keys.filter((k) => !this.committedAt.has(k)).join(', ')}`,
        );
      await sleep(10);
    }
    return keys.map((k) => this.committedAt.get(k) as number);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

type Kind = 'session killed' | 'process exited' | 'session killed, burst of 20' | 'process exited, burst of 20';

async function main(teardown: Teardown, results: Results): Promise<void> {
  requireBuild();
  const dir = tempDir(teardown, 'toa-latency-');
  const tmux = new BenchTmux(teardown, 'latency');
  const sessionCount = SINGLES + BURSTS * BURST;
  const sessionPids = tmux.newSessions('s-', sessionCount, HUP_IMMUNE);
  // They ignore SIGHUP, so killing the tmux server leaves them: killed here (after the server, steps run newest first).
  teardown.add('kill the session processes', () => {
    for (const pid of sessionPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  const exitPids: number[] = [];
  for (let i = 0; i < sessionCount; i++) {
    const child = spawn('sleep', ['3600'], { detached: true, stdio: 'ignore' });
    child.unref();
    const pid = child.pid as number;
    teardown.add(`kill ${pid}`, () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
    exitPids.push(pid);
  }
  for (const pid of exitPids) {
    for (let tries = 0; readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'sleep'; tries++) {
      if (tries > 500) throw new Error(`sleep ${pid} did not start`);
      await sleep(10);
    }
  }
  const now = Date.now();
  const at = (ms: number) => new Date(ms).toISOString();
  const base = {
    state: 'processing' as const,
    attempts: 1,
    startedAt: at(now),
    lastSeenAliveAt: at(now),
    heartbeatAt: at(now),
    enqueuedAt: at(now - 1000),
    tmuxSocket: tmux.socket,
  };
  const live: Project[] = [
    ...sessionPids.map((pid, i) =>
      newProject({ ...base, id: `s${i}`, session: `s-${i}`, pid, pidStartTime: startTimeOf(pid) }),
    ),
    ...exitPids.map((pid, i) =>
      newProject({ ...base, id: `e${i}`, session: null, pid, pidStartTime: startTimeOf(pid) }),
    ),
  ];
  const finished = buildRegistry({
    total: FINISHED,
    live: [],
    tmuxSocket: tmux.socket,
    projectRoot: join(dir, 'projects'),
    now,
  });
  const registry = registryPath(dir);
  writeRegistry(registry, { ...finished, projects: [...live, ...finished.projects] });

  const env: Record<string, string | undefined> = {
    ...process.env,
    AGENT_REGISTRY: registry,
    AGENT_SCAN_SCHEDULE: '0 0 * * * *',
    AGENT_TMUX_SOCKETS: tmux.socket,
    PHANTOM_GRACE_PERIOD_SEC: '0',
    KILL_GRACE_SEC: '1',
    LOG_LEVEL: 'warn',
    AGENT_MAX_KILLS_PER_CYCLE: '1000',
  };
  const serve = await startServe(teardown, { cwd: dir, env, until: '/readyz', timeoutMs: 60_000 });
  const watch = new CommitWatch(registry);
  teardown.add('stop the registry poll', () => watch.stop());
  await sleep(2000); // hooks installed after the first cycle

  const latencies = new Map<Kind, number[]>();
  const record = (kind: Kind, t0: number, committed: number[]) => {
    const list = latencies.get(kind) ?? [];
    list.push(...committed.map((c) => c - t0));
    latencies.set(kind, list);
  };
  const failedAll = async (ids: string[]) =>
    watch.waitFor(
      ids.map((id) => `${id} failed`),
      30_000,
    );
  const alive = () => {
    if (serve.child.exitCode !== null)
      throw new Error(`agent serve exited with ${serve.child.exitCode}:\n${serve.output()}`);
  };

  for (let i = 0; i < SINGLES; i++) {
    alive();
    const t0 = Date.now();
    tmux.run(['kill-session', '-t', `=s-${i}`]);
    record('session killed', t0, await watch.waitFor([`s${i} zombie`], 30_000));
    await failedAll([`s${i}`]); // its process killed, before the next one
  }
  for (let i = 0; i < SINGLES; i++) {
    alive();
    const t0 = Date.now();
    process.kill(exitPids[i] as number, 'SIGKILL');
    record('process exited', t0, await watch.waitFor([`e${i} failed`], 30_000));
  }
  for (let b = 0; b < BURSTS; b++) {
    alive();
    const ids = Array.from({ length: BURST }, (_, k) => SINGLES + b * BURST + k);
    const args = ids.flatMap((n, k) => [...(k > 0 ? [';'] : []), 'kill-session', '-t', `=s-${n}`]);
    let t0 = Date.now();
    tmux.run(args);
    record(
      'session killed, burst of 20',
      t0,
      await watch.waitFor(
        ids.map((n) => `s${n} zombie`),
        30_000,
      ),
    );
    await failedAll(ids.map((n) => `s${n}`));
    t0 = Date.now();
    for (const n of ids) process.kill(exitPids[n] as number, 'SIGKILL');
    record(
      'process exited, burst of 20',
      t0,
      await watch.waitFor(
        ids.map((n) => `e${n} failed`),
        30_000,
      ),
    );
  }
  await watch.stop();

  console.log(
    `agent serve, polling once an hour; ${live.length} processing projects and ${FINISHED} finished; kill -> transition committed to the registry file`,
  );
  const rows = [...latencies.entries()].map(([kind, v]) => ({
    kind,
    n: v.length,
    p50Ms: percentile(v, 50),
    p99Ms: percentile(v, 99),
    maxMs: Math.max(...v),
  }));
  for (const r of rows)
    console.log(
      `${r.kind.padEnd(28)} n=${String(r.n).padStart(3)}  p50 ${r.p50Ms.toFixed(0).padStart(5)} ms  p99 ${r.p99Ms.toFixed(0).padStart(5)} ms  max ${r.maxMs.toFixed(0).padStart(5)} ms`,
    );
  results.set('singles', SINGLES);
  results.set('bursts', BURSTS);
  results.set('burstSize', BURST);
  results.set('finished', FINISHED);
  results.set('rows', rows);
  for (const r of rows) results.budget(`detection latency p99, ${r.kind}`, r.p99Ms, BUDGET_MS, 'ms');
}

await runBench('detection-latency', main);
