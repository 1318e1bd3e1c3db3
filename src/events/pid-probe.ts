/**
 * Tracked PIDs exiting: a cheap poll of /proc/<pid>/stat for the PIDs of
 * active projects (Node has no pidfd to wait on a process it did not spawn).
 * A PID that vanishes, turns defunct, or changes start time triggers a cycle.
 */
import { readStat } from '../scan/proc-table.js';
import type { EventSource, Trigger } from './event-source.js';

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

  constructor(
    private readonly trigger: Trigger,
    private readonly intervalMs = 250,
    private readonly procRoot?: string,
  ) {}

  /** Replace the PIDs to watch (called after each cycle with the active projects). */
  track(pids: readonly TrackedPid[]): void {
    this.tracked = pids.filter((p) => p.pidStartTime !== null);
  }

  private async probe(): Promise<void> {
    if (this.busy || this.tracked.length === 0) return;
    this.busy = true;
    try {
      const gone: string[] = [];
      for (const t of this.tracked) {
        const stat = await readStat(t.pid, this.procRoot);
        if (stat === null || stat.startTime !== t.pidStartTime || stat.state === 'Z' || stat.state === 'X') gone.push(`${t.project} (pid ${t.pid})`);
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
