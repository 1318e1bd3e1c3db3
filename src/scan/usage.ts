/**
 * CPU and memory of each tracked project's process tree, from the process
 * table the scan has just read: /proc/<pid>/stat already holds each
 * process's CPU time (utime + stime) and resident size, so usage costs no
 * read of its own (pidusage read every stat again, through the thread pool:
 * 11.5 ms of CPU per cycle for 100 trees). Usage is informational (a metric):
 * it never blocks healing.
 */
import { indexTree, treeOf } from '../core/rules/process-tree.js';
import type { ProcessTable, ResourceUsage } from '../core/model/snapshot.js';
import { clockTicksPerSecond } from './proc-table.js';

/** A project's root process as the registry recorded it. */
export interface TrackedTree {
  project: string;
  pid: number;
  /** When recorded, a root whose start time differs is another process and gets no usage. */
  pidStartTime: number | null;
}

/** How long a process's last CPU sample is kept without being seen again. */
const SAMPLE_TTL_MS = 60_000;

interface Sample {
  ticks: number;
  at: number;
}

/**
 * CPU needs two readings: the sampler keeps each measured process's last CPU
 * time (by PID and start time, so a reused PID starts afresh) between scans.
 */
export class UsageSampler {
  private readonly samples = new Map<string, Sample>();

  /**
   * The share of one core `ticks` used since this process's previous
   * reading; 0 on its first reading. Remembers this one.
   */
  cpuSince(pid: number, startTime: number | null, ticks: number, now: number): number {
    const key = `${pid}:${startTime ?? '?'}`;
    const previous = this.samples.get(key);
    this.samples.set(key, { ticks, at: now });
    if (!previous || now <= previous.at || ticks < previous.ticks) return 0;
    return (ticks - previous.ticks) / clockTicksPerSecond() / ((now - previous.at) / 1000);
  }

  /** Forget processes not measured for a minute (they exited, or their project ended). */
  prune(now: number): void {
    for (const [key, s] of this.samples) if (now - s.at > SAMPLE_TTL_MS) this.samples.delete(key);
  }

  get size(): number {
    return this.samples.size;
  }
}

/** The sampler of this process's scans. */
export const defaultSampler = new UsageSampler();

/**
 * Sum usage over each tracked tree (root, descendants, and the group it leads)
 * as `table` saw it at `now`. A tree whose processes carry no usage fields
 * (the ps-list fallback) gets none.
 */
export function collectUsage(
  table: ProcessTable,
  trackedTrees: readonly TrackedTree[],
  now: number = Date.now(),
  sampler: UsageSampler = defaultSampler,
): Map<string, ResourceUsage> {
  const usage = new Map<string, ResourceUsage>();
  const index = indexTree(table);
  for (const tracked of trackedTrees) {
    const root = table.byPid.get(tracked.pid);
    if (!root) continue;
    // PID reuse: the number now names another process, whose usage is not the project's.
    if (tracked.pidStartTime !== null && root.startTime !== tracked.pidStartTime) continue;
    let cpuRatio = 0;
    let rssBytes = 0;
    let seen = 0;
    for (const pid of treeOf(table, tracked.pid, index)) {
      const p = table.byPid.get(pid);
      if (p?.cpuTicks === undefined || p.rssBytes === undefined) continue;
      seen += 1;
      cpuRatio += sampler.cpuSince(pid, p.startTime, p.cpuTicks, now);
      rssBytes += p.rssBytes;
    }
    if (seen > 0) usage.set(tracked.project, { cpuRatio, rssBytes });
  }
  sampler.prune(now);
  return usage;
}
