/**
 * Tracked PIDs exiting: a cheap poll of the PIDs of active projects (Node has
 * no pidfd to wait on a process it did not spawn). A PID that vanishes, turns
 * defunct, or changes start time triggers a cycle.
 *
 * Most probes only ask the kernel whether each PID exists (signal 0: one
 * system call, nothing to read or parse); every STAT_EVERY-th probe reads
 * /proc/<pid>/stat as well, for what signal 0 cannot tell: a defunct process
 * its parent has not reaped yet, or a PID reused by another process. Reading
 * every stat at every probe cost most of the idle daemon's CPU.
 */
import { DEFAULT_PROC_ROOT, readStat } from '../scan/proc-table.js';
import type { EventSource, Trigger } from './event-source.js';

/**
 * Every this many probes, each tracked PID's stat is read too (every 10 s at the default 500 ms; a scheduled cycle
 * comes every 15 s anyway).
 */
export const STAT_EVERY = 20;

/** True while `pid` exists (a process of another user answers EPERM, and exists). */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export interface TrackedPid {
  project: string;
  pid: number;
  pidStartTime: number | null;
}

export class PidProbe implements EventSource {
  readonly name = 'pid_probe';
  private tracked: TrackedPid[] = [];
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private error: string | null = null;
  private probes = 0;

  constructor(
    private readonly trigger: Trigger,
    private readonly intervalMs = 500,
    private readonly procRoot?: string,
  ) {}

  /**
   * Replace the PIDs to watch (called after each cycle with the active
   * projects). A PID without a start time (a launched command that exited
   * before it could be read) is watched for existence alone: its exit is
   * what the next cycle must decide.
   */
  track(pids: readonly TrackedPid[]): void {
    this.tracked = [...pids];
  }

  private async probe(): Promise<void> {
    if (this.busy || this.tracked.length === 0) return;
    this.busy = true;
    try {
      const gone: string[] = [];
      this.probes += 1;
      // A probe of another procfs root (a fixture) cannot ask this kernel: it always reads.
      const full =
        this.probes % STAT_EVERY === 0 || (this.procRoot !== undefined && this.procRoot !== DEFAULT_PROC_ROOT);
      for (const t of this.tracked) {
        if (!full) {
          if (!exists(t.pid)) gone.push(`${t.project} (pid ${t.pid})`);
          continue;
        }
        const stat = await readStat(t.pid, this.procRoot);
        const changed = t.pidStartTime !== null && stat !== null && stat.startTime !== t.pidStartTime;
        if (stat === null || changed || stat.state === 'Z' || stat.state === 'X')
          gone.push(`${t.project} (pid ${t.pid})`);
      }
      this.error = null;
      if (gone.length > 0) {
        // Stop reporting the same exits until the next cycle re-tracks.
        const goneSet = new Set(gone);
        this.tracked = this.tracked.filter((t) => !goneSet.has(`${t.project} (pid ${t.pid})`));
        this.trigger(`process exited: ${gone.join(', ')}`);
      }
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    } finally {
      this.busy = false;
    }
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => void this.probe(), this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  health(): { up: boolean; detail: string } {
    if (!this.timer) return { up: false, detail: 'not started' };
    if (this.error) return { up: false, detail: this.error };
    return { up: true, detail: `probing ${this.tracked.length} pid(s) every ${this.intervalMs} ms` };
  }
}
