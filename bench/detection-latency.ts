/**
 * Detection latency of `agent serve` with polling set to once an hour: 50 tmux
 * session kills (the project's process survives → zombie) and 50 process exits
 * (a tracked PID dies → phantom, grace 0). Prints p50/p99 from the kill to the
 * transition recorded in the registry. Target: p99 ≤ 1 s.
 *
 *   npm run build && npx tsx bench/detection-latency.ts [count]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newProject, type Project } from '../src/core/project.js';
import { emptyDocument, type RegistryDocument } from '../src/core/registry-document.js';
import { parseStat } from '../src/scan/proc-table.js';

const count = Number(process.argv[2] ?? 50);
const AGENT = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const HUP_IMMUNE = "process.on('SIGHUP', () => {}); setInterval(() => {}, 1000);";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const socket = `toa-bench-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), 'toa-latency-'));
const registry = join(dir, 'data', 'registry.json');
mkdirSync(join(dir, 'data'));

function tmux(args: string[]): string {
  return execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
}

function startTime(pid: number): number {
  return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).startTime;
}

function read(): RegistryDocument {
  return JSON.parse(readFileSync(registry, 'utf8')) as RegistryDocument;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function waitFor<T>(fn: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(5);
  }
}

async function main(): Promise<void> {
  const now = Date.now();
  const base = { state: 'processing' as const, attempts: 1, startedAt: new Date(now).toISOString(), lastSeenAliveAt: new Date(now).toISOString(), heartbeatAt: new Date(now).toISOString(), enqueuedAt: new Date(now - 1000).toISOString(), tmuxSocket: socket };
  const projects: Project[] = [];
  tmux(['new-session', '-d', '-s', 'keep', 'sleep', '3600']);
  const sessionPids: number[] = [];
  for (let i = 0; i < count; i++) {
    tmux(['new-session', '-d', '-s', `s-${i}`, '--', process.execPath, '-e', HUP_IMMUNE]);
    const pid = Number(tmux(['list-panes', '-t', `=s-${i}:`, '-F', '#{pane_pid}']).trim());
    sessionPids.push(pid);
    projects.push(newProject({ ...base, id: `s${i}`, session: `s-${i}`, pid, pidStartTime: startTime(pid) }));
  }
  const exitPids: number[] = [];
  for (let i = 0; i < count; i++) {
    const child = spawn('sleep', ['3600'], { detached: true, stdio: 'ignore' });
    child.unref();
    const pid = child.pid as number;
    await waitFor(() => (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep' ? true : undefined), 5000);
    exitPids.push(pid);
    projects.push(newProject({ ...base, id: `e${i}`, session: null, pid, pidStartTime: startTime(pid) }));
  }
  writeFileSync(registry, JSON.stringify({ ...emptyDocument(), projects }), { mode: 0o600 });

  const agent = spawn(process.execPath, [AGENT, 'serve'], {
    cwd: dir,
    env: { ...process.env, AGENT_REGISTRY: registry, AGENT_LISTEN: '127.0.0.1:0', AGENT_SCAN_SCHEDULE: '0 0 * * * *', AGENT_TMUX_SOCKETS: socket, PHANTOM_GRACE_PERIOD_SEC: '0', KILL_GRACE_SEC: '1', LOG_LEVEL: 'warn', AGENT_MAX_KILLS_PER_CYCLE: '1000' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  agent.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitFor(() => (/status page/.test(stderr) ? true : undefined), 15_000);
    await sleep(1500); // first cycle done, hooks installed
    const historyAt = (id: string, to: string): number | undefined => {
      const p = read().projects.find((x) => x.id === id);
      const h = p?.history.find((e) => e.to === to);
      return h ? Date.parse(h.at) : undefined;
    };
    const sessionLatency: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = Date.now();
      tmux(['kill-session', '-t', `=s-${i}`]);
      const at = await waitFor(() => historyAt(`s${i}`, 'zombie'), 10_000);
      sessionLatency.push(at - t0);
      await waitFor(() => (read().projects.find((x) => x.id === `s${i}`)?.state === 'failed' ? true : undefined), 10_000);
    }
    const exitLatency: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = Date.now();
      process.kill(exitPids[i] as number, 'SIGKILL');
      const at = await waitFor(() => historyAt(`e${i}`, 'failed'), 10_000);
      exitLatency.push(at - t0);
    }
    const line = (name: string, v: number[]) => `${name.padEnd(16)} n=${v.length}  p50=${percentile(v, 50)} ms  p99=${percentile(v, 99)} ms  max=${Math.max(...v)} ms`;
    console.log('detection latency, polling once an hour (kill -> transition recorded)');
    console.log(line('session killed', sessionLatency));
    console.log(line('process exited', exitLatency));
    const all = [...sessionLatency, ...exitLatency];
    console.log(line('all', all));
    console.log(`target p99 <= 1000 ms: ${percentile(all, 99) <= 1000 ? 'met' : 'NOT met'}`);
  } finally {
    agent.kill('SIGTERM');
    await new Promise((r) => agent.once('exit', r));
    try {
      tmux(['kill-server']);
    } catch {
      // gone
    }
    for (const pid of [...sessionPids, ...exitPids]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
