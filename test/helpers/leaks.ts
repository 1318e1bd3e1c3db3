/**
 * Every test file leaves nothing behind: a root hook (registered through
 * .mocharc.json `require`) checks, after the last hook of each file, that
 * - the mocha process holds no more ref'd handles, requests or timers than it
 *   did before the first file (`process.getActiveResourcesInfo()`): a timer,
 *   socket, server, child or watcher left open would keep the run from ending
 *   on its own;
 * - no process of this run still runs: every process started by the run, how
 *   deep down or detached, carries `TOA_TEST_RUN=<mocha pid>` in its
 *   environment, so a leftover sleeper, daemon or pane process is found even
 *   when its parent is gone;
 * - no tmux server of this run still runs: the run gets its own TMUX_TMPDIR,
 *   so every server a test starts (also a "default" server: a test never
 *   reaches the user's) has its socket there.
 * A leak fails the file's "after all" hook, naming what leaked; the leftover
 * processes and servers are then killed and the open handles taken as the new
 * baseline, so the next file is judged on its own.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, Suite } from 'mocha';

/** The environment variable that marks every process of this run. */
export const RUN_MARK = 'TOA_TEST_RUN';
const mark = `${RUN_MARK}=${process.pid}`;
process.env[RUN_MARK] = String(process.pid);

// Sticky and writable by all, like /tmp: a test may run tmux as `nobody`, whose socket directory goes here too.
const tmuxDir = mkdtempSync(join(tmpdir(), 'toa-tmux-'));
chmodSync(tmuxDir, 0o1777);
process.env['TMUX_TMPDIR'] = tmuxDir;

/** How long a leftover may take to go away after the file's last hook (a killed child being reaped, a socket closing). */
const SETTLE_MS = 5000;

// Timers carry no description of their own: remember those made through the global functions, to name a leaked one.
interface TimerInternals {
  _onTimeout: unknown;
  _idleTimeout: number;
  _repeat: number | null;
  _destroyed: boolean;
}
const timers = new Set<NodeJS.Timeout>();
for (const name of ['setTimeout', 'setInterval'] as const) {
  const original = globalThis[name] as (...args: unknown[]) => NodeJS.Timeout;
  const tracked = function (this: unknown, ...args: unknown[]): NodeJS.Timeout {
    const timer = original.apply(this, args);
    timers.add(timer);
    return timer;
  };
  // Keep util.promisify.custom and friends.
  (globalThis as Record<string, unknown>)[name] = Object.assign(tracked, original);
}

function liveTimers(): NodeJS.Timeout[] {
  const live: NodeJS.Timeout[] = [];
  for (const t of timers) {
    if ((t as unknown as TimerInternals)._destroyed) timers.delete(t);
    else if (t.hasRef()) live.push(t);
  }
  return live;
}

function describeTimer(t: NodeJS.Timeout): string {
  const i = t as unknown as TimerInternals;
  const fn = String(i._onTimeout).replace(/\s+/g, ' ').slice(0, 120);
  return `${i._repeat === null ? 'setTimeout' : 'setInterval'}(${fn}, ${i._idleTimeout})`;
}

/** Count of each resource type (Timeout, TCPSocketWrap, ProcessWrap, FSEventWrap...) keeping the loop alive. */
function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

function excess(now: Map<string, number>, base: Map<string, number>): string[] {
  const out: string[] = [];
  for (const [type, n] of now) if (n > (base.get(type) ?? 0)) out.push(`${type} ×${n - (base.get(type) ?? 0)}`);
  return out;
}

interface HandleLike {
  constructor: { name: string };
  pid?: number;
  spawnargs?: string[];
  localAddress?: string;
  localPort?: number;
  remoteAddress?: string;
  remotePort?: number;
  address?: () => unknown;
  _type?: string;
}

function describeHandle(h: HandleLike): string {
  const kind = h.constructor.name;
  if (kind === 'ChildProcess') return `child process ${h.pid}: ${(h.spawnargs ?? []).join(' ').slice(0, 160)}`;
  if (kind === 'Server' && typeof h.address === 'function') return `server listening on ${JSON.stringify(h.address())}`;
  if (kind === 'Socket' && h.remotePort !== undefined)
    return `socket ${h.localAddress}:${h.localPort} -> ${h.remoteAddress}:${h.remotePort}`;
  if (kind === 'Socket') return "pipe (a child process's stdio, or a unix socket)";
  return kind;
}

/** What keeps the loop alive beyond `base`, each named as well as it can be. */
function openResources(base: Baseline): string[] {
  const extra = excess(resourceCounts(), base.resources);
  if (extra.length === 0) return [];
  const handles = (process as unknown as { _getActiveHandles(): HandleLike[] })
    ._getActiveHandles()
    .filter((h) => !base.handles.has(h))
    .map(describeHandle);
  const newTimers = liveTimers()
    .filter((t) => !base.timers.has(t))
    .map(describeTimer);
  return [`${extra.join(', ')}`, ...handles, ...newTimers];
}

interface Leftover {
  pid: number;
  what: string;
}

/** tsx's esbuild service: started by the loader on the first file to compile, kept for the run (unref'd). */
const LOADER_SERVICE = /\/esbuild --service=/;

/** Processes (not defunct) whose environment carries this run's mark, mocha itself and its loader aside. */
function runProcesses(): Leftover[] {
  const out: Leftover[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
      if (!environ.split('\0').includes(mark)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (/\) [ZX] /.test(stat)) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      if (!LOADER_SERVICE.test(cmdline)) out.push({ pid: Number(entry), what: cmdline.slice(0, 160) });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return out;
}

/** True when a server accepts connections on the unix socket at `path`. */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Sockets of tmux servers of this run that still answer; dead socket files are removed on the way. */
async function runTmuxServers(): Promise<string[]> {
  const live: string[] = [];
  for (const dir of readdirSync(tmuxDir)) {
    const base = join(tmuxDir, dir);
    let names: string[];
    try {
      names = readdirSync(base);
    } catch {
      continue;
    }
    for (const name of names) {
      const path = join(base, name);
      if (await listening(path)) live.push(path);
      else rmSync(path, { force: true });
    }
  }
  return live;
}

function tmuxSessions(path: string): string {
  try {
    return execFileSync('tmux', ['-S', path, 'list-sessions', '-F', '#{session_name}'], {
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .split('\n')
      .filter(Boolean)
      .join(', ');
  } catch {
    return 'no session';
  }
}

interface Baseline {
  resources: Map<string, number>;
  handles: Set<unknown>;
  timers: Set<NodeJS.Timeout>;
}

function baselineNow(): Baseline {
  return {
    resources: resourceCounts(),
    handles: new Set((process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles()),
    timers: new Set(liveTimers()),
  };
}

let baseline: Baseline | null = null;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** Wait for the run to be back at the baseline; what is left after SETTLE_MS is returned, and then cleaned up. */
async function leftovers(base: Baseline): Promise<string[]> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const resources = openResources(base);
    const processes = runProcesses();
    const servers = await runTmuxServers();
    if (resources.length === 0 && processes.length === 0 && servers.length === 0) return [];
    if (Date.now() < deadline) {
      await sleep(100);
      continue;
    }
    const found: string[] = [];
    if (resources.length > 0) found.push(`open in the mocha process: ${resources.join('; ')}`);
    for (const s of servers) found.push(`tmux server ${s} (sessions: ${tmuxSessions(s)})`);
    for (const p of processes) found.push(`process ${p.pid}: ${p.what}`);
    for (const s of servers) {
      try {
        execFileSync('tmux', ['-S', s, 'kill-server'], { stdio: 'ignore', timeout: 5000 });
      } catch {
        // gone meanwhile
      }
      rmSync(s, { force: true });
    }
    for (const p of processes) {
      try {
        process.kill(p.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    return found;
  }
}

function leakCheck(file: string): (this: Context) => Promise<void> {
  return async function (this: Context) {
    this.timeout(SETTLE_MS + 30_000);
    const base = baseline ?? baselineNow();
    const found = await leftovers(base);
    // Judge the next file on its own: what leaked here is reported once.
    baseline = baselineNow();
    if (found.length > 0) throw new Error(`${file} left behind:\n  - ${found.join('\n  - ')}`);
  };
}

export const mochaHooks = {
  // Async and with a timeout of its own, like the check: mocha's timer of the running hook is then in both counts.
  async beforeAll(this: Context): Promise<void> {
    this.timeout(SETTLE_MS + 30_000);
    await Promise.resolve();
    baseline = baselineNow();
    const root = this.test?.parent;
    if (!root) return;
    // After the last top-level suite of each file, once all of that file's own hooks have run.
    const lastOfFile = new Map<string, Suite>();
    for (const suite of root.suites) if (suite.file) lastOfFile.set(suite.file, suite);
    for (const [file, suite] of lastOfFile) {
      const relative = file.startsWith(process.cwd()) ? file.slice(process.cwd().length + 1) : file;
      suite.afterAll(`leaves nothing behind (${relative})`, leakCheck(relative));
    }
  },
};

// Not in a root afterAll: with --parallel that runs after each file, and a worker runs several files.
process.on('exit', () => {
  if (existsSync(tmuxDir)) rmSync(tmuxDir, { recursive: true, force: true });
});
