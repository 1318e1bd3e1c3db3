/**
 * The demo's private world: a temporary directory (registry, project
 * directories), a private tmux server (`tmux -L toa-demo-<pid>`), and every
 * process started in it, tracked with its start time so the cleanup removes
 * all of it and never hits a reused PID.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { mkdir, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTree } from '../heal/kill-tree.js';
import { readStat } from '../scan/proc-table.js';
import { runTmux, type RunTmuxOptions } from '../scan/tmux-command.js';

/** A process started in the demo, by the demo or by the agent. */
export interface TrackedProcess {
  pid: number;
  /** Field 22 of /proc/<pid>/stat when it was tracked; null when it was already gone. */
  startTime: number | null;
  what: string;
}

export interface CleanupReport {
  tmuxServer: 'killed' | 'not running';
  /** Processes that were still running and were killed. */
  killed: TrackedProcess[];
  /** Processes that could not be killed (should be empty). */
  survivors: TrackedProcess[];
  dirRemoved: boolean;
}

/** True while `pid` runs with `startTime` (a defunct process runs nothing). */
export async function isRunning(pid: number, startTime: number | null): Promise<boolean> {
  const stat = await readStat(pid);
  if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === null || stat.startTime === startTime;
}

export class DemoWorld {
  readonly dir: string;
  readonly socket: string;
  readonly registry: string;
  readonly tmux: RunTmuxOptions = { timeoutMs: 5000 };
  private readonly tracked = new Map<number, TrackedProcess>();
  private cleaned: CleanupReport | null = null;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'toa-demo-'));
    this.socket = `toa-demo-${process.pid}`;
    this.registry = join(this.dir, 'registry.json');
  }

  /** A project directory inside the demo directory, created. */
  async projectDir(id: string): Promise<string> {
    const dir = join(this.dir, 'projects', id);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Run tmux on the private server. */
  tmuxRun(args: readonly string[]): Promise<string> {
    return runTmux(this.socket, args, this.tmux);
  }

  async track(pid: number, what: string): Promise<TrackedProcess> {
    const known = this.tracked.get(pid);
    if (known) return known;
    const entry = { pid, startTime: (await readStat(pid))?.startTime ?? null, what };
    this.tracked.set(pid, entry);
    return entry;
  }

  /** Record a process with a known start time (one the agent launched and recorded). */
  trackRecorded(pid: number, startTime: number | null, what: string): void {
    if (!this.tracked.has(pid)) this.tracked.set(pid, { pid, startTime, what });
  }

  processes(): TrackedProcess[] {
    return [...this.tracked.values()];
  }

  /**
   * Remove everything: the tmux server (its panes get SIGHUP), then every
   * tracked process still running with its recorded start time and any
   * process still working in the demo directory (their whole trees), then the
   * socket file and the directory. Safe to call twice.
   */
  async cleanup(): Promise<CleanupReport> {
    if (this.cleaned) return this.cleaned;
    let tmuxServer: CleanupReport['tmuxServer'] = 'not running';
    try {
      await this.tmuxRun(['kill-server']);
      tmuxServer = 'killed';
    } catch {
      // no server: nothing to kill
    }
    for (const p of await this.processesInDir()) this.trackRecorded(p.pid, p.startTime, p.what);
    const killed: TrackedProcess[] = [];
    const survivors: TrackedProcess[] = [];
    for (const p of this.tracked.values()) {
      if (p.startTime === null || !(await isRunning(p.pid, p.startTime))) continue;
      const result = await killTree({
        pid: p.pid,
        pidStartTime: p.startTime,
        graceMs: 500,
        allowForeignUsers: false,
      }).catch(() => null);
      if (await isRunning(p.pid, p.startTime)) survivors.push(p);
      else if (result?.outcome !== 'skipped') killed.push(p);
    }
    const uid = process.getuid?.() ?? 0;
    await rm(join(process.env['TMUX_TMPDIR'] ?? '/tmp', `tmux-${uid}`, this.socket), { force: true }).catch(
      () => undefined,
    );
    let dirRemoved = true;
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      dirRemoved = false;
    }
    this.cleaned = { tmuxServer, killed, survivors, dirRemoved };
    return this.cleaned;
  }

  /** Processes whose working directory is inside the demo directory (anything the demo left running). */
  private async processesInDir(): Promise<TrackedProcess[]> {
    const out: TrackedProcess[] = [];
    let entries: string[];
    try {
      entries = await readdir('/proc');
    } catch {
      return out;
    }
    for (const name of entries) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      if (pid === process.pid) continue;
      try {
        const cwd = await readlink(`/proc/${name}/cwd`);
        if (cwd === this.dir || cwd.startsWith(`${this.dir}/`)) {
          out.push({ pid, startTime: (await readStat(pid))?.startTime ?? null, what: `process working in ${cwd}` });
        }
      } catch {
        // gone, or another user's process
      }
    }
    return out;
  }
}
