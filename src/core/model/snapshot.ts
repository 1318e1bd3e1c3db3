/**
 * What the scanners saw, as plain data (docs/architecture.md#one-cycle). Produced by src/scan/,
 * consumed by the pure reconcile step. Unknown values are undefined/null,
 * never 0.
 */

/** One row of the process table, read from /proc/<pid>/stat and friends. */
export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** null when unknown (the ps-list fallback without /proc does not give it). */
  pgid: number | null;
  /** The state letter from /proc/<pid>/stat: R, S, D, Z, T, t, X, I...; null when unknown (ps-list fallback). */
  state: string | null;
  /**
   * Field 22 of /proc/<pid>/stat: start time in clock ticks since boot. null
   * when unknown (ps-list fallback): a null never equals a recorded start time,
   * so such a process is never taken for the recorded one (fails closed).
   */
  startTime: number | null;
  uid: number | null;
  comm: string;
  cmdline: string[];
  /**
   * Fields 14 + 15 of /proc/<pid>/stat: CPU time used so far (user + system),
   * in clock ticks; absent when unknown (ps-list fallback, fixtures).
   */
  cpuTicks?: number;
  /** Field 24 of /proc/<pid>/stat times the page size: resident memory in bytes; absent when unknown. */
  rssBytes?: number;
}

export interface ProcessTable {
  /** Every process seen, keyed by PID. */
  byPid: Map<number, ProcessInfo>;
}

export interface TmuxPane {
  session: string;
  paneId: string;
  panePid: number;
  paneDead: boolean;
  /**
   * How a dead pane's process ended (a window with remain-on-exit keeps the
   * pane): #{pane_dead_status}, its exit status, and #{pane_dead_signal}, the
   * signal that killed it. null while the pane lives, and when tmux does not
   * say (pane_dead_signal needs tmux 3.3).
   */
  deadStatus: number | null;
  deadSignal: number | null;
  /** #{window_activity}: moves on pane output even when detached. Epoch ms. */
  windowActivityAt: number | null;
  /** #{session_created}, epoch ms. */
  sessionCreatedAt: number | null;
}

export interface TmuxServerSnapshot {
  /** null for the default server, else a socket name or path (the convention of docs/design.md#the-document). */
  socket: string | null;
  /** false when the server could not be read (not the same as "no server running"). */
  ok: boolean;
  error: string | null;
  /** Panes grouped by exact session name. Empty when no server is running. */
  sessions: Map<string, TmuxPane[]>;
}

export interface ResourceUsage {
  /** CPU usage as a ratio of one core (1.0 = one full core). */
  cpuRatio: number;
  rssBytes: number;
}

export type ScanSourceName = 'processes' | 'tmux' | 'usage';

export interface SourceReport {
  source: ScanSourceName;
  ok: boolean;
  durationMs: number;
  error: string | null;
}

export interface Snapshot {
  /** When the scan finished, epoch ms. */
  takenAt: number;
  processes: ProcessTable;
  /** One entry per scanned tmux server. */
  tmux: TmuxServerSnapshot[];
  /** Usage summed over each tracked project's tree, keyed by project id. */
  usage: Map<string, ResourceUsage>;
  sources: SourceReport[];
}

/**
 * True when the process table and every tmux server were read: the only
 * condition under which destructive actions may run. Resource usage is
 * informational and does not count.
 */
export function scanIsClear(snapshot: Snapshot): boolean {
  return snapshot.sources.every((s) => s.source === 'usage' || s.ok) && snapshot.tmux.every((t) => t.ok);
}
