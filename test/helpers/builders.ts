/**
 * Fixture builders for the detection tests (and anyone else's): small plain
 * values with sensible defaults, overridden field by field. Times are epoch ms
 * offsets from T0 so a test reads as "started 30 min before now".
 */
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/config/keys.js';
import type { EvidenceReport } from '../../src/core/rules/completion.js';
import {
  iso,
  newProject,
  type CompletionEvidence,
  type CompletionMethod,
  type Project,
} from '../../src/core/model/project.js';
import type {
  ProcessInfo,
  ScanSourceName,
  Snapshot,
  SourceReport,
  TmuxPane,
  TmuxServerSnapshot,
} from '../../src/core/model/snapshot.js';

/** 2026-11-26T10:00:00.000Z */
export const T0 = Date.UTC(2026, 10, 26, 10, 0, 0);
export const SEC = 1000;
export const MIN = 60 * SEC;
export const HOUR = 60 * MIN;

/** ISO string of T0 + offset. */
export function at(offsetMs: number): string {
  return iso(T0 + offsetMs);
}

export function aConfig(overrides: Partial<AgentConfig> = {}): AgentConfig {
  return { ...DEFAULT_CONFIG, ...overrides };
}

/**
 * A processing project started at T0, seen alive at T0, with session `w-1` on
 * the default server and pid 1000 (start time 5000). Override anything.
 */
export function aProject(fields: Partial<Project> = {}): Project {
  return newProject({
    id: 'p1',
    enqueuedAt: at(-HOUR),
    state: 'processing',
    attempts: 1,
    startedAt: at(0),
    lastSeenAliveAt: at(0),
    session: 'w-1',
    pid: 1000,
    pidStartTime: 5000,
    ...fields,
  });
}

/** A process table row: pid 1000, child of 1, start time 5000, sleeping. */
export function aProcess(fields: Partial<ProcessInfo> = {}): ProcessInfo {
  const pid = fields.pid ?? 1000;
  return {
    pid,
    ppid: 1,
    pgid: pid,
    state: 'S',
    startTime: 5000,
    uid: 1000,
    comm: 'python3',
    cmdline: ['python3'],
    ...fields,
  };
}

/** A live pane of session `w-1`, created at T0, last window activity at T0. */
export function aPane(fields: Partial<TmuxPane> = {}): TmuxPane {
  return {
    session: 'w-1',
    paneId: '%0',
    panePid: 2000,
    paneDead: false,
    deadStatus: null,
    deadSignal: null,
    windowActivityAt: T0,
    sessionCreatedAt: T0,
    ...fields,
  };
}

/** A tmux server holding `panes`, grouped by their session name. */
export function aServer(
  fields: { socket?: string | null; panes?: TmuxPane[]; ok?: boolean; error?: string | null } = {},
): TmuxServerSnapshot {
  const sessions = new Map<string, TmuxPane[]>();
  for (const pane of fields.panes ?? []) sessions.set(pane.session, [...(sessions.get(pane.session) ?? []), pane]);
  const ok = fields.ok ?? true;
  return {
    socket: fields.socket ?? null,
    ok,
    error: fields.error ?? (ok ? null : 'tmux failed'),
    sessions: ok ? sessions : new Map(),
  };
}

export interface SnapshotFields {
  takenAt?: number;
  processes?: ProcessInfo[];
  /** Panes on the default server (shorthand when `servers` is not given). */
  panes?: TmuxPane[];
  servers?: TmuxServerSnapshot[];
  /** Sources reported as failed. */
  failed?: ScanSourceName[];
}

/** A clean snapshot: every source read, one default tmux server. */
export function aSnapshot(fields: SnapshotFields = {}): Snapshot {
  const failed = new Set(fields.failed ?? []);
  const sources: SourceReport[] = (['processes', 'tmux', 'usage'] as const).map((source) => ({
    source,
    ok: !failed.has(source),
    durationMs: 1,
    error: failed.has(source) ? `${source} scan failed` : null,
  }));
  return {
    takenAt: fields.takenAt ?? T0,
    processes: { byPid: new Map((fields.processes ?? []).map((p) => [p.pid, p])) },
    tmux: fields.servers ?? [aServer({ panes: fields.panes ?? [] })],
    usage: new Map(),
    sources,
  };
}

export function anEvidence(method: CompletionMethod, weight = 1.0, detail = `${method} evidence`): CompletionEvidence {
  return { method, weight, detail };
}

/** An evidence report: every method answered unless `unavailable` says otherwise. */
export function anEvidenceReport(
  evidence: CompletionEvidence[] = [],
  unavailable: { method: CompletionMethod; error: string }[] = [],
  gatheredAt = T0,
): EvidenceReport {
  return { evidence, unavailable, gatheredAt };
}

/** Evidence by project id: `evidenceFor(['p1', report], ...)`. */
export function evidenceFor(...entries: Array<[string, EvidenceReport]>): Map<string, EvidenceReport> {
  return new Map(entries);
}
