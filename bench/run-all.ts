/**
 * `npm run bench`: every bench, one after another (they share the machine
 * they measure, so never at once), each headed by the load average it starts
 * under, then a summary. Exits non-zero when a bench failed or missed its
 * budget. Each bench writes its figures to `<dir>/<bench>.json`; the
 * directory is BENCH_RESULTS_DIR, else `.tmp/bench/<start time>`.
 *
 * With BENCH_BASE (a built checkout of older code), the benches that measure
 * code this work changed measure the older code too, on the same load: the
 * idle daemon beside it, the cold cycle (bench/scale.ts) right after it.
 *
 * `--doc` then renders docs/performance.md from the run's results
 * (bench/report.ts): `npm run bench:doc` is the whole regeneration.
 *
 *   npm run build && npx tsx bench/run-all.ts [--doc]
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderReport } from './report.js';
import { loadAverage, REPO } from './lib/results.js';

const BENCHES: { file: string; env?: Record<string, string> }[] = [
  { file: 'cycle-cost.ts' },
  { file: 'scale.ts' },
  ...(process.env['BENCH_BASE'] ? [{ file: 'scale.ts', env: { BENCH_CODE: 'base' } }] : []),
  { file: 'scrape.ts' },
  { file: 'detection-latency.ts' },
  { file: 'source-sync.ts' },
  { file: 'tmux-calls.ts' },
  { file: 'idle.ts' },
];

const startedAt = new Date();
const dir =
  process.env['BENCH_RESULTS_DIR'] ?? join(REPO, '.tmp', 'bench', startedAt.toISOString().replace(/[:.]/g, '-'));

/** Set on SIGINT/SIGTERM: the running bench is told, and none starts after it. */
let stopped = false;

function runOne(file: string, env: Record<string, string>): Promise<{ code: number | null; seconds: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(file, import.meta.url))], {
    stdio: 'inherit',
    env: { ...process.env, ...env, BENCH_RESULTS_DIR: dir },
  });
  const forward = (signal: NodeJS.Signals) => {
    // The bench tears its load down on the signal; no bench starts after it.
    stopped = true;
    child.kill(signal);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve({ code, seconds: (Date.now() - started) / 1000 });
    });
  });
}

const summary: string[] = [];
let failed = false;
for (const b of BENCHES) {
  if (stopped) break;
  const label = `bench/${b.file}${b.env?.['BENCH_CODE'] ? ` (BENCH_CODE=${b.env['BENCH_CODE']})` : ''}`;
  console.log(`\n== ${label} (load ${loadAverage()}) ==`);
  const { code, seconds } = await runOne(b.file, b.env ?? {});
  if (code !== 0) failed = true;
  summary.push(`${label.padEnd(42)} ${code === 0 ? 'ok' : `exit ${code}`} in ${seconds.toFixed(0)} s`);
}
console.log(
  `\n== summary (${((Date.now() - startedAt.getTime()) / 60_000).toFixed(1)} min, load now ${loadAverage()}) ==\n${summary.join('\n')}`,
);
console.log(`results in ${dir}`);
if (stopped) {
  console.log('stopped by a signal: no page rendered');
  failed = true;
} else if (process.argv.includes('--doc'))
  console.log(
    `wrote ${renderReport(dir, { command: `${process.env['BENCH_BASE'] ? 'BENCH_BASE=<a built checkout of the older code> ' : ''}npm run bench:doc`, failed })}`,
  );
if (failed) process.exitCode = 1;
