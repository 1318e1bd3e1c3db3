/**
 * SQLite through Debian's `sqlite3` command-line program: execFile with an
 * argument array (never a shell), the script on stdin, `-json` output, no
 * ~/.sqliterc (`-init /dev/null`), `-bail` so the first error ends the run.
 * A native module would need a compiler and install scripts; one short-lived
 * process per read costs a few milliseconds (docs/performance.md).
 *
 * The database is opened by URI with `mode=ro` or `mode=rw`, so a missing
 * file is never created.
 */
import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { programOptions } from '../program-options.js';

export type SqliteFailure =
  | 'missing'
  | 'not_a_file'
  | 'cannot_open'
  | 'not_sqlite'
  | 'locked'
  | 'readonly'
  | 'not_installed'
  | 'timeout'
  | 'failed';

/** A failed run, with what kind of failure it was and a message naming the database. */
export class SqliteError extends Error {
  constructor(
    readonly failure: SqliteFailure,
    message: string,
  ) {
    super(message);
    this.name = 'SqliteError';
  }
}

export interface SqliteOptions {
  mode: 'ro' | 'rw';
  /** How long a statement waits for a lock held by another connection (their writers use 10 s). */
  busyTimeoutMs: number;
  /** The whole run is killed after this long (default: busy timeout + 60 s). */
  timeoutMs?: number;
  /** The sqlite3 binary (default: `sqlite3` on PATH). */
  sqlitePath?: string;
}

/** `file:` URI of an absolute path, with the characters SQLite's URI parser would read escaped. */
export function sqliteUri(path: string, mode: 'ro' | 'rw'): string {
  const escaped = path.replace(/%/g, '%25').replace(/\?/g, '%3f').replace(/#/g, '%23');
  return `file:${escaped}?mode=${mode}`;
}

/** A string as an SQL literal: the only way values enter the scripts this project writes. */
export function sqlText(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** A number as an SQL literal; a non-finite value is a programming error. */
export function sqlNumber(value: number): string {
  if (!Number.isFinite(value)) throw new TypeError(`not a finite number: ${value}`);
  return String(value);
}

/** A missing path or a directory is the caller's input, not a failed run: say so before starting sqlite3. */
export async function checkDatabasePath(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SqliteError('missing', `${path}: no such file`);
    throw new SqliteError('cannot_open', `${path}: ${(err as Error).message}`);
  }
  if (!info.isFile()) throw new SqliteError('not_a_file', `${path}: not a regular file`);
}

function classify(path: string, stderr: string): SqliteError {
  const text =
    stderr
      .replace(/^Error: (in prepare, |stepping, )?/gm, '')
      .trim()
      .split('\n')[0] ?? '';
  if (/file is not a database|file is encrypted/.test(stderr)) {
    return new SqliteError('not_sqlite', `${path}: not a SQLite database (${text})`);
  }
  if (/database is locked|database table is locked|database schema is locked/.test(stderr)) {
    return new SqliteError('locked', `${path}: locked by another writer past the busy timeout (${text})`);
  }
  if (/attempt to write a readonly database|readonly database/.test(stderr)) {
    const needs = 'the agent needs write access to the file, its -wal and -shm';
    return new SqliteError('readonly', `${path}: cannot write (${text}); ${needs}`);
  }
  if (/unable to open database/.test(stderr)) {
    const needs = 'in WAL mode a reader needs write access to the directory and the -shm file';
    return new SqliteError('cannot_open', `${path}: cannot open (${text}); ${needs}`);
  }
  return new SqliteError('failed', `${path}: ${text || 'sqlite3 failed'}`);
}

/** Run `script` against the database at `path`; resolves with stdout. */
export function runSqlite(path: string, script: string, options: SqliteOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? options.busyTimeoutMs + 60_000;
  const args = ['-init', '/dev/null', '-bail', '-json', sqliteUri(path, options.mode)];
  return new Promise((resolve, reject) => {
    const child = execFile(
      options.sqlitePath ?? 'sqlite3',
      args,
      programOptions(timeoutMs, 512 * 1024 * 1024),
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
          const how = 'the sqlite3 command is not installed (apt-get install sqlite3)';
          reject(new SqliteError('not_installed', `${path}: ${how}`));
        } else if (error.killed === true && error.signal === 'SIGKILL') {
          reject(new SqliteError('timeout', `${path}: sqlite3 did not finish within ${timeoutMs} ms`));
        } else {
          reject(classify(path, stderr));
        }
      },
    );
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(`.timeout ${Math.round(options.busyTimeoutMs)}\n${script}`);
  });
}

/**
 * Split `-json` output into its result sets. Each statement that returns rows
 * prints one array, one row per line; a string never spans lines (newlines
 * are escaped), so an array ends at the first line ending in `}]`. Statements
 * that return no row print nothing: scripts here select one row per statement.
 */
export function parseJsonResults(stdout: string): Record<string, unknown>[][] {
  const sets: Record<string, unknown>[][] = [];
  let pending = '';
  for (const line of stdout.split('\n')) {
    if (line === '' && pending === '') continue;
    pending += line;
    if (line.endsWith('}]')) {
      sets.push(JSON.parse(pending) as Record<string, unknown>[]);
      pending = '';
    } else pending += '\n';
  }
  if (pending.trim() !== '') throw new Error(`unparsable sqlite3 output: ${pending.slice(0, 200)}`);
  return sets;
}
