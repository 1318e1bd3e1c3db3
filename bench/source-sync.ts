/**
 * Cost of the Tmux-Orchestrator source on a 10,000-row task_queue.db
 * (scheduler schema, written by Python's sqlite3 like theirs): 100 rows
 * queued or processing, the rest finished.
 *
 * - skipped pass: the database and its -wal unchanged (what an idle daemon
 *   pays every cycle);
 * - full read: the two sqlite3 runs (schema, rows) and the JSON parse;
 * - sync, nothing new: a full read merged into a registry that already holds
 *   the 100 imported projects (no registry write);
 * - first sync: the import of the 100 into an empty JSON registry;
 * - first sync of 10,000 active rows (every row queued or processing), once;
 * - a tmux-sessions source with 10 matching sessions (of 20), steady: one
 *   `tmux list-panes -a` per pass, what it costs every cycle.
 *
 * Wall time, the agent's CPU (process.cpuUsage) and the CPU of its sqlite3
 * and tmux children (cutime + cstime of /proc/self/stat), medians over the
 * rounds.
 *
 *   npx tsx bench/source-sync.ts [rounds]
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { TmuxOrchestratorSourceConfig } from '../src/config/sources.js';
import { emptyDocument } from '../src/core/model/registry-document.js';
import { createLogger } from '../src/log.js';
import { JsonStore } from '../src/registry/json-store.js';
import { SourceSet } from '../src/sources/source-set.js';
import { readQueue } from '../src/sources/tmux-orchestrator/queue-db.js';
import { TmuxOrchestratorSource } from '../src/sources/tmux-orchestrator/source.js';
import { TmuxSessionsSource } from '../src/sources/tmux-sessions.js';
import { BenchTmux, cpuOf, type Teardown, tempDir } from './lib/load.js';
import { median, type Results, runBench } from './lib/results.js';

const rounds = Number(process.argv[2] ?? 15);
const ROWS = 10_000;
const ACTIVE = 100;
const FIXTURE = fileURLToPath(new URL('../test/fixtures/tmux_orchestrator_db.py', import.meta.url));
const log = createLogger({ level: 'error' });

/** CPU of reaped children so far (sqlite3, tmux), ms. */
const childCpuMs = (): number => cpuOf('self').childrenMs;

interface Sample {
  wallMs: number;
  cpuMs: number;
  childCpuMs: number;
}

async function measure(work: () => Promise<unknown>): Promise<Sample> {
  const cpu = process.cpuUsage();
  const child = childCpuMs();
  const t0 = performance.now();
  await work();
  const wallMs = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000, childCpuMs: childCpuMs() - child };
}

const medians = (samples: Sample[]): Sample => ({
  wallMs: median(samples.map((s) => s.wallMs)),
  cpuMs: median(samples.map((s) => s.cpuMs)),
  childCpuMs: median(samples.map((s) => s.childCpuMs)),
});

function line(what: string, samples: Sample[]): string {
  const m = (f: (s: Sample) => number) => median(samples.map(f)).toFixed(1).padStart(8);
  return `${what.padEnd(48)} wall ${m((s) => s.wallMs)} ms   agent CPU ${m((s) => s.cpuMs)} ms   sqlite3/tmux CPU ${m((s) => s.childCpuMs)} ms`;
}

function database(dir: string, active: number): string {
  const path = join(dir, 'task_queue.db');
  rmSync(path, { force: true });
  execFileSync('python3', [FIXTURE, 'create', path, 'scheduler'], { stdio: 'ignore' });
  execFileSync('python3', [FIXTURE, 'bulk', path, String(ROWS), String(active)], { stdio: 'ignore' });
  return path;
}

async function main(teardown: Teardown, results: Results): Promise<void> {
  const dir = tempDir(teardown, 'toa-bench-source-');
  const tmux = new BenchTmux(teardown, 'source');
  const db = database(dir, ACTIVE);
  const config = (path: string): TmuxOrchestratorSourceConfig => ({
    kind: 'tmux-orchestrator',
    name: 'bench',
    idPrefix: 'to-',
    db: path,
    tmuxSocket: tmux.socket,
    readOnly: true,
    heal: true,
    busyTimeoutMs: 10_000,
  });
  console.log(`${ROWS} rows (${ACTIVE} active), ${rounds} rounds`);

  const reads: Sample[] = [];
  for (let i = 0; i < rounds; i++) reads.push(await measure(() => readQueue(db, { busyTimeoutMs: 10_000 })));

  const firsts: Sample[] = [];
  const unchanged: Sample[] = [];
  const skipped: Sample[] = [];
  for (let i = 0; i < rounds; i++) {
    const registry = join(dir, `registry-${i}.json`);
    const store = new JsonStore({ path: registry });
    const source = new TmuxOrchestratorSource(config(db), { log, tmuxTimeoutMs: 5000 });
    const set = new SourceSet([source], log);
    const ctx = () => ({ store, now: Date.now(), dryRun: false, hostId: 'bench' });
    firsts.push(await measure(async () => set.sync(await store.load().catch(() => emptyDocument()), ctx())));
    if (set.reports()[0]?.created !== ACTIVE)
      throw new Error(`expected ${ACTIVE} imports, got ${JSON.stringify(set.reports()[0])}`);
    // The first read may have created the -wal: settle the file identity once, unmeasured.
    source.forget();
    await set.sync(await store.load(), ctx());
    source.forget();
    unchanged.push(await measure(async () => set.sync(await store.load(), ctx())));
    if (set.reports()[0]?.skipped !== false) throw new Error('the forced read was skipped');
    skipped.push(await measure(async () => set.sync(await store.load(), ctx())));
    if (set.reports()[0]?.skipped !== true) throw new Error('the unchanged pass was not skipped');
    await store.close();
    rmSync(registry, { force: true });
  }

  const allActive = database(dir, ROWS);
  const store = new JsonStore({ path: join(dir, 'registry-all.json') });
  const set = new SourceSet([new TmuxOrchestratorSource(config(allActive), { log, tmuxTimeoutMs: 5000 })], log);
  const big = await measure(async () =>
    set.sync(emptyDocument(), { store, now: Date.now(), dryRun: false, hostId: 'bench' }),
  );
  if (set.reports()[0]?.created !== ROWS) throw new Error(`expected ${ROWS} imports, got ${set.reports()[0]?.created}`);
  await store.close();

  tmux.newSessions('claudesquad_', 10, ['sleep', '3600']);
  tmux.newSessions('other_', 10, ['sleep', '3600']);
  const sessionsStore = new JsonStore({ path: join(dir, 'registry-sessions.json') });
  const squad = new TmuxSessionsSource(
    {
      kind: 'tmux-sessions',
      name: 'squad',
      idPrefix: 'ts-',
      pattern: '^claudesquad_',
      tmuxSocket: tmux.socket,
      heal: false,
    },
    { log, tmuxTimeoutMs: 5000, graceMs: 900_000 },
  );
  const sessionsSet = new SourceSet([squad], log);
  const sctx = () => ({ store: sessionsStore, now: Date.now(), dryRun: false, hostId: 'bench' });
  await sessionsSet.sync(emptyDocument(), sctx());
  const sessions: Sample[] = [];
  for (let i = 0; i < rounds; i++)
    sessions.push(await measure(async () => sessionsSet.sync(await sessionsStore.load(), sctx())));
  if (sessionsSet.reports()[0]?.rows !== 10 || sessionsSet.reports()[0]?.updated !== 0)
    throw new Error(`tmux-sessions pass: ${JSON.stringify(sessionsSet.reports()[0])}`);
  await sessionsStore.close();

  console.log(line('skipped pass (file unchanged)', skipped));
  console.log(line(`full read (${ROWS} rows)`, reads));
  console.log(line('sync, nothing new (read + merge, no write)', unchanged));
  console.log(line(`first sync (${ACTIVE} imported, registry write)`, firsts));
  console.log(line(`first sync of ${ROWS} active rows (once)`, [big]));
  console.log(line('tmux-sessions pass (10 of 20 sessions, steady)', sessions));
  results.set('rows', ROWS);
  results.set('active', ACTIVE);
  results.set('rounds', rounds);
  results.set('passes', {
    skipped: medians(skipped),
    fullRead: medians(reads),
    unchanged: medians(unchanged),
    first: medians(firsts),
    firstAllActive: big,
    tmuxSessions: medians(sessions),
  });
}

await runBench('source-sync', main);
