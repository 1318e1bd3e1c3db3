/**
 * Renders docs/performance.md from one run's results (the JSON files the
 * benches write, see ./lib/results.ts), and copies those files to
 * docs/bench-results/ beside it: every figure of the page comes from that run,
 * and regenerating the page is running the benches again (`npm run
 * bench:doc`). What does not change from run to run (how each figure is taken,
 * why) is written here; the history of the performance work, with the
 * figures measured when each change was made, is docs/performance-history.md.
 *
 *   npx tsx bench/report.ts <results dir> [the command that ran the benches]
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchResult, REPO } from './lib/results.js';

type Figures = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const ms = (n: number | undefined, digits = 1): string =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : `${n.toFixed(digits)} ms`;
const num = (n: number | undefined, digits = 1): string =>
  n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits);
const utc = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function read(dir: string, bench: string): BenchResult | null {
  const file = join(dir, `${bench}.json`);
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as BenchResult) : null;
}

/** The line under a section's title: when, on which load, and whether it ran. */
function ran(r: BenchResult): string {
  const error = r.error ? ` **The bench failed: ${r.error.split('\n')[0]}**` : '';
  return `Run ${utc(r.startedAt)}–${r.endedAt.slice(11, 16)}, load ${r.loadStart} at the start and ${r.loadEnd} at the end.${error}`;
}

function budgetRows(results: BenchResult[]): string {
  const rows = results.flatMap((r) =>
    r.budgets.map(
      (b) =>
        `| ${b.name} (\`bench/${r.bench === 'scale-base' ? 'scale.ts`, older code' : `${r.bench}.ts\``}) | ≤ ${b.limit} ${b.unit} | ${num(b.value, b.value < 10 ? 3 : 1)} ${b.unit} | ${b.met ? 'met' : '**NOT met**'} |`,
    ),
  );
  return ['| figure | budget | measured | |', '|---|---|---|---|', ...rows].join('\n');
}

function cycleCost(r: BenchResult): string {
  const f = r.figures as Figures;
  return `## Cycle cost against process-exporter and the floor (\`bench/cycle-cost.ts\`)

${ran(r)}

Load: ${f['load']?.projects} projects (${f['load']?.live} processing, each with a live session on a private tmux server and a git repository as its directory),
${f['load']?.idleProcesses} idle \`sleep\` processes; ${f['load']?.processes} processes on the host; registry
${num(f['load']?.registryKiB, 0)} KiB. ${f['rounds']} rounds, the three interleaved round by round.

What each side does, per round:

- **the cycle** (\`runCycle\` in-process, as the daemon runs it, steady: the full completion sync
  not due): \`/proc/<pid>/stat\` of every process, one \`tmux list-panes -a\` per server (a child
  process), reconcile of every project, usage of each live project's process tree, the queue
  summary; the registry unchanged (its cached document). Each project's last pane read and git
  log are kept between cycles, as the daemon keeps them: the bench's panes print nothing, so no
  pane is captured again. Its CPU is this process's (\`process.cpuUsage\`) plus its children's
  (\`cutime + cstime\`, the tmux client).
- **the cycle with busy panes** (printed, not budgeted): the same cycle with the pane reads
  forgotten first, as when every agent printed since the last cycle; agent detection then
  captures all ${f['load']?.live} panes, one tmux call per 32. The yardsticks read no pane.
- **prometheus-process-exporter** (one \`GET /metrics\`; every process in a group named by its
  comm, smaps and threads off): reads stat, status, io, cmdline and the fd count of every
  process and renders the groups' series. Its CPU per scrape is its own \`utime + stime\` over
  the rounds divided by them (it runs no children).
- **the floor**: \`/proc/<pid>/stat\` of every PID (synchronous reads into one buffer) while one
  \`tmux list-panes -a\` runs; nothing parsed or decided.

| | wall median | wall p99 | CPU per round |
|---|---|---|---|
| cycle (steady) | **${ms(f['cycle']?.medianMs)}** | ${ms(f['cycle']?.p99Ms)} | ${ms(f['cycle']?.cpuMedianMs)} own (median) + ${ms(f['cycle']?.childrenCpuMeanMs)} children (mean) = **${ms(f['cycle']?.cpuWithChildrenMs)}** |
| process-exporter scrape | **${ms(f['exporter']?.medianMs)}** | ${ms(f['exporter']?.p99Ms)} | **${ms(f['exporter']?.cpuPerScrapeMs)}** (body ${num(f['exporter']?.bodyKiB, 0)} KiB) |
| cycle with busy panes | ${ms(f['busyPanes']?.medianMs)} | | ${ms(f['busyPanes']?.cpuWithChildrenMs)} with children |
| floor | ${ms(f['floor']?.medianMs)} | ${ms(f['floor']?.p99Ms)} | |
| cycle with the full completion sync (the first: \`git log\` in every repository) | ${ms(f['fullSync']?.wall)} | | ${ms(f['fullSync']?.cpu)} own + ${ms(f['fullSync']?.children)} children |

Ratios: cycle / process-exporter **${num(f['ratios']?.wallToExporter, 3)}** (wall), **${num(f['ratios']?.cpuToExporterCpu, 3)}**
(CPU with children against the exporter's CPU); cycle / floor **${num(f['ratios']?.wallToFloor, 2)}**. Children's CPU is
counted in clock ticks of 10 ms, hence a mean over the rounds rather than a median of mostly zeros.
`;
}

function scale(r: BenchResult, base: BenchResult | null): string {
  const rows = [
    ...((r.figures as Figures)['rows'] ?? []),
    ...((base?.figures?.['rows'] as unknown[]) ?? []),
  ] as Figures[];
  const table = rows
    .sort((a, b) => a['projects'] - b['projects'] || (a['code'] === 'current' ? -1 : 1))
    .map(
      (x) =>
        `| ${x['code'] === 'current' ? `this code (${r.commit})` : `before (${base?.base?.commit ?? 'base'})`} | ${x['projects']} | ${x['live']} | ${num(x['registryKiB'], 0)} KiB | ${ms(x['steadyMedianMs'])} | ${ms(x['steadyCpuMedianMs'])} | **${ms(x['coldMedianMs'])}** | ${ms(x['coldCpuMedianMs'])} | ${ms(x['firstReadMedianMs'])} |`,
    )
    .join('\n');
  const rounds = (r.figures as Figures)['rounds'] ?? {};
  return `## Scale, steady and cold (\`bench/scale.ts\`)

${ran(r)}${base ? `\nThe older code (\`BENCH_CODE=base\`, commit ${base.base?.commit ?? 'unknown'}) right after it: ${ran(base).replace(/^Run/, 'run')}` : ''}

\`runCycle\` in-process at 100, 1,000 and 10,000 projects (1 % processing with live sessions, the
rest finished). *Steady*: the registry unchanged since the last cycle (the store's cached
document). *Cold*: the cycle right after another process committed a change to one project
(\`agent heartbeat live-<n>\`, the built CLI, as an orchestrator reports progress), so the
daemon's store re-reads the file; the other process is not timed. *First read*: a new store that
has read nothing before (a daemon's first cycle). ${rounds.steady} steady, ${rounds.cold} cold and ${rounds.first}
first-read cycles per size, sizes in turn.

| code | projects | live | registry | steady median | steady CPU | cold median | cold CPU | first read |
|---|---|---|---|---|---|---|---|---|
${table}

The cold cycle re-reads the file and validates only the projects whose text changed since the
version the store read or wrote before (\`src/registry/json/project-text.ts\`); the older code
parsed and validated all of them.
`;
}

function scrape(r: BenchResult): string {
  const f = r.figures as Figures;
  const row = (label: string, x: Figures | undefined) =>
    `| ${label} | **${ms(x?.['medianMs'], 2)}** | ${ms(x?.['p99Ms'], 2)} | ${x?.['series']} (${x?.['ours']}) | ${num(x?.['bodyKiB'])} KiB |`;
  return `## Scrape (\`bench/scrape.ts\`)

${ran(r)}

In-process: metrics of a ${f['projects']}-project registry (1 % non-terminal) observed once like a cycle,
then ${f['renders']} renders of the exposition, one after another. Over HTTP: \`agent serve\` on a registry
of as many projects (${f['http']?.live} processing with live sessions), ${f['renders']} \`GET /metrics\`, timed to the
last byte.

| | median | p99 | series (orchestrator_*) | body |
|---|---|---|---|---|
${row('render, Prometheus text', f['prometheus'])}
${row('render, OpenMetrics', f['openMetrics'])}
${row('`GET /metrics` over HTTP (`agent serve`)', f['http'])}

\`observeCycle\` over the registry: ${ms(f['observeCycleMs'], 2)} once per cycle; \`observeAudit\` of
${f['auditEntries']} entries: ${ms(f['observeAuditMs'], 2)}.
`;
}

function detection(r: BenchResult): string {
  const f = r.figures as Figures;
  const rows = ((f['rows'] ?? []) as Figures[])
    .map((x) => `| ${x['kind']} | ${x['n']} | ${ms(x['p50Ms'], 0)} | **${ms(x['p99Ms'], 0)}** | ${ms(x['maxMs'], 0)} |`)
    .join('\n');
  return `## Detection latency (\`bench/detection-latency.ts\`)

${ran(r)}

\`agent serve\` with polling set to once an hour, so only the event sources see a death; the
registry holds ${f['finished']} finished projects besides the live ones. *Session killed*: the project's
process ignores SIGHUP and outlives its session (→ zombie, seen by the tmux hook). *Process
exited*: a tracked PID is SIGKILLed (→ failed with a phantom grace of 0, seen by the PID
probe). ${f['singles']} of each one at a time, then ${f['bursts']} bursts of ${f['burstSize']} simultaneous deaths of each kind.
Measured from the kill to the registry write that committed the transition: the file is
polled, and the first version holding it is dated by its inode's change time (the rename
that committed it), not by the history entry's time, which is taken before the write.

| kind | n | p50 | p99 | max |
|---|---|---|---|---|
${rows}
`;
}

function sources(r: BenchResult): string {
  const f = r.figures as Figures;
  const p = (f['passes'] ?? {}) as Figures;
  const row = (label: string, x: Figures | undefined) =>
    `| ${label} | ${ms(x?.['wallMs'])} | ${ms(x?.['cpuMs'])} | ${ms(x?.['childCpuMs'], 0)} |`;
  return `## Sources (\`bench/source-sync.ts\`)

${ran(r)}

A Tmux-Orchestrator \`task_queue.db\` of ${f['rows']} rows in their scheduler's schema (${f['active']} queued or
processing with sessions, the rest finished), synced into a JSON registry by the source
in-process as the cycle runs it (\`docs/sources.md\`). Medians over ${f['rounds']} rounds: wall time, the
agent's CPU (\`process.cpuUsage\`) and its \`sqlite3\` and \`tmux\` children's (\`cutime + cstime\`, in
ticks of 10 ms).

| pass | wall | agent CPU | sqlite3 / tmux CPU |
|---|---|---|---|
${row('skipped: database and `-wal` unchanged (every idle cycle)', p['skipped'])}
${row(`full read of the ${f['rows']}-row file`, p['fullRead'])}
${row('sync after a change, nothing new (read + merge, no write)', p['unchanged'])}
${row(`first sync: ${f['active']} imported, one registry write`, p['first'])}
${row(`first sync of ${f['rows']} live rows, once`, p['firstAllActive'])}
${row('a tmux-sessions source, 10 of 20 sessions matching', p['tmuxSessions'])}
`;
}

function idle(r: BenchResult): string {
  const f = r.figures as Figures;
  const rows = (f['daemons'] ?? []) as Figures[];
  const label = (x: Figures) =>
    x['code'] === 'current' ? `this code (${r.commit})` : `before (${r.base?.commit ?? 'base'})`;
  const cpu = rows
    .map(
      (x) =>
        `| ${label(x)} | **${num(x['cpuPct'], 3)} %** (${num(x['cpuMs'], 0)} ms over ${num(x['intervalSec'], 0)} s: own ${num(x['ownMs'], 0)}, children ${num(x['childrenMs'], 0)}) | ${num(x['firstWindowPct'], 3)} % (own ${num(x['firstWindowOwnPct'], 3)} %) | ${x['cycles']}, mean wall ${ms(x['cycleWallMs'])} |`,
    )
    .join('\n');
  const rss = rows
    .map(
      (x) =>
        `| ${label(x)} | **${num(x['rssPeakStartMB'])} MB** at ${num(x['rssPeakStartAtSec'], 0)} s | **${num(x['rssSteadyMaxMB'])} MB** | ${num(x['rssSteadyMedianMB'])} MB | ${x['rssSamples']} |`,
    )
    .join('\n');
  return `## Idle daemon: CPU and memory (\`bench/idle.ts\`)

${ran(r)}

\`agent serve\` as a child with the default schedule (a cycle every 15 s, the tracked-PID probe
every 500 ms, tmux hooks, the registry watch, the HTTP server) over 1,000 projects, 100 of them
processing with live sessions on a private tmux server (no default tmux server running), each
with a git repository as its directory: the full sync in the window reads their git evidence
again (the daemon runs \`git log\` only where HEAD moved since the last one).${rows.length > 1 ? " The older code's daemon ran beside it, on a load of its own, over the same window." : ''}

CPU: \`utime + stime + cutime + cstime\` of \`/proc/<pid>/stat\` (the daemon and the children it
waited for: tmux clients, \`git\`), over one whole \`STATE_SYNC_INTERVAL_SEC\` (so the periodic
full sync of every active project's completion evidence is in it) from ${num(f['warmUpSec'], 0)} s after start;
start-up is not idle (the first cycle is a full sync). The first 60 s of that window for
comparison.

| | CPU over the interval, % of one core | first 60 s | cycles |
|---|---|---|---|
${cpu}

Memory: \`VmRSS\` of \`/proc/<pid>/status\` every second from the start; the peak over the first
2 minutes (the first full sync in them) and the highest and median sample after them.

| | peak, first 2 min | highest after | median after | samples |
|---|---|---|---|---|
${rss}
`;
}

function tmuxCalls(r: BenchResult): string {
  const f = r.figures as Figures;
  const calls =
    Object.entries((f['calls'] ?? {}) as Record<string, number>)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none';
  const busy = Number(f['projects']?.busy ?? 0);
  return `## tmux calls per cycle with agent detection (\`bench/tmux-calls.ts\`)

${ran(r)}

\`agent serve\` under \`strace -f -e trace=execve\` (needs \`strace\`), a cycle every second, no full sync in
the window, over 30 processing projects on one private tmux server: 10 panes show Claude Code's
permission prompt, 10 a Gemini CLI usage limit, 10 a quiet shell${busy > 0 ? `, and ${busy} print a line every second` : ''}. Every tmux
execve in a ${f['windowSec']} s window, divided by the cycles the daemon ran in it (${f['cycles']}).

- tmux calls in the window: ${calls}; **${num(f['perCycle'], 2)} per cycle**.
- A steady cycle makes the scan's one \`list-panes -a\` and nothing else: agent detection reads
  a pane only when its window's activity moved (or at its first look, or at the full sync), and
  then all such panes in one bulk \`capture-pane\` call shared with the completion evidence
  (\`BUSY=5\` shows it: one more call per cycle, whatever the number of panes moving).
- Budget: no tmux call beyond the scan's in a steady cycle; the bench exits 1 otherwise.
`;
}

export function renderReport(
  dir: string,
  options: { command: string; failed?: boolean } = { command: 'npx tsx bench/report.ts <dir>' },
): string {
  const names = [
    'cycle-cost',
    'scale',
    'scale-base',
    'scrape',
    'detection-latency',
    'source-sync',
    'tmux-calls',
    'idle',
  ];
  const results = Object.fromEntries(names.map((n) => [n, read(dir, n)])) as Record<string, BenchResult | null>;
  const present = names.map((n) => results[n]).filter((r): r is BenchResult => r !== null);
  if (present.length === 0) throw new Error(`no bench results in ${dir}`);
  const first = present.reduce((a, b) => (a.startedAt < b.startedAt ? a : b));
  const last = present.reduce((a, b) => (a.endedAt > b.endedAt ? a : b));
  const missing = names.filter((n) => results[n] === null && !(n === 'scale-base' && !first.base));
  const missed = present.flatMap((r) => r.budgets.filter((b) => !b.met && r.bench !== 'scale-base').map((b) => b.name));
  const sections = [
    results['cycle-cost'] && cycleCost(results['cycle-cost']),
    results['scale'] && scale(results['scale'], results['scale-base'] ?? null),
    results['scrape'] && scrape(results['scrape']),
    results['idle'] && idle(results['idle']),
    results['detection-latency'] && detection(results['detection-latency']),
    results['source-sync'] && sources(results['source-sync']),
    results['tmux-calls'] && tmuxCalls(results['tmux-calls']),
  ].filter((s): s is string => typeof s === 'string');

  const text = `# Performance

<!-- Generated by bench/report.ts from docs/bench-results/*.json (one run of the benches); do not edit by hand:
     run \`${options.command}\` again. -->

What the agent costs on this project's development machine, against its budgets, and how each
figure is taken. **Every figure on this page comes from one run of \`${options.command}\`,
${utc(first.startedAt)} to ${utc(last.endedAt)}**, on commit ${first.commit}${first.base ? `, with the older code of commit ${first.base.commit} measured on the same load where this work changed the code (before/after)` : ''}.
Machine: ${first.machine.replace(/, load .*$/, '')}; the load average (1, 5 and 15 minutes) was ${first.loadStart} when the run
started and ${last.loadEnd} when it ended (each section gives its own). The raw results are in
[bench-results/](bench-results/); the figures measured when each optimisation was made are in
[performance-history.md](performance-history.md).

${missed.length === 0 ? 'Every budget was met in this run.' : `**Budgets missed in this run: ${missed.join('; ')}.**`}${missing.length > 0 ? ` Not run: ${missing.map((n) => `bench/${n}.ts`).join(', ')}.` : ''}${(options.failed ?? (missed.length > 0 || present.some((r) => r.error))) ? ' The run exited non-zero.' : ''}

## How to run

- \`npm run bench\`: builds, then runs the benches one after another (they measure the machine
  they share, so never at once), each headed by its load average; exits non-zero when one fails
  or misses its budget. Each writes \`<bench>.json\` to \`BENCH_RESULTS_DIR\` (default
  \`.tmp/bench/<time>/\`). \`npm run bench:doc\` does the same and renders this page from the run
  (\`npx tsx bench/report.ts <dir>\` renders it from any run's directory).
- \`BENCH_BASE=<a built checkout of older code>\` measures that code too where it matters: its
  daemon beside ours in \`bench/idle.ts\`, and \`bench/scale.ts\` again with \`BENCH_CODE=base\`.
- One bench: \`npm run build && npx tsx bench/<name>.ts\`. Each builds its own load (private tmux
  servers under a private \`TMUX_TMPDIR\`, \`sleep\` processes, a generated registry in a temp
  directory) and removes it, on error and on Ctrl-C too. \`scripts/setup.sh bench\` installs what
  they need beyond the suite's: \`prometheus-process-exporter\` (\`bench/cycle-cost.ts\`) and \`strace\`
  (\`bench/tmux-calls.ts\`).
- The machine is shared with other work; a figure taken under a load average above the number of
  cores (2) is slower than the same code on a quiet machine.

## Budgets

${budgetRows(present)}

${sections.join('\n')}`;
  const out = join(REPO, 'docs', 'performance.md');
  writeFileSync(out, text);
  const copies = join(REPO, 'docs', 'bench-results');
  rmSync(copies, { recursive: true, force: true });
  mkdirSync(copies, { recursive: true });
  for (const file of readdirSync(dir).filter((n) => n.endsWith('.json')))
    copyFileSync(join(dir, file), join(copies, file));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: npx tsx bench/report.ts <results dir> [command]');
    process.exit(2);
  }
  console.log(`wrote ${renderReport(dir, { command: process.argv[3] ?? 'npm run bench:doc' })}`);
}
