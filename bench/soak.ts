/**
 * Soak: 10,000 cycles of the daemon's own composition (`Agent`, in this
 * process: cycles, metrics, the audit tail, event sources, the HTTP server)
 * over a queue that never stops churning, with a clock that moves 2 minutes
 * per cycle so that timeouts, retention and the archive come round many
 * times. An orchestrator (another JsonStore on the same file, as the CLI
 * would be) keeps starting projects with real processes and completing them;
 * some it forgets (they time out and are killed), some die (phantoms), some
 * lose their tmux session (zombies, killed). /metrics and /readyz are scraped
 * every 50 cycles.
 *
 * Prints RSS (after a GC when --expose-gc) and open fds (/proc/self/fd) at
 * the start, after the warm-up (the retention window of 720 cycles filled, so
 * the registry is at its steady size, and over a minute of real time, so
 * the usage sampler's per-PID readings are too) and at the end. Budget: RSS growth from
 * the warm-up to the end < 10 % (medians of the first and last quarter of
 * the samples taken every 500 cycles: one sample moves ±10 % with V8's
 * committed heap), open fds stable (± 5).
 *
 *   npm run build && node --expose-gc --import tsx bench/soak.ts [cycles] [warmUpCycles]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent } from '../src/agent.js';
import { loadConfig } from '../src/config/load.js';
import type { Project } from '../src/core/model/project.js';
import { createLogger } from '../src/log.js';
import { JsonStore } from '../src/registry/json-store.js';
import { complete, enqueue, start, type OperationContext } from '../src/registry/operations.js';
import { BenchTmux, registryPath, startTimeOf, type Teardown, tempDir } from './lib/load.js';
import { loadAverage, median, type Results, runBench } from './lib/results.js';

const cycles = Number(process.argv[2] ?? 10_000);
const warmUp = Number(process.argv[3] ?? 2_000);
const STEP_MS = 120_000;
const RSS_BUDGET = 0.1;
const FD_SLACK = 5;
const EVERY = Number(process.env['SOAK_EVERY'] ?? 500);

interface Sample {
  cycle: number;
  rssMiB: number;
  heapMiB: number;
  /** V8's committed heap and the memory outside it (Buffers, native): what RSS is made of besides code. */
  heapTotalMiB: number;
  externalMiB: number;
  fds: number;
  projects: number;
  processes: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

/** Open fds of this process. */
function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

async function main(teardown: Teardown, results: Results): Promise<void> {
  console.log(
    `soak: ${cycles} cycles, warm-up ${warmUp}, clock +${STEP_MS / 1000} s per cycle${gc ? '' : ' (no --expose-gc: RSS without a forced GC)'}`,
  );
  const dir = tempDir(teardown, 'toa-soak-');
  const tmux = new BenchTmux(teardown, 'soak');
  // tmux leaves its socket file behind after kill-server: kill it here (before BenchTmux's own step) and remove the file.
  teardown.add('kill the tmux server and remove its socket', () => {
    try {
      tmux.run(['kill-server']);
    } catch {
      // not running
    }
    rmSync(join(process.env['TMUX_TMPDIR'] ?? tmpdir(), `tmux-${process.getuid?.() ?? 0}`, tmux.socket), {
      force: true,
    });
  });
  const registry = registryPath(dir);

  let offset = 0;
  const clock = (): number => Date.now() + offset;
  const { config } = loadConfig({
    env: {
      AGENT_REGISTRY: registry,
      AGENT_LISTEN: '127.0.0.1:0',
      AGENT_TMUX_SOCKETS: tmux.socket,
      AGENT_HOST_ID: 'soak',
      MAX_PROCESS_RUNTIME_SEC: '1800',
      MAX_TIMEOUT_EXTENSIONS: '0',
      TIMING_OUT_GRACE_SEC: '120',
      PHANTOM_GRACE_PERIOD_SEC: '0',
      KILL_GRACE_SEC: '1',
      ORPHAN_GRACE_SEC: '600',
      AGENT_RETRY_MAX_ATTEMPTS: '1',
      AGENT_RETENTION_DAYS: '1',
      LOG_LEVEL: 'error',
    },
  });
  const log = createLogger({ level: 'error' });
  const agent = new Agent({
    store: new JsonStore({ path: registry }),
    config,
    hostId: 'soak',
    version: 'soak',
    log,
    now: clock,
  });
  teardown.add('stop the agent', () => agent.stop());
  const listening = await agent.start();
  if (!listening) throw new Error('the agent did not listen');

  // The orchestrator: its own store on the same file, as a CLI process would be.
  const ops: OperationContext = { store: new JsonStore({ path: registry }), now: clock, by: 'cli@soak' };
  const children = new Map<string, ChildProcess>();
  /** Pane processes that ignore SIGHUP (kill-server does not end them): pid -> start time. */
  const immune = new Map<number, number>();
  teardown.add('kill the project processes', () => {
    for (const child of children.values()) child.kill('SIGKILL');
    for (const [pid, started] of immune) {
      try {
        if (startTimeOf(pid) === started) process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  });
  let next = 0;
  const counts = { started: 0, completed: 0, forgotten: 0, phantoms: 0, zombies: 0, scrapes: 0 };

  /** Every 7th plain project is never completed: it times out and the agent kills it. */
  const forgotten = (id: string): boolean => Number(id.slice(2)) % 7 === 0;
  const launch = async (withSession: boolean): Promise<void> => {
    const id = `s-${next++}`;
    if (!withSession && forgotten(id)) counts.forgotten += 1;
    let pid: number;
    let session: string | undefined;
    if (withSession) {
      session = `z-${id}`;
      // HUP ignored (kept across exec): it outlives its session, a zombie to kill.
      pid = tmux.newSessions(`${session}-`, 1, ['/bin/sh', '-c', "trap '' HUP; exec sleep 3600"])[0] as number;
      session = `${session}-0`;
      immune.set(pid, startTimeOf(pid));
    } else {
      const child = spawn('sleep', ['3600'], { stdio: 'ignore' });
      pid = child.pid as number;
      children.set(id, child);
    }
    await enqueue(ops, { id });
    await start(ops, id, {
      pid,
      pidStartTime: startTimeOf(pid),
      session,
      tmuxSocket: withSession ? tmux.socket : undefined,
      host: 'soak',
    });
    counts.started += 1;
  };

  const liveOnes = async (): Promise<Project[]> =>
    (await ops.store.load()).projects.filter((p) => p.state === 'processing' && p.id.startsWith('s-'));

  const churn = async (i: number): Promise<void> => {
    if (i % 4 === 0) await launch(i % 100 === 0);
    if (i % 4 === 2) {
      // Complete the oldest plain project older than 8 cycles; the forgotten ones (every 7th) are left to time out.
      const due = (await liveOnes()).filter(
        (p) => children.has(p.id) && !forgotten(p.id) && clock() - Date.parse(p.startedAt ?? '') > 8 * STEP_MS,
      );
      const p = due[0];
      if (p) {
        children.get(p.id)?.kill('SIGTERM');
        children.delete(p.id);
        await complete(ops, p.id).catch(() => undefined); // the agent may have moved it meanwhile
        counts.completed += 1;
      }
    }
    if (i % 20 === 10) {
      // A process dies on its own: a phantom.
      const p = (await liveOnes()).find((x) => children.has(x.id) && !forgotten(x.id));
      if (p) {
        children.get(p.id)?.kill('SIGKILL');
        children.delete(p.id);
        counts.phantoms += 1;
      }
    }
    if (i % 100 === 6) {
      // A session dies, its process lives on: a zombie.
      const p = (await liveOnes()).find((x) => x.session !== null);
      if (p?.session) {
        try {
          tmux.run(['kill-session', '-t', `=${p.session}`]);
          counts.zombies += 1;
        } catch {
          // already gone
        }
      }
    }
    // Forgotten and killed projects leave processes behind only until the agent kills them; drop the handles of dead ones.
    for (const [id, child] of children) if (child.exitCode !== null || child.signalCode !== null) children.delete(id);
  };

  const sample = async (cycle: number): Promise<Sample> => {
    gc?.();
    const doc = await ops.store.load();
    const mem = process.memoryUsage();
    return {
      cycle,
      rssMiB: mem.rss / 1048576,
      heapMiB: mem.heapUsed / 1048576,
      heapTotalMiB: mem.heapTotal / 1048576,
      externalMiB: mem.external / 1048576,
      fds: fdCount(),
      projects: doc.projects.length,
      processes: children.size,
    };
  };
  const show = (label: string, s: Sample) =>
    console.log(
      `${label.padEnd(8)} cycle ${String(s.cycle).padStart(6)}  rss ${s.rssMiB.toFixed(1)} MiB  heap ${s.heapMiB.toFixed(1)}/${s.heapTotalMiB.toFixed(1)} MiB  external ${s.externalMiB.toFixed(1)} MiB  fds ${s.fds}  projects ${s.projects}  processes ${s.processes}`,
    );

  const t0 = Date.now();
  const first = await sample(0);
  show('start', first);
  let afterWarmUp: Sample | null = null;
  /** Every sample from the warm-up on (every SOAK_EVERY cycles, default 500). */
  const steady: Sample[] = [];
  const transitions: Record<string, number> = {};
  let failedCycles = 0;
  const failures: string[] = [];
  for (let i = 1; i <= cycles; i++) {
    offset += STEP_MS;
    await churn(i);
    const result = await agent.requestCycle('soak');
    if (!result.ok) {
      failedCycles += 1;
      if (failures.length < 5)
        failures.push(`cycle ${i}: ${result.errors.map((e) => `${e.source}: ${e.message}`).join('; ')}`);
    }
    for (const t of result.transitions) transitions[`${t.from}>${t.to}`] = (transitions[`${t.from}>${t.to}`] ?? 0) + 1;
    if (i % 50 === 0) {
      const [metrics, ready] = await Promise.all([fetch(`${listening.url}/metrics`), fetch(`${listening.url}/readyz`)]);
      await metrics.text();
      await ready.text();
      counts.scrapes += 1;
    }
    if (i === warmUp) {
      afterWarmUp = await sample(i);
      steady.push(afterWarmUp);
      show('warm', afterWarmUp);
    } else if (i % EVERY === 0 && i !== cycles) {
      const s = await sample(i);
      if (i > warmUp) steady.push(s);
      const rate = i / ((Date.now() - t0) / 1000);
      console.log(
        `progress ${i}/${cycles}: ${rate.toFixed(0)} cycles/s, rss ${s.rssMiB.toFixed(1)} MiB (heap ${s.heapMiB.toFixed(1)}/${s.heapTotalMiB.toFixed(1)}, external ${s.externalMiB.toFixed(1)}), fds ${s.fds}, projects ${s.projects}, load ${loadAverage()}`,
      );
    }
  }
  const end = await sample(cycles);
  steady.push(end);
  show('end', end);
  const base = afterWarmUp ?? first;
  // One RSS sample moves by ±10 % with V8's committed heap (a major GC's timing); the budget compares
  // the median of the first and of the last quarter of the samples after the warm-up.
  const quarter = Math.max(1, Math.floor(steady.length / 4));
  const early = median(steady.slice(0, quarter).map((x) => x.rssMiB));
  const late = median(steady.slice(-quarter).map((x) => x.rssMiB));
  const growth = (late - early) / early;
  const fdDrift = end.fds - base.fds;
  const seconds = (Date.now() - t0) / 1000;
  console.log(
    `cycles run by the agent: ${agent.status().cycles} (${cycles} requested, the rest from events and the schedule), not ok: ${failedCycles}, in ${seconds.toFixed(0)} s`,
  );
  for (const f of failures) console.log(`not ok: ${f}`);
  console.log(`churn: ${JSON.stringify(counts)}`);
  console.log(`transitions: ${JSON.stringify(transitions)}`);
  console.log(
    `RSS start ${first.rssMiB.toFixed(1)}, warm-up ${base.rssMiB.toFixed(1)}, end ${end.rssMiB.toFixed(1)} MiB; heap used ${base.heapMiB.toFixed(1)} -> ${end.heapMiB.toFixed(1)} MiB`,
  );
  console.log(
    `RSS median of the first ${quarter} samples after warm-up ${early.toFixed(1)} MiB, of the last ${quarter} ${late.toFixed(1)} MiB: ${(growth * 100).toFixed(1)} % (budget < ${RSS_BUDGET * 100} %)`,
  );
  console.log(`open fds ${base.fds} -> ${end.fds} (budget ± ${FD_SLACK})`);
  results.set('cycles', cycles);
  results.set('rss', { start: first.rssMiB, warm: base.rssMiB, end: end.rssMiB, early, late });
  results.set('fds', { warm: base.fds, end: end.fds });
  results.budget('RSS growth from the warm-up to the end', growth * 100, RSS_BUDGET * 100, '%');
  results.budget('open fd drift', Math.abs(fdDrift), FD_SLACK, 'fds');
}

await runBench('soak', main);
