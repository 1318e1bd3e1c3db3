/**
 * Tmux-Orchestrator's `project_queue` rows as plain data (docs/sources.md has
 * the mapping table). Pure: no I/O, no clock.
 *
 * Their writers disagree on spellings and times, so reading is lenient where
 * the meaning is clear (status case, three time formats) and strict where it
 * is not (an unknown status is skipped, never guessed).
 */
import type { ProjectState } from '../../core/model/project.js';

/** Their status values, lower-cased, and the state each becomes. */
export const STATUS_STATES: Readonly<Record<string, ProjectState>> = {
  queued: 'queued',
  processing: 'processing',
  recovered: 'processing',
  // Held by their credit backoff: the raw value stays in source.status, which agent detection reads as a usage limit.
  credit_paused: 'processing',
  zombie: 'zombie',
  completed: 'completed',
  failed: 'failed',
  retried: 'failed',
  permanently_failed: 'failed',
};

/** The state a status maps to (case-insensitive), or null for a value the mapping does not know. */
export function stateOfStatus(status: string | null): ProjectState | null {
  if (status === null) return null;
  return STATUS_STATES[status.trim().toLowerCase()] ?? null;
}

const DATE_TIME = new RegExp(
  '^(\\d{4})-(\\d{2})-(\\d{2})' + // date
    '(?:([ T])(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,9}))?)?)?' + // separator, time, fraction
    '\\s*(Z|[+-]\\d{2}:?\\d{2})?$', // offset
);

/**
 * Epoch ms of a time as their writers store it, or null when absent or
 * unreadable:
 * - REAL or INTEGER epoch seconds (`time.time()`, `strftime('%s','now')`), also as text;
 * - `YYYY-MM-DD HH:MM:SS[.fff]` with a space: SQLite's `CURRENT_TIMESTAMP` and
 *   `datetime('now')`, which are UTC;
 * - `YYYY-MM-DDTHH:MM:SS[.ffffff]` with a T and no offset: Python's
 *   `datetime.now().isoformat()`, which is the host's local time;
 * - either form with `Z` or an offset: that offset.
 */
export function parseSourceTime(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? epochToMs(value) : null;
  if (typeof value !== 'string') return null;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return epochToMs(Number(text));
  const m = DATE_TIME.exec(text);
  if (!m) return null;
  const [, y, mo, d, sep, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const millis = Number(frac.padEnd(3, '0').slice(0, 3));
  const fields = [Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), millis] as const;
  const [, month, day, hour, minute, second] = fields;
  if (month > 11 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  let t: number;
  if (zone !== undefined) {
    t = Date.UTC(...fields) - offsetMs(zone);
  } else if (sep === 'T') {
    t = new Date(...fields).getTime();
  } else {
    t = Date.UTC(...fields);
  }
  return Number.isFinite(t) ? t : null;
}

function epochToMs(n: number): number | null {
  if (!Number.isFinite(n) || n <= 0) return null;
  // Seconds since 1970 stay below 1e11 until the year 5138; anything larger was written in milliseconds.
  return Math.round(n >= 1e11 ? n : n * 1000);
}

function offsetMs(zone: string): number {
  if (zone === 'Z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4))) * 60_000;
}

/** One row as the source sync needs it. */
export interface QueueRow {
  /** The row id, as text (`to-<id>`). */
  ref: string;
  /** The status exactly as written (null when the column is NULL). */
  status: string | null;
  specPath: string | null;
  projectPath: string | null;
  priority: number;
  enqueuedAt: number | null;
  startedAt: number | null;
  completedAt: number | null;
  errorMessage: string | null;
  batchId: string | null;
  retryCount: number | null;
  /** session_name, else main_session, else orchestrator_session (the first that is set). */
  session: string | null;
}

function text(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return null;
}

function nonEmpty(value: unknown): string | null {
  const t = text(value)?.trim();
  return t ? t : null;
}

function integer(value: unknown): number | null {
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof n === 'number' && Number.isInteger(n) ? n : null;
}

/** A row keyed by column name, or null when its id is not a positive integer. */
export function readQueueRow(row: Readonly<Record<string, unknown>>): QueueRow | null {
  const id = integer(row['id']);
  if (id === null || id < 1) return null;
  const priority = integer(row['priority']) ?? 0;
  return {
    ref: String(id),
    status: text(row['status']),
    specPath: nonEmpty(row['spec_path']),
    projectPath: nonEmpty(row['project_path']),
    priority: Math.max(-1_000_000, Math.min(1_000_000, priority)),
    enqueuedAt: parseSourceTime(row['enqueued_at']),
    startedAt: parseSourceTime(row['started_at']),
    completedAt: parseSourceTime(row['completed_at']),
    errorMessage: nonEmpty(row['error_message']),
    batchId: nonEmpty(row['batch_id']),
    retryCount: integer(row['retry_count']),
    session: nonEmpty(row['session_name']) ?? nonEmpty(row['main_session']) ?? nonEmpty(row['orchestrator_session']),
  };
}

/** The spec file's stem: `/specs/mobile-app.md` → `mobile-app`. */
export function specStem(specPath: string | null): string | null {
  if (specPath === null) return null;
  const base = specPath.split('/').filter(Boolean).pop() ?? '';
  const stem = base.replace(/\.[^.]+$/, '');
  return stem.length > 0 ? stem.slice(0, 256) : null;
}
