/**
 * `npm run bench`: every bench, one after another (they share the machine
 * they measure, so never at once), each headed by the load average it starts
 * under, then a summary. Exits non-zero when a bench failed or missed its
 * budget.
 *
 *   npm run build && npx tsx bench/run-all.ts
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadAverage } from './lib/load.js';

const BENCHES: { file: string; args: string[] }[] = [
  { file: 'cycle-cost.ts', args: [] },
  { file: 'scale.ts', args: [] },
  { file: 'scrape.ts', args: [] },
  { file: 'idle.ts', args: [] },
  { file: 'detection-latency.ts', args: [] },
  { file: 'source-sync.ts', args: [] },
  { file: 'tmux-calls.ts', args: [] },
];

function runOne(file: string, args: string[]): Promise<{ code: number | null; seconds: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL(file, import.meta.url)), ...args], { stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
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
  console.log(`\n== bench/${b.file} (load ${loadAverage()}) ==`);
  const { code, seconds } = await runOne(b.file, b.args);
  if (code !== 0) failed = true;
  summary.push(`${`bench/${b.file}`.padEnd(28)} ${code === 0 ? 'ok' : `exit ${code}`} in ${seconds.toFixed(0)} s`);
}
console.log(`\n== summary ==\n${summary.join('\n')}`);
if (failed) process.exitCode = 1;
