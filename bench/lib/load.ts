/**
 * Load the benches build on this machine, and undo: a private tmux server with
 * live project sessions, a crowd of idle host processes, a temp directory with
 * a generated registry. Everything started is registered with a `Teardown`,
 * which runs on success, on error and on SIGINT/SIGTERM (`runBench` of
 * ./results.ts runs a bench's main that way). `agent serve` itself is started
 * by ./serve.ts.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iso, newProject, type Project, type ProjectState } from '../../src/core/model/project.js';
import { emptyDocument, type RegistryDocument } from '../../src/core/model/registry-document.js';
import { clockTicksPerSecond, parseStat } from '../../src/scan/proc-table.js';
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Undo steps, run newest first, each at most once, whatever failed before. */
export class Teardown {
  private readonly steps: { what: string; run: () => void | Promise<void> }[] = [];
  private done = false;

  constructor() {
    const onSignal = (signal: NodeJS.Signals): void => {
      void this.run().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  }

  add(what: string, run: () => void | Promise<void>): void {
    this.steps.push({ what, run });
  }

  async run(): Promise<void> {
    if (this.done) return;
    this.done = true;
    for (const step of this.steps.reverse()) {
      try {
        await step.run();
      } catch (err) {
        console.error(`cleanup (${step.what}) failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }
}

/** A temp directory removed at teardown. */
export function tempDir(teardown: Teardown, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  teardown.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Field 22 of /proc/<pid>/stat. */
export function startTimeOf(pid: number): number {
  return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8')).startTime;
}

/** Number of PIDs in /proc now. */
export function processCount(): number {
  return readdirSync('/proc').filter((n) => /^\d+$/.test(n)).length;
}

/** A private tmux server (`tmux -L`), killed at teardown. */
export class BenchTmux {
  readonly socket: string;

  constructor(teardown: Teardown, label: string) {
    this.socket = `toa-bench-${label}-${process.pid}`;
    teardown.add(`kill tmux server ${this.socket}`, () => {
      try {
        this.run(['kill-server']);
      } catch {
        // not running
      }
    });
  }

  run(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /**
   * Start `count` detached sessions named `${prefix}${i}`, each running
   * `command`, in batches of tmux commands; returns the pane PID of each.
   */
  newSessions(prefix: string, count: number, command: string[]): number[] {
    const BATCH = 50;
    for (let start = 0; start < count; start += BATCH) {
      const args: string[] = [];
      for (let i = start; i < Math.min(count, start + BATCH); i++) {
        if (args.length > 0) args.push(';');
        args.push('new-session', '-d', '-s', `${prefix}${i}`, '-x', '120', '-y', '30', '--', ...command);
      }
      this.run(args);
    }
    const panes = new Map<string, number>();
    for (const line of this.run(['list-panes', '-a', '-F', '#{session_name} #{pane_pid}']).split('\n')) {
      const [name, pid] = line.split(' ');
      if (name && pid) panes.set(name, Number(pid));
    }
    return Array.from({ length: count }, (_, i) => {
      const pid = panes.get(`${prefix}${i}`);
      if (pid === undefined) throw new Error(`session ${prefix}${i} did not start`);
      return pid;
    });
  }
}

/**
 * `count` idle processes (`sleep`), children of one shell that leads its own
 * process group; the whole group is SIGKILLed at teardown.
 */
export async function idleProcesses(teardown: Teardown, count: number): Promise<void> {
  if (count <= 0) return;
  const script = `i=0; while [ $i -lt ${count} ]; do sleep 3600 & i=$((i+1)); done; wait`;
  const shell = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  shell.unref();
  const pgid = shell.pid;
  if (pgid === undefined) throw new Error('could not start the idle-process shell');
  teardown.add(`kill idle process group ${pgid}`, () => {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const members = readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .filter((n) => {
        try {
          return parseStat(readFileSync(`/proc/${n}/stat`, 'utf8')).pgid === pgid;
        } catch {
          return false;
        }
      }).length;
    if (members >= count + 1) return;
    if (Date.now() > deadline) throw new Error(`only ${members - 1} of ${count} idle processes started`);
    await sleep(100);
  }
}

export interface RegistrySpec {
  /** Projects in the registry. */
  total: number;
  /** Processing projects, each bound to a live session and its pane PID. */
  live: { session: string; pid: number }[];
  tmuxSocket: string | null;
  /** Parent of the per-project directories of live projects (empty, not repositories, unless `repos`). */
  projectRoot: string;
  now: number;
  /** Make each live project's directory a git repository with a commit from before it started, as a work tree is. */
  repos?: boolean;
}

/** `dir` as a git repository with one commit made at `at` (epoch ms). */
function commitRepository(dir: string, at: number): void {
  const date = new Date(at).toISOString();
  const env = { ...process.env, GIT_AUTHOR_DATE: date, GIT_COMMITTER_DATE: date, LC_ALL: 'C' };
  const git = (args: string[]) =>
    execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', ...args], {
      cwd: dir,
      env,
      stdio: 'ignore',
    });
  git(['init', '-q']);
  git(['commit', '-q', '--allow-empty', '-m', 'initial import']);
}

const HOUR = 3_600_000;

/**
 * A registry of `total` projects: the live ones processing (started ten
 * minutes ago, heartbeat a minute ago), the rest terminal (two thirds
 * completed with evidence, one third failed for good), each with the history
 * a real run leaves, and within the retention (none is archived).
 */
export function buildRegistry(spec: RegistrySpec): RegistryDocument {
  const { now } = spec;
  const projects: Project[] = [];
  spec.live.forEach((l, i) => {
    const dir = join(spec.projectRoot, `live-${i}`);
    mkdirSync(dir, { recursive: true });
    const started = now - 10 * 60_000;
    if (spec.repos === true) commitRepository(dir, started - HOUR);
    projects.push(
      newProject({
        id: `live-${i}`,
        name: `live project ${i}`,
        state: 'processing',
        host: null,
        session: l.session,
        tmuxSocket: spec.tmuxSocket,
        pid: l.pid,
        pidStartTime: startTimeOf(l.pid),
        command: ['python3', 'auto_orchestrate.py', '--spec', 'spec.md'],
        cwd: dir,
        projectDir: dir,
        enqueuedAt: iso(started - 60_000),
        startedAt: iso(started),
        heartbeatAt: iso(now - 60_000),
        lastSeenAliveAt: iso(now - 60_000),
        attempts: 1,
        phases: [
          { name: 'plan', done: true },
          { name: 'implementation', done: false },
        ],
        history: [{ at: iso(started), from: 'queued', to: 'processing', reason: 'started', by: 'agent@bench' }],
      }),
    );
  });
  for (let i = projects.length; i < spec.total; i++) {
    const state: ProjectState = i % 3 === 0 ? 'failed' : 'completed';
    const ended = now - ((i % 48) + 1) * HOUR;
    const started = ended - 40 * 60_000;
    projects.push(
      newProject({
        id: `done-${i}`,
        name: `finished project ${i}`,
        state,
        session: `done-${i}-${((i * 2654435761) >>> 0).toString(16)}`,
        tmuxSocket: spec.tmuxSocket,
        pid: 100_000 + i,
        pidStartTime: 1_000_000 + i,
        command: ['python3', 'auto_orchestrate.py', '--spec', 'spec.md'],
        cwd: `/srv/projects/done-${i}`,
        projectDir: `/srv/projects/done-${i}`,
        enqueuedAt: iso(started - 5 * 60_000),
        startedAt: iso(started),
        heartbeatAt: iso(ended - 30_000),
        endedAt: iso(ended),
        lastSeenAliveAt: iso(ended - 15_000),
        attempts: 1,
        retry: state !== 'failed',
        failureReason: state === 'failed' ? 'zombie' : null,
        phases: [
          { name: 'plan', done: true },
          { name: 'implementation', done: state === 'completed' },
        ],
        completion:
          state === 'completed'
            ? {
                decision: 'completed',
                at: iso(ended),
                score: 1,
                evidence: [{ method: 'marker', weight: 1, detail: `COMPLETED exists in /srv/projects/done-${i}` }],
              }
            : null,
        history: [
          { at: iso(started), from: 'queued', to: 'processing', reason: 'started', by: 'agent@bench' },
          {
            at: iso(ended),
            from: 'processing',
            to: state,
            reason: state === 'completed' ? 'completion decided, score 1: marker (1)' : 'zombie: process tree killed',
            by: 'agent@bench',
          },
        ],
      }),
    );
  }
  return { ...emptyDocument(), projects };
}

export function writeRegistry(path: string, doc: RegistryDocument): void {
  writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`, { mode: 0o600 });
}

/**
 * CPU time of a process, in ms: its own (utime + stime) and that of the
 * children it waited for (cutime + cstime: tmux clients, git, sqlite3).
 * Clock ticks, so a resolution of 1000 / CLK_TCK ms (10 ms on Linux).
 */
export function cpuOf(pid: number | 'self'): { ownMs: number; childrenMs: number; totalMs: number } {
  const stat = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  const tick = 1000 / clockTicksPerSecond();
  const ownMs = (stat.cpuTicks ?? Number.NaN) * tick;
  const childrenMs = (stat.childCpuTicks ?? Number.NaN) * tick;
  return { ownMs, childrenMs, totalMs: ownMs + childrenMs };
}

/**
 * Gives this bench and everything it starts (tmux servers, `agent serve`) a
 * private TMUX_TMPDIR, removed at teardown: the user's default tmux server is
 * never touched (an agent without configured sockets scans and hooks it), and
 * the daemon finds no default server, as on a host that does not use it.
 */
export function privateTmuxDir(teardown: Teardown): string {
  const dir = mkdtempSync(join(tmpdir(), 'toa-bench-tmux-'));
  process.env['TMUX_TMPDIR'] = dir;
  teardown.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Registry path inside `dir` (`dir/data/registry.json`), its directory created. */
export function registryPath(dir: string): string {
  mkdirSync(join(dir, 'data'), { recursive: true });
  return join(dir, 'data', 'registry.json');
}
