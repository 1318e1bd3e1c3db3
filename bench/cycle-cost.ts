/**
 * Cost of one full cycle against its two yardsticks, on this machine:
 *
 * - load: a registry of 1,000 projects (100 processing, each with a live
 *   session on a private tmux server and its pane process; 900 terminal),
 *   plus 1,000 idle `sleep` processes on the host;
 * - the cycle: `runCycle` in-process, as the daemon runs it (steady state: the
 *   full completion sync is not due), wall time and CPU time
 *   (`process.cpuUsage`) per cycle; the first cycle (a full sync) separately;
 * - prometheus-process-exporter scraping the same host (every process in a
 *   named group, smaps and threads off): wall time of one /metrics request;
 * - the floor: `/proc/<pid>/stat` of every PID plus one `tmux list-panes -a`;
 * - the RSS of `agent serve` on the same registry, default schedule, sampled
 *   every second for 45 s after a 60 s warm-up, and its peak since start.
 *
 * The three measurements are interleaved round by round so that load from
 * other work on the machine hits each alike. Budgets: cycle/process-exporter
 * ≤ 0.2, cycle/floor ≤ 2, RSS ≤ 100 MB.
 *
 *   npm run build && npx tsx bench/cycle-cost.ts [rounds]
 */
import { execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG, type AgentConfig } from '../src/config/keys.js';
import { runCycle } from '../src/cycle.js';
import { createLogger } from '../src/log.js';
import { JsonStore } from '../src/registry/json-store.js';
import { parseStat } from '../src/scan/proc-table.js';
import {
  BenchTmux,
  buildRegistry,
  idleProcesses,
  loadAverage,
  machine,
  median,
  percentile,
  processCount,
  registryPath,
  rssOf,
  runBench,
  sleep,
  Teardown,
  tempDir,
  writeRegistry,
} from './lib/load.js';
import { freePort, requireBuild, startServe, waitForHttp } from './lib/serve.js';

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
    execFile('tmux', ['-L', socket, 'list-panes', '-a', '-F', PANE_FORMAT], { env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
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

async function main(teardown: Teardown): Promise<void> {
  requireBuild();
  if (!existsSync(EXPORTER)) throw new Error(`${EXPORTER} is missing: apt-get install -y prometheus-process-exporter`);
  console.log(`machine: ${machine()}`);

  const dir = tempDir(teardown, 'toa-cycle-cost-');
  const tmux = new BenchTmux(teardown, 'cycle');
  const pids = tmux.newSessions('live-', LIVE, ['sleep', '3600']);
  await idleProcesses(teardown, IDLE);
  const registry = registryPath(dir);
  const doc = buildRegistry({ total: PROJECTS, live: pids.map((pid, i) => ({ session: `live-${i}`, pid })), tmuxSocket: tmux.socket, projectRoot: join(dir, 'projects'), now: Date.now() });
  writeRegistry(registry, doc);
  const registryBytes = readFileSync(registry).length;
  console.log(`load: ${PROJECTS} projects (${LIVE} processing with live sessions), registry ${(registryBytes / 1024).toFixed(0)} KiB; ${processCount()} processes on the host`);

  const config: AgentConfig = { ...DEFAULT_CONFIG, registry, tmuxSockets: [tmux.socket], logLevel: 'error' };
  const store = new JsonStore({ path: registry });
  const log = createLogger({ level: 'error' });
  const cycle = async (lastFullSyncAt: number | null) => {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const { result } = await runCycle({ store, config, hostId: 'bench-host', log, lastFullSyncAt });
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    if (!result.ok || result.transitions.length > 0 || result.actions.length > 0) {
      throw new Error(`the cycle did not see a steady queue: ${JSON.stringify({ errors: result.errors, transitions: result.transitions.slice(0, 3), actions: result.actions.slice(0, 3) })}`);
    }
    return { wall, cpu: (cpu.user + cpu.system) / 1000 };
  };

  // process-exporter: every process in a group named by its comm; smaps and threads off.
  const port = await freePort();
  const exporterConfig = join(dir, 'process-exporter.yml');
  writeFileSync(exporterConfig, 'process_names:\n  - name: "{{.Comm}}"\n    cmdline:\n      - ".+"\n');
  const exporter = spawn(EXPORTER, ['-config.path', exporterConfig, '-web.listen-address', `127.0.0.1:${port}`, '-gather-smaps=false', '-threads=false'], { stdio: 'ignore' });
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

  const load0 = loadAverage();
  const walls: number[] = [];
  const cpus: number[] = [];
  const floors: number[] = [];
  const scrapes: number[] = [];
  let body = 0;
  for (let r = 0; r < rounds; r++) {
    const c = await cycle(fullSyncAt);
    walls.push(c.wall);
    cpus.push(c.cpu);
    let t0 = performance.now();
    await floor(tmux.socket);
    floors.push(performance.now() - t0);
    t0 = performance.now();
    body = await scrape(url);
    scrapes.push(performance.now() - t0);
  }
  const load1 = loadAverage();
  const exporterCpu = (() => {
    return (parseStat(readFileSync(`/proc/${exporter.pid}/stat`, 'utf8')).cpuTicks ?? 0) * 10;
  })();

  // The daemon's memory: `agent serve` on the same registry with the default schedule (a cycle every
  // 15 s); RSS sampled every second for 45 s after a 60 s warm-up: the first cycle (a full sync of
  // every active project's evidence) and the first registry validation raise it for about a minute,
  // until V8's memory reducer gives the young generation back. That peak is reported on its own.
  const env: Record<string, string | undefined> = { ...process.env, AGENT_REGISTRY: registry, AGENT_TMUX_SOCKETS: tmux.socket, LOG_LEVEL: 'error' };
  delete env['AGENT_SCAN_SCHEDULE'];
  const { child: agent, url: agentUrl } = await startServe(teardown, { cwd: dir, env });
  await sleep(60_000);
  const rss: number[] = [];
  for (let i = 0; i < 45; i++) {
    if (i % 15 === 0) await scrape(`${agentUrl}/metrics`);
    rss.push(rssOf(agent.pid as number).rssMiB);
    await sleep(1000);
  }
  const mem = { rssMiB: median(rss), maxMiB: Math.max(...rss), peakMiB: rssOf(agent.pid as number).peakMiB };

  const cycleMedian = median(walls);
  const floorMedian = median(floors);
  const scrapeMedian = median(scrapes);
  console.log(`rounds: ${rounds} (after 1 full-sync cycle and 3 warm-up rounds); load before ${load0}, after ${load1}`);
  console.log(`cycle (steady)       median ${ms(cycleMedian)}  p99 ${ms(percentile(walls, 99))}  CPU median ${ms(median(cpus))}  p99 ${ms(percentile(cpus, 99))}`);
  console.log(`cycle (full sync)    ${ms(full.wall)} wall, ${ms(full.cpu)} CPU (evidence for all ${LIVE} active projects; once per ${config.stateSyncIntervalSec} s)`);
  console.log(`process-exporter     median ${ms(scrapeMedian)}  p99 ${ms(percentile(scrapes, 99))}  (body ${(body / 1024).toFixed(0)} KiB; its CPU over the run ${exporterCpu} ms)`);
  console.log(`floor                median ${ms(floorMedian)}  p99 ${ms(percentile(floors, 99))}  (stat of every PID + one tmux list-panes -a)`);
  console.log(`agent serve RSS      median ${mem.rssMiB.toFixed(1)} MiB, max ${mem.maxMiB.toFixed(1)} MiB over 45 s of the default schedule after a 60 s warm-up; peak since start ${mem.peakMiB.toFixed(1)} MiB (first full sync)`);
  const ratioExporter = cycleMedian / scrapeMedian;
  const ratioFloor = cycleMedian / floorMedian;
  const verdict = (ok: boolean) => {
    if (!ok) process.exitCode = 1;
    return ok ? 'met' : 'NOT met';
  };
  console.log(`cycle/process-exporter ${ratioExporter.toFixed(3)} (budget ≤ 0.2: ${verdict(ratioExporter <= 0.2)})`);
  console.log(`cycle/floor            ${ratioFloor.toFixed(3)} (budget ≤ 2: ${verdict(ratioFloor <= 2)})`);
  console.log(`RSS (max in window)    ${mem.maxMiB.toFixed(1)} MiB (budget ≤ 100 MB = 95.4 MiB: ${verdict(mem.maxMiB * 1024 * 1024 <= 100e6)})`);
}

await runBench(main);
