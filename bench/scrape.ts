/**
 * Scrape cost of /metrics with a large registry: 10,000 projects of which
 * 1 % are non-terminal (queued, processing, timing_out, zombie), observed
 * once like a cycle would, then 200 renders timed one after another.
 * Prints median and p99 per render, the series count and the body size, for
 * the Prometheus text format and for OpenMetrics. Budget: median ≤ 10 ms.
 *
 * Then the same over HTTP: `agent serve` (built, dist/) on a registry of as
 * many projects, 1 % of them processing with live sessions on a private tmux
 * server, the rest terminal; `renders` GET /metrics one after another, timed
 * from the request to the last byte of the body.
 *
 *   npm run build && npx tsx bench/scrape.ts [projects] [renders]
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_CONFIG } from '../src/config/keys.js';
import type { CycleOutcome } from '../src/cycle.js';
import type { Detection } from '../src/core/model/plan.js';
import { iso, newProject, type Project, type ProjectState } from '../src/core/model/project.js';
import { summariseQueue } from '../src/core/views/queue-summary.js';
import { emptyDocument, type RegistryDocument } from '../src/core/model/registry-document.js';
import { AgentMetrics } from '../src/metrics/metrics.js';
import type { AuditEntry } from '../src/registry/store.js';
import { BenchTmux, buildRegistry, registryPath, type Teardown, tempDir, writeRegistry } from './lib/load.js';
import { median, percentile, type Results, runBench } from './lib/results.js';
import { requireBuild, startServe } from './lib/serve.js';

const total = Number(process.argv[2] ?? 10_000);
const renders = Number(process.argv[3] ?? 200);
const BUDGET_MS = 10;
const now = Date.UTC(2026, 10, 26, 12, 0, 0);
const config = { ...DEFAULT_CONFIG };

const ACTIVE_STATES: ProjectState[] = ['queued', 'processing', 'processing', 'timing_out', 'zombie'];

function project(i: number): Project {
  const active = i % 100 === 0;
  const state: ProjectState = active
    ? (ACTIVE_STATES[(i / 100) % ACTIVE_STATES.length] as ProjectState)
    : i % 3 === 0
      ? 'failed'
      : 'completed';
  const running = state === 'processing' || state === 'timing_out' || state === 'zombie';
  return newProject({
    id: `p-${i}`,
    state,
    enqueuedAt: iso(now - (total - i) * 60_000),
    session: `p-${i}-${(i * 2654435761) % 0xffffffff}`,
    startedAt: state === 'queued' ? null : iso(now - 3_600_000),
    heartbeatAt: running ? iso(now - 30_000) : null,
    endedAt: running || state === 'queued' ? null : iso(now - 1_800_000),
    pid: running ? 10_000 + i : null,
    attempts: state === 'queued' ? 0 : 1,
  });
}

interface Timing {
  medianMs: number;
  p99Ms: number;
  series: number;
  ours: number;
  bodyKiB: number;
}

async function time(label: string, metrics: AgentMetrics, openMetrics: boolean): Promise<Timing> {
  for (let i = 0; i < 20; i++) await metrics.render(openMetrics); // warm-up
  const samples: number[] = [];
  let body = '';
  for (let i = 0; i < renders; i++) {
    const start = performance.now();
    body = (await metrics.render(openMetrics)).body;
    samples.push(performance.now() - start);
  }
  const series = body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const ours = series.filter((l) => l.startsWith('orchestrator_')).length;
  const t = {
    medianMs: median(samples),
    p99Ms: percentile(samples, 99),
    series: series.length,
    ours,
    bodyKiB: body.length / 1024,
  };
  console.log(
    `${label.padEnd(11)} median ${t.medianMs.toFixed(2)} ms  p99 ${t.p99Ms.toFixed(2)} ms  ` +
      `series ${t.series} (orchestrator_* ${ours})  body ${t.bodyKiB.toFixed(1)} KiB`,
  );
  return t;
}

const registry: RegistryDocument = {
  ...emptyDocument(),
  projects: Array.from({ length: total }, (_, i) => project(i)),
};
const running = registry.projects.filter((p) => p.pid !== null);
const usage = Object.fromEntries(
  running.map((p, i) => [p.id, { cpuRatio: (i % 10) / 10, rssBytes: (64 + i) * 1024 * 1024 }]),
);
const detections: Detection[] = registry.projects
  .filter((p) => p.state === 'zombie' || p.state === 'timing_out')
  .map((p) => ({
    kind: p.state === 'zombie' ? 'zombie' : 'timing_out',
    project: p.id,
    session: p.session,
    tmuxSocket: null,
    pid: p.pid,
    reason: 'bench',
  }));

const outcome: CycleOutcome = {
  registry,
  result: {
    ok: true,
    dryRun: false,
    startedAt: iso(now),
    durationMs: 180,
    errors: [],
    sources: [
      { source: 'processes', ok: true, durationMs: 40, error: null },
      { source: 'tmux', ok: true, durationMs: 30, error: null },
      { source: 'usage', ok: true, durationMs: 20, error: null },
    ],
    transitions: [],
    actions: [
      { project: running[0]?.id ?? null, action: 'kill_tree', outcome: 'success', detail: 'bench', reason: 'zombie' },
    ],
    blocked: [],
    detections,
    staleMarkers: [],
    counts: { retries: 3, breakerTrips: 0, launches: 0, queueTrips: 0, extensions: 0 },
    queue: summariseQueue(registry, config, now),
    fullSync: false,
    tmuxSessions: { default: running.length },
    usage,
  },
};
const audit: AuditEntry[] = registry.projects
  .filter((p) => p.state === 'completed' || p.state === 'failed')
  .slice(0, 1000)
  .map((p) => ({
    at: p.endedAt ?? iso(now),
    type: 'transition',
    project: p.id,
    by: 'agent@bench',
    from: 'processing',
    to: p.state,
    reason: 'bench',
  }));

/** GET /metrics of a real `agent serve` over loopback HTTP. */
async function main(teardown: Teardown, results: Results): Promise<void> {
  requireBuild();
  const metrics = new AgentMetrics({ config, hostId: 'bench-01', version: '0.0.0-bench', backend: 'json' });
  const observeStart = performance.now();
  metrics.observeCycle(outcome, now);
  const observeMs = performance.now() - observeStart;
  const auditStart = performance.now();
  metrics.observeAudit(audit, registry);
  const auditMs = performance.now() - auditStart;

  console.log(
    `registry: ${total} projects, ${registry.projects.filter((p) => p.state !== 'completed' && p.state !== 'failed').length} non-terminal; ${renders} renders each`,
  );
  console.log(
    `observeCycle ${observeMs.toFixed(2)} ms, observeAudit (${audit.length} entries) ${auditMs.toFixed(2)} ms`,
  );
  const prometheus = await time('prometheus', metrics, false);
  const openMetrics = await time('openmetrics', metrics, true);
  results.set('projects', total);
  results.set('renders', renders);
  results.set('observeCycleMs', observeMs);
  results.set('observeAuditMs', auditMs);
  results.set('auditEntries', audit.length);
  results.set('prometheus', prometheus);
  results.set('openMetrics', openMetrics);
  results.budget('render of /metrics (Prometheus text), median', prometheus.medianMs, BUDGET_MS, 'ms');

  const dir = tempDir(teardown, 'toa-scrape-');
  const tmux = new BenchTmux(teardown, 'scrape');
  const live = Math.max(1, Math.round(total / 100));
  const pids = tmux.newSessions('live-', live, ['sleep', '3600']);
  const path = registryPath(dir);
  writeRegistry(
    path,
    buildRegistry({
      total,
      live: pids.map((pid, i) => ({ session: `live-${i}`, pid })),
      tmuxSocket: tmux.socket,
      projectRoot: join(dir, 'projects'),
      now: Date.now(),
    }),
  );
  const { url } = await startServe(teardown, {
    cwd: dir,
    env: { ...process.env, AGENT_REGISTRY: path, AGENT_TMUX_SOCKETS: tmux.socket, LOG_LEVEL: 'error' },
    until: '/readyz',
    timeoutMs: 30_000,
  });
  const get = async (): Promise<string> => {
    const r = await fetch(`${url}/metrics`);
    if (!r.ok) throw new Error(`/metrics answered ${r.status}`);
    return r.text();
  };
  for (let i = 0; i < 20; i++) await get();
  const samples: number[] = [];
  let body = '';
  for (let i = 0; i < renders; i++) {
    const start = performance.now();
    body = await get();
    samples.push(performance.now() - start);
  }
  const series = body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  const http = {
    medianMs: median(samples),
    p99Ms: percentile(samples, 99),
    series: series.length,
    ours: series.filter((l) => l.startsWith('orchestrator_')).length,
    bodyKiB: body.length / 1024,
  };
  console.log(`over HTTP (agent serve, ${total} projects, ${live} processing with live sessions):`);
  console.log(
    `GET /metrics median ${http.medianMs.toFixed(2)} ms  p99 ${http.p99Ms.toFixed(2)} ms  series ${http.series} (orchestrator_* ${http.ours})  body ${http.bodyKiB.toFixed(1)} KiB`,
  );
  results.set('http', { ...http, live });
  results.budget('GET /metrics of agent serve over HTTP, median', http.medianMs, BUDGET_MS, 'ms');
}

await runBench('scrape', main);
