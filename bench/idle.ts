/**
 * What the daemon costs when nothing happens, and its memory: `agent serve`
 * as a child with the default schedule (a cycle every 15 s, the tracked-PID
 * probe every 500 ms, tmux hooks, the registry watch, the HTTP server) over a
 * registry of 1,000 projects, 100 of them processing, each with a live
 * session on a private tmux server and a git repository as its project
 * directory (so the full sync's git evidence reads real history), the rest
 * finished. No default tmux server
 * runs (a private TMUX_TMPDIR), as on a host that does not use it. The
 * daemon runs with the Node options of the systemd unit (its young
 * generation capped), as deployed.
 *
 * - CPU: utime + stime + cutime + cstime of /proc/<pid>/stat, the daemon and
 *   the children it waited for (tmux clients, git), over one whole
 *   STATE_SYNC_INTERVAL_SEC (300 s by default, so the periodic full sync of
 *   every active project's completion evidence is in it) that starts after a
 *   warm-up of 90 s (start-up is not idle: the first cycle is a full sync,
 *   and V8's memory reducer runs a few full collections in the following
 *   minute). The first 60 s of the window are printed too. Budget ≤ 0.5 % of
 *   one core over the whole interval.
 * - RSS: VmRSS of /proc/<pid>/status sampled every second from the start.
 *   Budgets: the peak over the first 2 minutes (the first full sync in them)
 *   ≤ 100 MB, and the highest sample after them (steady) ≤ 80 MB.
 *
 * With BENCH_BASE, the older code's daemon runs beside it on a load of its
 * own, over the same window: the before/after on the same machine load.
 *
 *   npm run build && npx tsx bench/idle.ts [intervalSec]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  BenchTmux,
  buildRegistry,
  cpuOf,
  processCount,
  registryPath,
  sleep,
  type Teardown,
  tempDir,
  writeRegistry,
} from './lib/load.js';
import { median, runBench, type Results } from './lib/results.js';
import { CODES, type Code, requireBuild, startServe, type ServeProcess } from './lib/serve.js';

const INTERVAL_SEC = Number(process.argv[2] ?? process.env['STATE_SYNC_INTERVAL_SEC'] ?? 300);
const TOTAL = 1000;
const ACTIVE = 100;
const WARM_UP_MS = Number(process.env['IDLE_WARM_UP_MS'] ?? 90_000);
const FIRST_WINDOW_MS = 60_000;
const START_PEAK_MS = 120_000;
const CPU_BUDGET_PCT = 0.5;
const PEAK_BUDGET_MB = 100;
const STEADY_BUDGET_MB = 80;

/** VmRSS of a process in bytes (kB from /proc/<pid>/status). */
function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? Number.NaN) * 1024;
}

interface Daemon {
  code: Code;
  serve: ServeProcess;
  pid: number;
  startedAt: number;
  /** [ms since start, bytes] every second. */
  rss: [number, number][];
}

async function startDaemon(teardown: Teardown, code: Code): Promise<Daemon> {
  const dir = tempDir(teardown, `toa-idle-${code}-`);
  const tmux = new BenchTmux(teardown, `idle-${code}`);
  const pids = tmux.newSessions('live-', ACTIVE, ['sleep', '3600']);
  const registry = registryPath(dir);
  const live = pids.map((pid, i) => ({ session: `live-${i}`, pid }));
  writeRegistry(
    registry,
    buildRegistry({
      total: TOTAL,
      live,
      tmuxSocket: tmux.socket,
      projectRoot: join(dir, 'projects'),
      now: Date.now(),
      repos: true,
    }),
  );
  const env: Record<string, string | undefined> = { ...process.env, AGENT_REGISTRY: registry, LOG_LEVEL: 'warn' };
  // The default schedule and servers: nothing set but where the registry and the listener are.
  for (const key of ['AGENT_SCAN_SCHEDULE', 'AGENT_TMUX_SOCKETS', 'STATE_SYNC_INTERVAL_SEC']) delete env[key];
  if (process.env['STATE_SYNC_INTERVAL_SEC']) env['STATE_SYNC_INTERVAL_SEC'] = process.env['STATE_SYNC_INTERVAL_SEC'];
  const startedAt = Date.now();
  const serve = await startServe(teardown, { cwd: dir, env, code });
  return { code, serve, pid: serve.child.pid as number, startedAt, rss: [] };
}

const scanCount = async (url: string): Promise<{ cycles: number; seconds: number }> => {
  const text = await (await fetch(`${url}/metrics`)).text();
  const cycles = Number(/^orchestrator_scan_duration_seconds_count (\d+)/m.exec(text)?.[1] ?? Number.NaN);
  const seconds = Number(/^orchestrator_scan_duration_seconds_sum ([\d.e+-]+)/m.exec(text)?.[1] ?? Number.NaN);
  return { cycles, seconds };
};

const mb = (bytes: number): number => bytes / 1e6;

async function main(teardown: Teardown, results: Results): Promise<void> {
  requireBuild();
  const daemons: Daemon[] = [];
  for (const code of CODES) daemons.push(await startDaemon(teardown, code));
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      for (const d of daemons) {
        if (d.serve.child.exitCode === null) d.rss.push([Date.now() - d.startedAt, rssBytes(d.pid)]);
      }
      await sleep(1000);
    }
  })();
  const alive = () => {
    for (const d of daemons)
      if (d.serve.child.exitCode !== null)
        throw new Error(`agent serve (${d.code}) exited with ${d.serve.child.exitCode}:\n${d.serve.output()}`);
  };
  try {
    await sleep(Math.max(0, (daemons[0]?.startedAt ?? Date.now()) + WARM_UP_MS - Date.now()));
    alive();
    const loadStart = results.data.loadStart;
    const t0 = Date.now();
    const at0 = await Promise.all(
      daemons.map(async (d) => ({ cpu: cpuOf(d.pid), scans: await scanCount(d.serve.url) })),
    );
    await sleep(FIRST_WINDOW_MS);
    alive();
    const at1 = daemons.map((d) => cpuOf(d.pid));
    const t1 = Date.now();
    await sleep(Math.max(0, t0 + INTERVAL_SEC * 1000 - Date.now()));
    alive();
    const at2 = await Promise.all(
      daemons.map(async (d) => ({ cpu: cpuOf(d.pid), scans: await scanCount(d.serve.url) })),
    );
    const t2 = Date.now();
    sampling = false;
    await sampler;

    console.log(
      `${processCount()} processes on the host; ${TOTAL} projects, ${ACTIVE} processing with live sessions; default schedule; window from ${WARM_UP_MS / 1000} s after start`,
    );
    const rows: Record<string, unknown>[] = [];
    daemons.forEach((d, i) => {
      const a = at0[i]!;
      const b = at1[i]!;
      const c = at2[i]!;
      const whole = t2 - t0;
      const pct = (ms: number, over: number) => (ms / over) * 100;
      const cycles = c.scans.cycles - a.scans.cycles;
      const row = {
        code: d.code,
        intervalSec: whole / 1000,
        cpuMs: c.cpu.totalMs - a.cpu.totalMs,
        ownMs: c.cpu.ownMs - a.cpu.ownMs,
        childrenMs: c.cpu.childrenMs - a.cpu.childrenMs,
        cpuPct: pct(c.cpu.totalMs - a.cpu.totalMs, whole),
        firstWindowSec: (t1 - t0) / 1000,
        firstWindowPct: pct(b.totalMs - a.cpu.totalMs, t1 - t0),
        firstWindowOwnPct: pct(b.ownMs - a.cpu.ownMs, t1 - t0),
        cycles,
        cycleWallMs: ((c.scans.seconds - a.scans.seconds) / cycles) * 1000,
        rssPeakStartMB: mb(Math.max(...d.rss.filter(([t]) => t <= START_PEAK_MS).map(([, v]) => v))),
        rssPeakStartAtSec:
          (d.rss.find(
            ([t, v]) =>
              t <= START_PEAK_MS && v === Math.max(...d.rss.filter(([u]) => u <= START_PEAK_MS).map(([, w]) => w)),
          )?.[0] ?? 0) / 1000,
        rssSteadyMaxMB: mb(Math.max(...d.rss.filter(([t]) => t > START_PEAK_MS).map(([, v]) => v))),
        rssSteadyMedianMB: mb(median(d.rss.filter(([t]) => t > START_PEAK_MS).map(([, v]) => v))),
        rssSamples: d.rss.length,
      };
      rows.push(row);
      console.log(
        `${d.code}: CPU ${row.cpuMs.toFixed(0)} ms over ${row.intervalSec.toFixed(0)} s = ${row.cpuPct.toFixed(3)} % of one core ` +
          `(own ${row.ownMs.toFixed(0)} ms, children ${row.childrenMs.toFixed(0)} ms); first ${row.firstWindowSec.toFixed(0)} s: ${row.firstWindowPct.toFixed(3)} % ` +
          `(own ${row.firstWindowOwnPct.toFixed(3)} %); ${cycles} cycles, mean wall ${row.cycleWallMs.toFixed(1)} ms`,
      );
      console.log(
        `${d.code}: RSS peak ${row.rssPeakStartMB.toFixed(1)} MB in the first ${START_PEAK_MS / 1000} s (at ${row.rssPeakStartAtSec.toFixed(0)} s), ` +
          `after them max ${row.rssSteadyMaxMB.toFixed(1)} MB, median ${row.rssSteadyMedianMB.toFixed(1)} MB (${row.rssSamples} samples, 1 s apart)`,
      );
    });
    results.set('loadStartWindow', loadStart);
    results.set('warmUpSec', WARM_UP_MS / 1000);
    results.set('daemons', rows);
    results.set('rss', Object.fromEntries(daemons.map((d) => [d.code, d.rss])));
    const current = rows[0] as { cpuPct: number; rssPeakStartMB: number; rssSteadyMaxMB: number };
    results.budget(
      'idle CPU with children, % of one core over one STATE_SYNC_INTERVAL_SEC',
      current.cpuPct,
      CPU_BUDGET_PCT,
      '%',
    );
    results.budget('RSS peak over the first 2 minutes', current.rssPeakStartMB, PEAK_BUDGET_MB, 'MB');
    results.budget('RSS steady (highest sample after 2 minutes)', current.rssSteadyMaxMB, STEADY_BUDGET_MB, 'MB');
  } finally {
    sampling = false;
    await sampler;
  }
}

await runBench('idle', main);
