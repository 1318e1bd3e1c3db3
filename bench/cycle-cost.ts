/**
 * Cost of one full cycle against its two yardsticks, on this machine:
 *
 * - load: a registry of 1,000 projects (100 processing, each with a live
 *   session on a private tmux server and its pane process; 900 terminal),
 *   plus 1,000 idle `sleep` processes on the host;
 * - the cycle: `runCycle` in-process, as the daemon runs it (steady state: the
 *   full completion sync is not due; each project's last pane read and git log
 *   kept between cycles, as the daemon keeps them): reads /proc/<pid>/stat of
 *   every process, one `tmux list-panes -a` per server, reconciles 1,000
 *   projects, usage of 100 process trees, the queue summary; wall time, and
 *   CPU time of this process (`process.cpuUsage`) plus that of the children it
 *   waited for (the tmux client: cutime + cstime of /proc/self/stat) per
 *   cycle; the first cycle (a full sync, git log in each project's repository)
 *   separately;
 * - the same cycle when every pane printed since the last one (busy agents):
 *   agent detection then captures all 100 panes, one tmux call per 32. Printed
 *   beside the steady cycle, not budgeted: the yardsticks read no pane;
 * - prometheus-process-exporter scraping the same host (every process in a
 *   named group by comm, smaps and threads off): it reads stat, status, io
 *   and cmdline of every process (and its fds) and renders the groups' series;
 *   wall time of one /metrics request, and its CPU per request (its own
 *   utime + stime over the rounds, divided by them: it runs no children);
 * - the floor: `/proc/<pid>/stat` of every PID plus one `tmux list-panes -a`.
 *
 * The three measurements are interleaved round by round so that load from
 * other work on the machine hits each alike. Budgets: cycle/process-exporter
 * ≤ 0.2 (wall), cycle/floor ≤ 2. The daemon's memory is measured by
 * bench/idle.ts.
 *
 *   npm run build && npx tsx bench/cycle-cost.ts [rounds]
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG, type AgentConfig } from '../src/config/keys.js';
import { runCycle } from '../src/cycle.js';
import type { PaneReadStates } from '../src/cycle-activity.js';
import { GitLogCache } from '../src/evidence/git.js';
import { createLogger } from '../src/log.js';
import { JsonStore } from '../src/registry/json-store.js';
import {
  BenchTmux,
  buildRegistry,
  cpuOf,
  idleProcesses,
  processCount,
  registryPath,
  type Teardown,
  tempDir,
  writeRegistry,
} from './lib/load.js';
import { median, percentile, type Results, runBench } from './lib/results.js';
import { freePort, requireBuild, waitForHttp } from './lib/serve.js';

const rounds = Number(process.argv[2] ?? 40);
const PROJECTS = 1000;
const LIVE = 100;
const IDLE = 1000;
const EXPORTER = '/usr/bin/prometheus-process-exporter';
const PANE_FORMAT = '#{pane_id}|#{pane_pid}|#{pane_dead}|#{window_activity}|#{session_created}|#{session_name}';

const floorBuffer = Buffer.alloc(4096);

/**
 * The floor: `/proc/<pid>/stat` of every PID while one `tmux list-panes -a`
 * runs — nothing parsed, nothing decided. The reads are the fastest Node
 * has: synchronous open/read/close into one buffer.
 */
async function floor(socket: string): Promise<number> {
  const tmux = new Promise<string>((resolve, reject) => {
    execFile(
      'tmux',
      ['-L', socket, 'list-panes', '-a', '-F', PANE_FORMAT],
      { env: { ...process.env, LC_ALL: 'C' } },
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    );
  });
  let bytes = 0;
  for (const name of readdirSync('/proc')) {
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let fd: number;
    try {
      fd = openSync(`/proc/${name}/stat`, 'r');
    } catch {
      continue; // exited meanwhile
    }
    try {
      bytes += readSync(fd, floorBuffer, 0, floorBuffer.length, 0);
    } catch {
      // exited meanwhile
    } finally {
      closeSync(fd);
    }
  }
  return bytes + (await tmux).length;
}

async function scrape(url: string): Promise<number> {
  const response = await fetch(url);
  const body = await response.text();
  if (!response.ok) throw new Error(`process-exporter answered ${response.status}`);
  return body.length;
}

function ms(n: number): string {
  return `${n.toFixed(1)} ms`;
}

async function main(teardown: Teardown, results: Results): Promise<void> {
  requireBuild();
  if (!existsSync(EXPORTER)) throw new Error(`${EXPORTER} is missing: apt-get install -y prometheus-process-exporter`);

  const dir = tempDir(teardown, 'toa-cycle-cost-');
  const tmux = new BenchTmux(teardown, 'cycle');
  const pids = tmux.newSessions('live-', LIVE, ['sleep', '3600']);
  await idleProcesses(teardown, IDLE);
  const registry = registryPath(dir);
  const doc = buildRegistry({
    total: PROJECTS,
    live: pids.map((pid, i) => ({ session: `live-${i}`, pid })),
    tmuxSocket: tmux.socket,
    projectRoot: join(dir, 'projects'),
    now: Date.now(),
    repos: true,
  });
  writeRegistry(registry, doc);
  const registryBytes = readFileSync(registry).length;
  console.log(
    `load: ${PROJECTS} projects (${LIVE} processing with live sessions), registry ${(registryBytes / 1024).toFixed(0)} KiB; ${processCount()} processes on the host`,
  );

  const config: AgentConfig = { ...DEFAULT_CONFIG, registry, tmuxSockets: [tmux.socket], logLevel: 'error' };
  const store = new JsonStore({ path: registry });
  const log = createLogger({ level: 'error' });
  // What the daemon keeps between cycles: a pane is captured again once tmux saw activity in it, git run once HEAD moved.
  const paneReads: PaneReadStates = new Map();
  const gitLogs = new GitLogCache();
  /** One cycle; `fresh` forgets the pane reads first, as if every pane printed since the last cycle. */
  const cycle = async (lastFullSyncAt: number | null, fresh = false) => {
    if (fresh) paneReads.clear();
    const cpu0 = process.cpuUsage();
    const children0 = cpuOf('self').childrenMs;
    const t0 = performance.now();
    const options = { store, config, hostId: 'bench-host', log, lastFullSyncAt, paneReads, gitLogs };
    const { result } = await runCycle(options);
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (!result.ok || result.transitions.length > 0 || result.actions.length > 0) {
      throw new Error(
        `the cycle did not see a steady queue: ${JSON.stringify({ errors: result.errors, transitions: result.transitions.slice(0, 3), actions: result.actions.slice(0, 3) })}`,
      );
    }
    return { wall, cpu: (cpu.user + cpu.system) / 1000, children: cpuOf('self').childrenMs - children0 };
  };

  // process-exporter: every process in a group named by its comm; smaps and threads off.
  const port = await freePort();
  const exporterConfig = join(dir, 'process-exporter.yml');
  writeFileSync(exporterConfig, 'process_names:\n  - name: "{{.Comm}}"\n    cmdline:\n      - ".+"\n');
  const exporter = spawn(
    EXPORTER,
    [
      '-config.path',
      exporterConfig,
      '-web.listen-address',
      `127.0.0.1:${port}`,
      '-gather-smaps=false',
      '-threads=false',
    ],
    { stdio: 'ignore' },
  );
  teardown.add('stop process-exporter', async () => {
    if (exporter.exitCode === null && exporter.signalCode === null) {
      exporter.kill('SIGTERM');
      await new Promise((r) => exporter.once('exit', r));
    }
  });
  const url = `http://127.0.0.1:${port}/metrics`;
  await waitForHttp(url, 15_000);

  // Warm-up: the first cycle runs the full completion sync (evidence for every active project).
  const full = await cycle(null);
  const fullSyncAt = Date.now();
  for (let i = 0; i < 3; i++) {
    await cycle(fullSyncAt);
    await floor(tmux.socket);
    await scrape(url);
  }

  const walls: number[] = [];
  const cpus: number[] = [];
  const childrenCpu: number[] = [];
  const exporterCpu0 = cpuOf(exporter.pid as number);
  const floors: number[] = [];
  const scrapes: number[] = [];
  const busy: { wall: number; cpu: number; children: number }[] = [];
  let body = 0;
  for (let r = 0; r < rounds; r++) {
    busy.push(await cycle(fullSyncAt, true));
    const c = await cycle(fullSyncAt);
    walls.push(c.wall);
    cpus.push(c.cpu);
    childrenCpu.push(c.children);
    let t0 = performance.now();
    await floor(tmux.socket);
    floors.push(performance.now() - t0);
    t0 = performance.now();
    body = await scrape(url);
    scrapes.push(performance.now() - t0);
  }
  const exporterCpu1 = cpuOf(exporter.pid as number);
  const exporterCpuPerScrape = (exporterCpu1.totalMs - exporterCpu0.totalMs) / rounds;
  // Children's CPU comes in clock ticks (10 ms): the mean over the rounds, not a median of mostly zeros.
  const childrenMean = childrenCpu.reduce((a, b) => a + b, 0) / rounds;

  const cycleMedian = median(walls);
  const floorMedian = median(floors);
  const scrapeMedian = median(scrapes);
  const ratioExporter = cycleMedian / scrapeMedian;
  const ratioFloor = cycleMedian / floorMedian;
  const cycleCpu = median(cpus) + childrenMean;
  const busyWall = median(busy.map((b) => b.wall));
  const busyCpu = median(busy.map((b) => b.cpu)) + busy.reduce((a, b) => a + b.children, 0) / rounds;
  console.log(`rounds: ${rounds} (after 1 full-sync cycle and 3 warm-up rounds)`);
  console.log(
    `cycle (steady)       median ${ms(cycleMedian)}  p99 ${ms(percentile(walls, 99))}  CPU median ${ms(median(cpus))}  p99 ${ms(percentile(cpus, 99))}; children (tmux) mean ${ms(childrenMean)}; with them ${ms(cycleCpu)}`,
  );
  console.log(
    `cycle (busy panes)   median ${ms(busyWall)}  CPU with children ${ms(busyCpu)} (every pane printed since the last cycle: all ${LIVE} captured; not budgeted)`,
  );
  console.log(
    `cycle (full sync)    ${ms(full.wall)} wall, ${ms(full.cpu)} CPU + ${ms(full.children)} children (evidence for all ${LIVE} active projects; once per ${config.stateSyncIntervalSec} s)`,
  );
  console.log(
    `process-exporter     median ${ms(scrapeMedian)}  p99 ${ms(percentile(scrapes, 99))}  CPU per scrape ${ms(exporterCpuPerScrape)}  (body ${(body / 1024).toFixed(0)} KiB)`,
  );
  console.log(
    `floor                median ${ms(floorMedian)}  p99 ${ms(percentile(floors, 99))}  (stat of every PID + one tmux list-panes -a)`,
  );
  console.log(`CPU per cycle / CPU per scrape ${(cycleCpu / exporterCpuPerScrape).toFixed(3)}`);
  results.set('load', {
    projects: PROJECTS,
    live: LIVE,
    idleProcesses: IDLE,
    processes: processCount(),
    registryKiB: registryBytes / 1024,
  });
  results.set('rounds', rounds);
  results.set('cycle', {
    medianMs: cycleMedian,
    p99Ms: percentile(walls, 99),
    cpuMedianMs: median(cpus),
    cpuP99Ms: percentile(cpus, 99),
    childrenCpuMeanMs: childrenMean,
    cpuWithChildrenMs: cycleCpu,
  });
  results.set('busyPanes', { medianMs: busyWall, cpuWithChildrenMs: busyCpu });
  results.set('fullSync', full);
  results.set('exporter', {
    medianMs: scrapeMedian,
    p99Ms: percentile(scrapes, 99),
    cpuPerScrapeMs: exporterCpuPerScrape,
    bodyKiB: body / 1024,
  });
  results.set('floor', { medianMs: floorMedian, p99Ms: percentile(floors, 99) });
  results.set('ratios', {
    wallToExporter: ratioExporter,
    wallToFloor: ratioFloor,
    cpuToExporterCpu: cycleCpu / exporterCpuPerScrape,
  });
  results.budget('cycle / process-exporter scrape (wall, medians)', ratioExporter, 0.2, 'x');
  results.budget('cycle / floor (wall, medians)', ratioFloor, 2, 'x');
}

await runBench('cycle-cost', main);
