/**
 * How a full cycle grows with the registry: 100, 1,000 and 10,000 projects,
 * 1 % of them processing with a live session (private tmux server) and its
 * process, the rest terminal. For each size, `runCycle` in-process:
 *
 * - steady: the daemon's usual cycle (registry unchanged since the last one,
 *   so the store's cached document is used; full completion sync not due);
 * - cold: a new store each cycle, so the registry is read, parsed and
 *   validated — what the cycle after another writer's change pays.
 *
 * Budget: 10,000 projects ≤ 250 ms median (steady), growth close to linear.
 *
 *   npm run build && npx tsx bench/scale.ts [rounds]
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG, type AgentConfig } from '../src/config/keys.js';
import { runCycle } from '../src/cycle.js';
import { createLogger } from '../src/log.js';
import { JsonStore } from '../src/registry/json-store.js';
import { BenchTmux, buildRegistry, loadAverage, machine, median, percentile, processCount, registryPath, runBench, Teardown, tempDir, writeRegistry } from './lib/load.js';

const rounds = Number(process.argv[2] ?? 30);
const COLD_ROUNDS = 5;
const WARM_UP_ROUNDS = 10;
const SIZES = [100, 1000, 10_000];
const BUDGET_MS = 250;
const log = createLogger({ level: 'error' });

interface Row {
  projects: number;
  live: number;
  bytes: number;
  steady: number[];
  cpu: number[];
  cold: number[];
}

interface Setup {
  row: Row;
  registry: string;
  store: JsonStore;
  config: AgentConfig;
  syncedAt: number;
}

async function cycleOf(s: Setup, store: JsonStore, lastFullSyncAt: number | null): Promise<{ wall: number; cpu: number }> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const { result } = await runCycle({ store, config: s.config, hostId: 'bench-host', log, lastFullSyncAt });
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  if (!result.ok || result.transitions.length > 0 || result.actions.length > 0) throw new Error(`unsteady queue at ${s.row.projects}: ${JSON.stringify(result.errors)}`);
  return { wall, cpu: (cpu.user + cpu.system) / 1000 };
}

async function setUp(teardown: Teardown, projects: number): Promise<Setup> {
  const dir = tempDir(teardown, `toa-scale-${projects}-`);
  const tmux = new BenchTmux(teardown, `scale${projects}`);
  const live = Math.max(1, Math.round(projects / 100));
  const pids = tmux.newSessions('live-', live, ['sleep', '3600']);
  const registry = registryPath(dir);
  const doc = buildRegistry({ total: projects, live: pids.map((pid, i) => ({ session: `live-${i}`, pid })), tmuxSocket: tmux.socket, projectRoot: join(dir, 'projects'), now: Date.now() });
  writeRegistry(registry, doc);
  const config: AgentConfig = { ...DEFAULT_CONFIG, registry, tmuxSockets: [tmux.socket], logLevel: 'error' };
  const setup: Setup = { row: { projects, live, bytes: JSON.stringify(doc, null, 2).length, steady: [], cpu: [], cold: [] }, registry, store: new JsonStore({ path: registry }), config, syncedAt: 0 };
  await cycleOf(setup, setup.store, null); // the full sync, and whatever a first cycle writes
  setup.syncedAt = Date.now();
  return setup;
}

async function main(teardown: Teardown): Promise<void> {
  console.log(`machine: ${machine()}; ${processCount()} processes on the host`);
  const setups: Setup[] = [];
  for (const size of SIZES) setups.push(await setUp(teardown, size));
  // Sizes take turns, round by round, so JIT warm-up and the machine's load reach each alike.
  for (let i = 0; i < WARM_UP_ROUNDS; i++) for (const s of setups) await cycleOf(s, s.store, s.syncedAt);
  for (let i = 0; i < rounds; i++) {
    for (const s of setups) {
      const c = await cycleOf(s, s.store, s.syncedAt);
      s.row.steady.push(c.wall);
      s.row.cpu.push(c.cpu);
    }
  }
  for (let i = 0; i < COLD_ROUNDS; i++) for (const s of setups) s.row.cold.push((await cycleOf(s, new JsonStore({ path: s.registry }), s.syncedAt)).wall);
  const rows = setups.map((s) => s.row);
  console.log(`rounds: ${rounds} steady, ${COLD_ROUNDS} cold per size, sizes in turn, after ${WARM_UP_ROUNDS} warm-up rounds; load after ${loadAverage()}`);
  console.log('projects  live  registry   steady median   p99      CPU median   cold median   steady ms per 1,000 projects');
  for (const r of rows) {
    const m = median(r.steady);
    console.log(
      `${String(r.projects).padStart(8)}  ${String(r.live).padStart(4)}  ${`${(r.bytes / 1024).toFixed(0)} KiB`.padStart(9)}   ${`${m.toFixed(1)} ms`.padStart(13)}   ${`${percentile(r.steady, 99).toFixed(1)} ms`.padStart(8)}  ${`${median(r.cpu).toFixed(1)} ms`.padStart(10)}   ${`${median(r.cold).toFixed(1)} ms`.padStart(11)}   ${((m / r.projects) * 1000).toFixed(1)}`,
    );
  }
  const big = rows.at(-1);
  const small = rows[1];
  if (big && small) {
    const growth = median(big.steady) / median(small.steady);
    console.log(`growth 1,000 -> 10,000 projects: x${growth.toFixed(2)} (linear would be x10)`);
    const m = median(big.steady);
    console.log(`budget 10,000 projects ≤ ${BUDGET_MS} ms median: ${m <= BUDGET_MS ? 'met' : 'NOT met'} (${m.toFixed(1)} ms)`);
    if (m > BUDGET_MS) process.exitCode = 1;
  }
}

await runBench(main);
