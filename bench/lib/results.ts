/**
 * What a bench reports, kept in one shape: the load average it started and
 * ended under, its figures, and its budgets with their verdicts. A missed
 * budget makes the bench exit non-zero (so `npm run bench` fails); the
 * figures go to a JSON file from which bench/report.ts fills
 * docs/performance.md, so the doc shows one run and nothing else.
 *
 * The file is `$BENCH_RESULTS_DIR/<bench>.json` (bench/run-all.ts sets the
 * directory for a run), else `.tmp/bench/<bench>.json`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { privateTmuxDir, Teardown } from './load.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));

/** The value below which `p` % of `values` fall (nearest rank); NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

export const median = (values: readonly number[]): number => percentile(values, 50);

/** The 1-, 5- and 15-minute load averages, as `uptime` prints them. */
export function loadAverage(): string {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
}

/** Cores, memory, Node and the load average now. */
export function machine(): string {
  const cores = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const memLine =
    execFileSync('free', ['-m'], { encoding: 'utf8' })
      .split('\n')
      .find((l) => l.startsWith('Mem:')) ?? '';
  const totalMiB = Number(memLine.split(/\s+/)[1]);
  return `${cores} cores, ${(totalMiB / 1024).toFixed(1)} GiB memory, node ${process.version}, load ${loadAverage()}`;
}

/** The commit of a checkout (short hash, `+changes` when its tracked files differ from it). */
export function commitOf(dir: string): string {
  try {
    const rev = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty =
      execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim() !==
      '';
    return dirty ? `${rev}+changes` : rev;
  } catch {
    return 'unknown';
  }
}

export interface Budget {
  name: string;
  value: number;
  limit: number;
  unit: string;
  met: boolean;
}

export interface BenchResult {
  bench: string;
  args: string[];
  commit: string;
  /** The older code measured alongside on the same load (BENCH_BASE), when any. */
  base: { dir: string; commit: string } | null;
  machine: string;
  startedAt: string;
  endedAt: string;
  loadStart: string;
  loadEnd: string;
  figures: Record<string, unknown>;
  budgets: Budget[];
  /** Set when the bench threw: its message. */
  error?: string;
}

export function resultsDir(): string {
  return process.env['BENCH_RESULTS_DIR'] ?? join(REPO, '.tmp', 'bench');
}

/** One bench's report, filled as it runs and written at the end. */
export class Results {
  readonly data: BenchResult;

  constructor(bench: string) {
    const baseDir = process.env['BENCH_BASE'] ?? null;
    this.data = {
      bench,
      args: process.argv.slice(2),
      commit: commitOf(REPO),
      base: baseDir ? { dir: baseDir, commit: commitOf(baseDir) } : null,
      machine: machine(),
      startedAt: new Date().toISOString(),
      endedAt: '',
      loadStart: loadAverage(),
      loadEnd: '',
      figures: {},
      budgets: [],
    };
  }

  /** A figure for the report (any JSON value). */
  set(key: string, value: unknown): void {
    this.data.figures[key] = value;
  }

  /**
   * Check `value` against `limit` (at most), print the verdict, and fail the bench when missed — unless the code
   * measured is the older one of BENCH_BASE (BENCH_CODE=base), whose verdicts are for the record.
   */
  budget(name: string, value: number, limit: number, unit: string): boolean {
    const met = Number.isFinite(value) && value <= limit;
    this.data.budgets.push({ name, value, limit, unit, met });
    console.log(`budget ${name}: ${round(value)} ${unit} (≤ ${limit} ${unit}): ${met ? 'met' : 'NOT met'}`);
    if (!met && process.env['BENCH_CODE'] !== 'base') process.exitCode = 1;
    return met;
  }

  write(): string {
    this.data.endedAt = new Date().toISOString();
    this.data.loadEnd = loadAverage();
    const dir = resultsDir();
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${this.data.bench}.json`);
    writeFileSync(file, `${JSON.stringify(this.data, null, 2)}\n`);
    return file;
  }
}

function round(n: number): string {
  return Math.abs(n) >= 100 ? n.toFixed(0) : Math.abs(n) >= 1 ? n.toFixed(2) : n.toPrecision(3);
}

/**
 * Runs a bench's `main` with a new {@link Teardown} and {@link Results}: the
 * load average is printed at the start and the end, an error is printed (its
 * stack) and makes the exit code 1, the teardown runs whatever happened, and
 * the results are written.
 */
export async function runBench(
  bench: string,
  main: (teardown: Teardown, results: Results) => Promise<void>,
): Promise<void> {
  const results = new Results(bench);
  console.log(
    `${bench}: ${results.data.machine}; commit ${results.data.commit}${results.data.base ? `, base ${results.data.base.commit} (${results.data.base.dir})` : ''}`,
  );
  console.log(`load at start: ${results.data.loadStart}`);
  const teardown = new Teardown();
  privateTmuxDir(teardown);
  try {
    await main(teardown, results);
  } catch (err) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
    results.data.error = err instanceof Error ? err.message : String(err);
    process.exitCode = 1;
  } finally {
    await teardown.run();
  }
  const file = results.write();
  console.log(`load at end: ${results.data.loadEnd}; results in ${file}`);
}
