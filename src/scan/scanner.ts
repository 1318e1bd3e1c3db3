/**
 * One scan: the process table, every tmux server and the usage of tracked
 * trees, each a ScanSource timed and reported on its own, combined into a
 * plain-data Snapshot. A failing source never rejects the scan: it is a
 * SourceReport with ok: false, which the guard reads to hold back kills.
 */
import type {
  ProcessTable,
  ResourceUsage,
  ScanSourceName,
  Snapshot,
  SourceReport,
  TmuxServerSnapshot,
} from '../core/model/snapshot.js';
import { DEFAULT_PROC_ROOT, readOwners, readProcessTable, type RecordedPid } from './proc-table.js';
import { scanTmuxServer } from './tmux-sessions.js';
import { collectUsage, type TrackedTree } from './usage.js';

/** What a source read and, when part of it failed, why. */
export interface Collected<T> {
  value: T;
  error: string | null;
}

/** One collector: a name for its report and one method, which rejects only when nothing could be read. */
export interface ScanSource<T> {
  name: ScanSourceName;
  collect(): Promise<Collected<T>>;
}

/** What a source produced, with its report; `value` is undefined when it rejected. */
export interface SourceResult<T> {
  value: T | undefined;
  report: SourceReport;
}

/** Run a source, timing it; a rejection or a partial failure becomes an ok: false report. */
export async function runSource<T>(source: ScanSource<T>, clock: () => number = Date.now): Promise<SourceResult<T>> {
  const started = clock();
  try {
    const { value, error } = await source.collect();
    return { value, report: { source: source.name, ok: error === null, durationMs: clock() - started, error } };
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { value: undefined, report: { source: source.name, ok: false, durationMs: clock() - started, error } };
  }
}

export interface ScanOptions {
  /** procfs root; default `/proc`. */
  procRoot?: string;
  /** tmux servers to read (`null` = default server); default `[null]`. */
  sockets?: readonly (string | null)[];
  /** Timeout of one tmux command (config `tmuxTimeoutMs`); default 5000. */
  tmuxTimeoutMs?: number;
  /** The tmux binary; found on PATH by default. */
  tmuxPath?: string;
  /** Roots whose tree usage is measured, keyed by project id; default none. */
  trackedTrees?: readonly TrackedTree[];
  /** Recorded processes whose owner (uid) is read when they still run: what a cycle may signal. Default none. */
  owners?: readonly RecordedPid[];
  /** Clock for takenAt and durations; default Date.now. */
  clock?: () => number;
}

/** The process table as a source, with the owners of `owners` where they still run. */
export function processSource(procRoot: string, owners: readonly RecordedPid[] = []): ScanSource<ProcessTable> {
  return {
    name: 'processes',
    async collect() {
      const table = await readProcessTable(procRoot, { fields: 'stat' });
      await readOwners(table, owners, procRoot);
      return { value: table, error: null };
    },
  };
}

/** All tmux servers as one source; it is not ok when any server could not be read, and names each. */
export function tmuxSource(
  sockets: readonly (string | null)[],
  timeoutMs: number,
  tmuxPath?: string,
): ScanSource<TmuxServerSnapshot[]> {
  const options = tmuxPath === undefined ? { timeoutMs } : { timeoutMs, tmuxPath };
  return {
    name: 'tmux',
    async collect() {
      const servers = await Promise.all(sockets.map((s) => scanTmuxServer(s, options)));
      const failed = servers.filter((s) => !s.ok).map((s) => s.error);
      return { value: servers, error: failed.length > 0 ? failed.join('; ') : null };
    },
  };
}

/** Usage of tracked trees as a source, from the process table just read (nothing more to read, nothing to fail). */
export function usageSource(
  table: ProcessTable,
  trackedTrees: readonly TrackedTree[],
  clock: () => number,
): ScanSource<Map<string, ResourceUsage>> {
  return {
    name: 'usage',
    async collect() {
      return { value: collectUsage(table, trackedTrees, clock()), error: null };
    },
  };
}

/** Build a Snapshot. Never rejects: each source's failure is in `sources`. */
export async function scan(options: ScanOptions = {}): Promise<Snapshot> {
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const sockets = options.sockets ?? [null];
  const tmuxTimeoutMs = options.tmuxTimeoutMs ?? 5000;
  const trackedTrees = options.trackedTrees ?? [];
  const clock = options.clock ?? Date.now;

  const [processes, tmux] = await Promise.all([
    runSource(processSource(procRoot, options.owners), clock),
    runSource(tmuxSource(sockets, tmuxTimeoutMs, options.tmuxPath), clock),
  ]);
  const table: ProcessTable = processes.value ?? { byPid: new Map() };

  let usage: SourceResult<Map<string, ResourceUsage>>;
  if (processes.value === undefined) {
    // Without a process table there are no trees to measure; say so rather than report zero.
    usage = {
      value: undefined,
      report: { source: 'usage', ok: false, durationMs: 0, error: 'process table unavailable' },
    };
  } else {
    usage = await runSource(usageSource(table, trackedTrees, clock), clock);
  }

  return {
    takenAt: clock(),
    processes: table,
    // scanTmuxServer never rejects, so a missing value is a bug worth surfacing per server.
    tmux: tmux.value ?? sockets.map((socket) => ({ socket, ok: false, error: tmux.report.error, sessions: new Map() })),
    usage: usage.value ?? new Map<string, ResourceUsage>(),
    sources: [processes.report, tmux.report, usage.report],
  };
}
