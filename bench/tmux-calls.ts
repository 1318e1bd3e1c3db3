/**
 * tmux calls per steady cycle of `agent serve`, counted from the kernel's
 * side: the daemon runs under `strace -f -e trace=execve`, and every execve of
 * tmux in a window is counted and divided by the cycles the daemon ran in it
 * (`orchestrator_scan_duration_seconds_count` before and after).
 *
 * The queue: 30 processing projects on one private tmux server, with a cycle
 * every second and no full sync in the window (STATE_SYNC_INTERVAL_SEC=3600):
 * 10 panes show Claude Code's permission prompt, 10 a Gemini CLI usage limit,
 * 10 a quiet shell. `BUSY=n` adds n panes that print a line every second (a
 * busy agent), which are captured each cycle their window activity moves.
 * `SYNC_SEC=1` makes every cycle a full sync (completion evidence of every
 * project), to show that its captures and agent detection's are one read.
 *
 * Budget (exit 1 when missed): agent detection adds no tmux call to a steady
 * cycle: the count per cycle equals the scan's own (one `list-panes -a` per
 * server). With BUSY or SYNC_SEC, one bulk `capture-pane` per cycle more, for
 * all the panes at once, whatever their number. Run the same bench against a
 * build without detection (`AGENT_BIN=/path/to/dist/cli/main.js`) to compare.
 *
 *   npm run build && npx tsx bench/tmux-calls.ts [windowSec=30]
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BenchTmux, buildRegistry, registryPath, sleep, Teardown, tempDir, writeRegistry } from './lib/load.js';
import { loadAverage, type Results, runBench } from './lib/results.js';
import { AGENT_BIN, freePort, requireBuild, waitForHttp } from './lib/serve.js';

const windowSec = Number(process.argv[2] ?? 30);
const BUSY = Number(process.env['BUSY'] ?? 0);
const WARM_UP_MS = 8000;
const agentBin = process.env['AGENT_BIN'] ?? AGENT_BIN;

const PROMPT = [
  '╭──────────────────────────────────────────────╮',
  '│ Bash command                                 │',
  '│   rm -rf build/                              │',
  '│ Do you want to proceed?                      │',
  '│ ❯ 1. Yes                                     │',
  '│   2. No, and tell Claude what to do (esc)    │',
  '╰──────────────────────────────────────────────╯',
].join('\n');
const LIMIT = 'You have exhausted your capacity on this model. Your quota will reset after 5h12m.';

async function scanCount(url: string): Promise<number> {
  const body = await (await fetch(`${url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith('orchestrator_scan_duration_seconds_count'));
  return Number(line?.split(' ')[1] ?? Number.NaN);
}

/** execve calls of tmux in the strace log between two epoch times, by tmux subcommand. */
function tmuxCalls(log: string, from: number, to: number): Map<string, number> {
  const calls = new Map<string, number>();
  for (const line of log.split('\n')) {
    const m = /^\d+\s+(\d+\.\d+) execve\("[^"]*\/tmux", \[(.*?)\](?:, |\.\.\.)/.exec(line);
    if (!m || !line.endsWith('= 0')) continue;
    const at = Number(m[1]) * 1000;
    if (at < from || at > to) continue;
    const words = [...(m[2] ?? '').matchAll(/"([^"]*)"/g)].map((w) => w[1] ?? '');
    const sub =
      words.slice(1).find((w, i, all) => !w.startsWith('-') && all[i - 1] !== '-L' && all[i - 1] !== '-S') ?? '?';
    calls.set(sub, (calls.get(sub) ?? 0) + 1);
  }
  return calls;
}

/** The direct children of `pid` (the daemon strace started). */
function tracees(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(' ').filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

async function main(teardown: Teardown, results: Results): Promise<void> {
  if (agentBin === AGENT_BIN) requireBuild();
  console.log(`agent: ${agentBin}`);
  const dir = tempDir(teardown, 'toa-tmux-calls-');
  const tmux = new BenchTmux(teardown, 'calls');
  const sh = (text: string): string[] => ['sh', '-c', 'printf "%s" "$1"; exec sleep 3600', 'sh', text];
  const pids = [
    ...tmux.newSessions('prompt-', 10, sh(PROMPT)),
    ...tmux.newSessions('limit-', 10, sh(LIMIT)),
    ...tmux.newSessions('quiet-', 10, sh('$ ')),
    ...(BUSY > 0
      ? tmux.newSessions('busy-', BUSY, ['sh', '-c', 'i=0; while :; do i=$((i+1)); echo "step $i"; sleep 1; done'])
      : []),
  ];
  const names = [
    ...['prompt-', 'limit-', 'quiet-'].flatMap((p) => Array.from({ length: 10 }, (_, i) => `${p}${i}`)),
    ...Array.from({ length: BUSY }, (_, i) => `busy-${i}`),
  ];
  const registry = registryPath(dir);
  const live = pids.map((pid, i) => ({ session: names[i] as string, pid }));
  writeRegistry(
    registry,
    buildRegistry({
      total: live.length,
      live,
      tmuxSocket: tmux.socket,
      projectRoot: join(dir, 'projects'),
      now: Date.now(),
    }),
  );

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const trace = join(dir, 'execve.log');
  const env = {
    ...process.env,
    AGENT_REGISTRY: registry,
    AGENT_TMUX_SOCKETS: tmux.socket,
    AGENT_LISTEN: `127.0.0.1:${port}`,
    AGENT_SCAN_SCHEDULE: '* * * * * *',
    STATE_SYNC_INTERVAL_SEC: process.env['SYNC_SEC'] ?? '3600',
    LOG_LEVEL: 'warn',
  };
  const child = spawn(
    'strace',
    [
      '-f',
      '-qq',
      '-ttt',
      '-s',
      '48',
      '-e',
      'trace=execve',
      '-e',
      'signal=none',
      '-o',
      trace,
      process.execPath,
      agentBin,
      'serve',
    ],
    {
      cwd: dir,
      env,
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  // strace blocks fatal signals when it runs the command with -o, so the daemon
  // (its child) is the one stopped; strace exits with it. SIGKILL is the fallback.
  teardown.add('stop agent serve', async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    const daemons = tracees(child.pid);
    const signal = (s: NodeJS.Signals): void => {
      for (const pid of daemons) {
        try {
          process.kill(pid, s);
        } catch {
          // gone
        }
      }
    };
    signal('SIGTERM');
    const late = setTimeout(() => {
      child.kill('SIGKILL');
      signal('SIGKILL');
    }, 20_000);
    await exited;
    clearTimeout(late);
  });
  await waitForHttp(`${url}/readyz`, 60_000);
  await sleep(WARM_UP_MS);
  console.log(
    `load ${loadAverage()}; 30 projects (10 prompts, 10 usage limits, 10 quiet)${BUSY > 0 ? ` + ${BUSY} printing every second` : ''}; window ${windowSec} s`,
  );
  const c0 = await scanCount(url);
  const t0 = Date.now();
  await sleep(windowSec * 1000);
  const c1 = await scanCount(url);
  const t1 = Date.now();
  const log = readFileSync(trace, 'utf8');
  const startUp = tmuxCalls(log, 0, t0);
  const calls = tmuxCalls(log, t0, t1);
  const total = [...calls.values()].reduce((a, b) => a + b, 0);
  const cycles = c1 - c0;
  const describe = (m: Map<string, number>): string => [...m].map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  console.log(`start-up (first look at every project, ${c0} cycles): ${describe(startUp)}`);
  console.log(`cycles in the window: ${cycles}`);
  console.log(`tmux execve in the window: ${total} (${describe(calls)})`);
  console.log(`tmux calls per cycle: ${(total / cycles).toFixed(2)}`);
  // Budget, one tmux server: the scan's one list-panes per cycle, plus, in a cycle where some window's
  // activity moved (BUSY) or at a full sync (SYNC_SEC), one bulk capture-pane for all projects at once;
  // nothing else. One more of each may fall at a window edge.
  const listPanes = calls.get('list-panes') ?? 0;
  const captures = calls.get('capture-pane') ?? 0;
  const capturing = BUSY > 0 || process.env['SYNC_SEC'] !== undefined;
  const other = [...calls].filter(([k]) => k !== 'list-panes' && k !== 'capture-pane').reduce((a, [, v]) => a + v, 0);
  results.set('projects', { prompts: 10, limits: 10, quiet: 10, busy: BUSY });
  results.set('windowSec', windowSec);
  results.set('cycles', cycles);
  results.set('startUp', Object.fromEntries(startUp));
  results.set('calls', Object.fromEntries(calls));
  results.set('perCycle', cycles > 0 ? total / cycles : Number.NaN);
  results.set('capturing', capturing);
  if (cycles <= 0) throw new Error('the daemon ran no cycle in the window');
  // One call of each may fall at a window edge.
  results.budget('list-panes beyond one per cycle, in the window', listPanes - cycles, 1, 'calls');
  if (capturing)
    results.budget('capture-pane beyond one bulk read per cycle, in the window', captures - cycles, 1, 'calls');
  else results.budget('capture-pane in steady cycles, in the window', captures, 0, 'calls');
  results.budget('other tmux calls in the window', other, 0, 'calls');
}

void runBench('tmux-calls', main);
