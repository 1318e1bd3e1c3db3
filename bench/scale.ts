/**
 * How a full cycle grows with the registry: 100, 1,000 and 10,000 projects,
 * 1 % of them processing with a live session (private tmux server) and its
 * process, the rest terminal. For each size, `runCycle` in-process, as the
 * daemon runs it:
 *
 * - steady: the daemon's usual cycle (registry unchanged since the last one,
 *   so the store's cached document is used; full completion sync not due);
 * - cold: the cycle after another process committed a change to one
 *   project (`agent heartbeat live-<n>`, the built CLI, as an orchestrator
 *   reports progress): the daemon's store re-reads the file. The other
 *   process is not timed;
 * - first read: a new store, which has read nothing before (a daemon's first
 *   cycle), for reference.
 *
 * Between cycles each size keeps its projects' last pane reads, as the daemon
 * does (a first read starts without them): agent detection then captures a
 * live pane only when tmux saw activity in it, not every cycle.
 *
 * Budget: 10,000 projects, cold ≤ 250 ms median. BENCH_CODE=base measures
 * the older code of BENCH_BASE instead (its cycle and store, the same load;
 * its figures are reported, its budget does not fail the run): bench/run-all.ts
 * runs it right after this one, the before/after of the cold path.
 *
 *   npm run build && npx tsx bench/scale.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG, type AgentConfig } from '../src/config/keys.js';
import type { PaneReadStates } from '../src/cycle-activity.js';
import type { runCycle as RunCycle } from '../src/cycle.js';
import { createLogger } from '../src/log.js';
import type { JsonStore as Store } from '../src/registry/json-store.js';
import {
  BenchTmux,
  buildRegistry,
  processCount,
  registryPath,
  type Teardown,
  tempDir,
  writeRegistry,
} from './lib/load.js';
import { median, percentile, type Results, runBench } from './lib/results.js';
import { AGENT_BIN, type Code, importCode, requireBuild } from './lib/serve.js';

const rounds = Number(process.argv[2] ?? 30);
const COLD_ROUNDS = 10;
const FIRST_ROUNDS = 3;
const WARM_UP_ROUNDS = 5;
const SIZES = [100, 1000, 10_000];
const BUDGET_MS = 250;
const log = createLogger({ level: 'error' });
const CODE: Code = process.env['BENCH_CODE'] === 'base' ? 'base' : 'current';

interface CodeModules {
  runCycle: typeof RunCycle;
  JsonStore: typeof Store;
}

interface Setup {
  code: Code;
  projects: number;
  live: number;
  bytes: number;
  registry: string;
  store: Store;
  config: AgentConfig;
  syncedAt: number;
  steady: number[];
  cpu: number[];
  cold: number[];
  coldCpu: number[];
  first: number[];
  /**
   * Each project's last pane read, kept between cycles as the daemon keeps it: without it, every cycle
   * would capture every live pane again (agent detection's first look at an attempt).
   */
  paneReads: PaneReadStates;
}

async function cycleOf(
  m: CodeModules,
  s: Setup,
  store: Store,
  lastFullSyncAt: number | null,
  paneReads: PaneReadStates = s.paneReads,
): Promise<{ wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { result } = await m.runCycle({
    store,
    config: s.config,
    hostId: 'bench-host',
    log,
    lastFullSyncAt,
    paneReads,
  });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (!result.ok || result.transitions.length > 0 || result.actions.length > 0) {
    throw new Error(`unsteady queue at ${s.projects} (${s.code}): ${JSON.stringify(result.errors)}`);
  }
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

/** Another process commits a heartbeat of one live project: the registry file is replaced. */
function otherWriter(s: Setup, i: number): void {
  execFileSync(process.execPath, [AGENT_BIN, 'heartbeat', `live-${i % s.live}`], {
    env: { ...process.env, AGENT_REGISTRY: s.registry, LOG_LEVEL: 'error' },
    stdio: 'ignore',
  });
}

async function main(teardown: Teardown, results: Results): Promise<void> {
  requireBuild();
  const modules = {} as Record<Code, CodeModules>;
  for (const code of [CODE]) {
    modules[code] = {
      runCycle: (await importCode<{ runCycle: typeof RunCycle }>(code, 'cycle.ts')).runCycle,
      JsonStore: (await importCode<{ JsonStore: typeof Store }>(code, 'registry/json-store.ts')).JsonStore,
    };
  }
  console.log(`${processCount()} processes on the host; code measured: ${CODE}`);
  results.set('code', CODE);
  const setups: Setup[] = [];
  for (const projects of SIZES) {
    const dir = tempDir(teardown, `toa-scale-${projects}-`);
    const tmux = new BenchTmux(teardown, `scale${projects}`);
    const live = Math.max(1, Math.round(projects / 100));
    const pids = tmux.newSessions('live-', live, ['sleep', '3600']);
    const registry = registryPath(dir);
    const doc = buildRegistry({
      total: projects,
      live: pids.map((pid, i) => ({ session: `live-${i}`, pid })),
      tmuxSocket: tmux.socket,
      projectRoot: join(dir, 'projects'),
      now: Date.now(),
    });
    writeRegistry(registry, doc);
    for (const code of [CODE]) {
      const path = registry;
      const { JsonStore } = modules[code];
      const config: AgentConfig = { ...DEFAULT_CONFIG, registry: path, tmuxSockets: [tmux.socket], logLevel: 'error' };
      const s: Setup = {
        code,
        projects,
        live,
        bytes: JSON.stringify(doc, null, 2).length,
        registry: path,
        store: new JsonStore({ path }),
        config,
        syncedAt: 0,
        steady: [],
        cpu: [],
        cold: [],
        coldCpu: [],
        first: [],
        paneReads: new Map(),
      };
      await cycleOf(modules[code], s, s.store, null); // the full sync, and whatever a first cycle writes
      s.syncedAt = Date.now();
      setups.push(s);
    }
  }
  // Sizes and codes take turns, round by round, so JIT warm-up and the machine's load reach each alike.
  for (let i = 0; i < WARM_UP_ROUNDS; i++)
    for (const s of setups) await cycleOf(modules[s.code], s, s.store, s.syncedAt);
  for (let i = 0; i < rounds; i++) {
    for (const s of setups) {
      const c = await cycleOf(modules[s.code], s, s.store, s.syncedAt);
      s.steady.push(c.wall);
      s.cpu.push(c.cpu);
    }
  }
  for (let i = 0; i < COLD_ROUNDS; i++) {
    for (const s of setups) {
      otherWriter(s, i);
      const c = await cycleOf(modules[s.code], s, s.store, s.syncedAt);
      s.cold.push(c.wall);
      s.coldCpu.push(c.cpu);
    }
  }
  for (let i = 0; i < FIRST_ROUNDS; i++) {
    for (const s of setups)
      s.first.push(
        (await cycleOf(modules[s.code], s, new modules[s.code].JsonStore({ path: s.registry }), s.syncedAt, new Map()))
          .wall,
      );
  }
  console.log(
    `rounds: ${rounds} steady, ${COLD_ROUNDS} cold, ${FIRST_ROUNDS} first-read per size and code, in turn, after ${WARM_UP_ROUNDS} warm-up rounds`,
  );
  console.log(
    'code     projects  live  registry   steady median     p99   CPU median   cold median   cold CPU   first read',
  );
  const rows = setups.map((s) => ({
    code: s.code,
    projects: s.projects,
    live: s.live,
    registryKiB: s.bytes / 1024,
    steadyMedianMs: median(s.steady),
    steadyP99Ms: percentile(s.steady, 99),
    steadyCpuMedianMs: median(s.cpu),
    coldMedianMs: median(s.cold),
    coldP99Ms: percentile(s.cold, 99),
    coldCpuMedianMs: median(s.coldCpu),
    firstReadMedianMs: median(s.first),
  }));
  const f = (n: number, w: number) => `${n.toFixed(1)} ms`.padStart(w);
  for (const r of rows) {
    console.log(
      `${r.code.padEnd(8)} ${String(r.projects).padStart(8)}  ${String(r.live).padStart(4)}  ${`${r.registryKiB.toFixed(0)} KiB`.padStart(9)}   ${f(r.steadyMedianMs, 13)} ${f(r.steadyP99Ms, 9)}  ${f(r.steadyCpuMedianMs, 10)}   ${f(r.coldMedianMs, 11)}  ${f(r.coldCpuMedianMs, 9)}  ${f(r.firstReadMedianMs, 11)}`,
    );
  }
  results.set('rounds', { steady: rounds, cold: COLD_ROUNDS, first: FIRST_ROUNDS, warmUp: WARM_UP_ROUNDS });
  results.set('rows', rows);
  const big = rows.find((r) => r.projects === 10_000);
  const mid = rows.find((r) => r.projects === 1000);
  if (big && mid) {
    const growth = big.steadyMedianMs / mid.steadyMedianMs;
    console.log(`steady growth 1,000 -> 10,000 projects: x${growth.toFixed(2)} (linear would be x10)`);
    results.set('steadyGrowth', growth);
  }
  results.budget(
    'cold cycle at 10,000 projects (after another writer), median',
    big?.coldMedianMs ?? Number.NaN,
    BUDGET_MS,
    'ms',
  );
}

await runBench(CODE === 'base' ? 'scale-base' : 'scale', main);
