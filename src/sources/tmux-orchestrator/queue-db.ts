/**
 * Reading and writing Tmux-Orchestrator's `task_queue.db`.
 *
 * Reads: one read transaction per pass, with the columns found by `PRAGMA
 * table_info` (they differ between installs), each table as one JSON value
 * (`json_group_array`), so an empty table still answers. Writes: one
 * `BEGIN IMMEDIATE` transaction of guarded UPDATEs (`WHERE id = ? AND status
 * = <the status read>`), so a row another writer changed meanwhile is left as
 * they wrote it; the write lock is held for that one batch only.
 */
import { stat } from 'node:fs/promises';
import { parseJsonResults, runSqlite, sqlNumber, sqlText, SqliteError, type SqliteOptions } from '../sqlite-cli.js';
import { parseSourceTime, STATUS_STATES } from './rows.js';

/** Columns read when present; the rest of a row is not the agent's business. */
export const QUEUE_COLUMNS = [
  'id',
  'spec_path',
  'project_path',
  'status',
  'enqueued_at',
  'started_at',
  'completed_at',
  'priority',
  'error_message',
  'batch_id',
  'retry_count',
  'orchestrator_session',
  'main_session',
  'session_name',
] as const;
/** Columns every variant of their schema has; without them a row cannot be read. */
export const REQUIRED_COLUMNS = ['id', 'spec_path', 'status'] as const;

export interface QueueSchema {
  /** The columns of project_queue this agent reads, as present. */
  columns: string[];
  /** Whether an `agents` table with agent_id and last_heartbeat exists. */
  heartbeats: boolean;
}

export interface QueueSnapshot {
  schema: QueueSchema;
  /** Rows keyed by column name. */
  rows: Record<string, unknown>[];
  /** Newest heartbeat per session (agent_id is `session:window`), epoch ms. */
  heartbeats: Map<string, number>;
}

type ReadOptions = Pick<SqliteOptions, 'busyTimeoutMs' | 'sqlitePath'>;

function values(stdout: string, expected: number, path: string): unknown[] {
  const sets = parseJsonResults(stdout);
  if (sets.length !== expected) {
    throw new SqliteError('failed', `${path}: expected ${expected} results from sqlite3, got ${sets.length}`);
  }
  return sets.map((rows) => JSON.parse(String(rows[0]?.['v'] ?? '[]')) as unknown);
}

/** Which of the tables and columns the agent reads exist; a clear error naming what is missing. */
export async function readSchema(path: string, options: ReadOptions): Promise<QueueSchema> {
  const script = [
    'BEGIN;',
    "SELECT json_group_array(name) AS v FROM sqlite_master WHERE type = 'table';",
    "SELECT json_group_array(name) AS v FROM pragma_table_info('project_queue');",
    "SELECT json_group_array(name) AS v FROM pragma_table_info('agents');",
    'COMMIT;',
    '',
  ].join('\n');
  const stdout = await runSqlite(path, script, { ...options, mode: 'ro' });
  const [tables, columns, agentColumns] = values(stdout, 3, path) as [string[], string[], string[]];
  if (!tables.includes('project_queue')) {
    const found = tables.join(', ') || 'none';
    const question = "is this Tmux-Orchestrator's task_queue.db?";
    throw new SqliteError('failed', `${path}: no project_queue table (tables: ${found}); ${question}`);
  }
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
  if (missing.length > 0) {
    const detail = `(columns: ${columns.join(', ')}); needed: ${REQUIRED_COLUMNS.join(', ')}`;
    throw new SqliteError('failed', `${path}: project_queue has no column ${missing.join(', ')} ${detail}`);
  }
  return {
    columns: QUEUE_COLUMNS.filter((c) => columns.includes(c)),
    heartbeats: agentColumns.includes('agent_id') && agentColumns.includes('last_heartbeat'),
  };
}

/** A column's value, or NULL for a BLOB (JSON cannot hold one; their columns never should). */
function jsonValue(column: string): string {
  return `CASE WHEN typeof("${column}") = 'blob' THEN NULL ELSE "${column}" END`;
}

/** Their statuses that map to a finished state, lower-case: rows with them are history unless the agent holds them. */
const FINISHED = Object.entries(STATUS_STATES)
  .filter(([, state]) => state === 'completed' || state === 'failed')
  .map(([status]) => sqlText(status));

/**
 * The rows of project_queue that matter, and the newest heartbeat of each
 * session, in one read transaction. Rows that matter: every row not finished
 * (any status that is not a finished one, NULL included), and the rows in
 * `held` (the ids the agent holds projects for, whatever their status). A
 * queue of 10,000 finished rows and 100 live ones reads 100 rows.
 */
export async function readQueue(
  path: string,
  options: ReadOptions,
  held: readonly number[] = [],
): Promise<QueueSnapshot> {
  const schema = await readSchema(path, options);
  const ids = held.filter((id) => Number.isInteger(id) && id > 0).map(sqlNumber);
  const heldRows = ids.length > 0 ? ` OR id IN (${ids.join(', ')})` : '';
  const where = `status IS NULL OR lower(trim(status)) NOT IN (${FINISHED.join(', ')})${heldRows}`;
  const columns = schema.columns.map(jsonValue).join(', ');
  const lines = ['BEGIN;', `SELECT json_group_array(json_array(${columns})) AS v FROM project_queue WHERE ${where};`];
  if (schema.heartbeats) {
    const beat = `json_array(${jsonValue('agent_id')}, ${jsonValue('last_heartbeat')})`;
    lines.push(`SELECT json_group_array(${beat}) AS v FROM agents;`);
  }
  lines.push('COMMIT;', '');
  const stdout = await runSqlite(path, lines.join('\n'), { ...options, mode: 'ro' });
  const results = values(stdout, schema.heartbeats ? 2 : 1, path);
  const rows = (results[0] as unknown[][]).map((row) => Object.fromEntries(schema.columns.map((c, i) => [c, row[i]])));
  const heartbeats = new Map<string, number>();
  for (const [agent, beat] of (results[1] ?? []) as unknown[][]) {
    if (typeof agent !== 'string' || !agent.includes(':')) continue;
    const session = agent.slice(0, agent.lastIndexOf(':'));
    const at = parseSourceTime(beat);
    if (at !== null && at > (heartbeats.get(session) ?? -Infinity)) heartbeats.set(session, at);
  }
  return { schema, rows, heartbeats };
}

/**
 * Identity of the database and its write-ahead log (inode, size, mtime): a
 * change of either means another writer committed (or checkpointed) since the
 * last read. Unchanged, the pass skips the read. Not the ctime: SQLite running
 * as root chowns the -wal to the database's owner on every open, which moves
 * its ctime on a mere read.
 */
export async function fileIdentity(path: string): Promise<string> {
  const parts: (number | string)[] = [];
  for (const file of [path, `${path}-wal`]) {
    try {
      const s = await stat(file, { bigint: true });
      parts.push(String(s.ino), String(s.size), String(s.mtimeNs));
    } catch {
      parts.push('-');
    }
  }
  return parts.join(':');
}

/** One guarded update: the row moves only if it still has the status the agent read. */
export interface RowWrite {
  id: number;
  /** The status read from the row (the guard). */
  expected: string;
  status: 'failed' | 'completed';
  /** error_message (failed only). */
  errorMessage: string | null;
  /** completed_at, epoch seconds. */
  completedAt: number;
}

/**
 * Write `writes` in one BEGIN IMMEDIATE transaction; resolves with the ids
 * that changed (the others had moved on). Columns a variant lacks are not
 * written.
 */
export async function writeRows(
  path: string,
  writes: readonly RowWrite[],
  columns: readonly string[],
  options: ReadOptions,
): Promise<Set<number>> {
  if (writes.length === 0) return new Set();
  const lines = ['BEGIN IMMEDIATE;'];
  for (const w of writes) {
    const sets = [`status = ${sqlText(w.status)}`];
    if (w.errorMessage !== null && columns.includes('error_message')) {
      sets.push(`error_message = ${sqlText(w.errorMessage)}`);
    }
    if (columns.includes('completed_at')) sets.push(`completed_at = ${sqlNumber(w.completedAt)}`);
    const guard = `id = ${sqlNumber(w.id)} AND status = ${sqlText(w.expected)}`;
    lines.push(`UPDATE project_queue SET ${sets.join(', ')} WHERE ${guard} RETURNING id;`);
  }
  lines.push('COMMIT;', '');
  const stdout = await runSqlite(path, lines.join('\n'), { ...options, mode: 'rw' });
  const written = new Set<number>();
  for (const set of parseJsonResults(stdout)) {
    for (const row of set) if (typeof row['id'] === 'number') written.add(row['id']);
  }
  return written;
}
