/**
 * CPU and memory of each tracked project's process tree, via pidusage. Usage
 * is informational (a metric): a failure is reported, never fatal, and never
 * blocks healing.
 */
import pidusage from 'pidusage';
import { indexTree, treeOf } from '../core/process-tree.js';
import type { ProcessTable, ResourceUsage } from '../core/snapshot.js';

/** A project's root process as the registry recorded it. */
export interface TrackedTree {
  project: string;
  pid: number;
  /** When recorded, a root whose start time differs is another process and gets no usage. */
  pidStartTime: number | null;
}

export interface UsageResult {
  usage: Map<string, ResourceUsage>;
  /** One line per project whose usage could not be read. */
  errors: string[];
}

/**
 * Sum usage over each tracked tree (root, descendants, and the group it leads).
 * CPU is pidusage's: the share of one core since the previous call for that
 * PID (kept up to a minute), so the first scan of a process reads about 0.
 */
export async function collectUsage(table: ProcessTable, trackedTrees: readonly TrackedTree[]): Promise<UsageResult> {
  const usage = new Map<string, ResourceUsage>();
  const errors: string[] = [];
  const index = indexTree(table);
  const trees: { tracked: TrackedTree; pids: number[] }[] = [];
  for (const tracked of trackedTrees) {
    const root = table.byPid.get(tracked.pid);
    if (!root) continue;
    // PID reuse: the number now names another process, whose usage is not the project's.
    if (tracked.pidStartTime !== null && root.startTime !== tracked.pidStartTime) continue;
    trees.push({ tracked, pids: treeOf(table, tracked.pid, index) });
  }
  if (trees.length === 0) return { usage, errors };
  let stats: Awaited<ReturnType<typeof pidusage>>;
  try {
    // One call for every tree: pidusage reads /proc/uptime once per call (into a 64 KiB buffer), and
    // an array tolerates members that exit meanwhile (missing entries).
    stats = await pidusage([...new Set(trees.flatMap((t) => t.pids))]);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // Every tree exited between the table read and now: nothing to report, nothing wrong.
    if (code === 'ENOENT' || code === 'ESRCH') return { usage, errors };
    const message = err instanceof Error ? err.message : String(err);
    for (const { tracked } of trees) errors.push(`usage of project ${tracked.project} (pid ${tracked.pid}): ${message}`);
    return { usage, errors };
  }
  for (const { tracked, pids } of trees) {
    let cpuRatio = 0;
    let rssBytes = 0;
    let seen = 0;
    for (const pid of pids) {
      const s = stats[String(pid)];
      if (!s) continue;
      seen += 1;
      cpuRatio += s.cpu / 100;
      rssBytes += s.memory;
    }
    if (seen > 0) usage.set(tracked.project, { cpuRatio, rssBytes });
  }
  return { usage, errors };
}
