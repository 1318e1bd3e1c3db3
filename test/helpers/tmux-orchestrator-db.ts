/**
 * Tmux-Orchestrator databases for tests, written by Python's sqlite3 module
 * (test/fixtures/tmux_orchestrator_db.py), the way its own writers write.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURE_SCRIPT = fileURLToPath(new URL('../fixtures/tmux_orchestrator_db.py', import.meta.url));
/**
 * Debian's python3, which the set-up installs, when present: the python3 first on PATH may be a version manager's
 * shim (pyenv's starts a shell and costs ~250 ms a call, against ~50 ms), and the suite runs hundreds of calls.
 */
export const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export type SchemaVariant = 'scheduler' | 'queue-status' | 'original';

function python(args: string[]): string {
  return execFileSync(PYTHON, [FIXTURE_SCRIPT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export class QueueDb {
  constructor(readonly path: string) {}

  /** A new database of their schema `variant` at `dir/task_queue.db` (WAL unless asked otherwise). */
  static create(dir: string, variant: SchemaVariant = 'scheduler', journal: 'wal' | 'delete' = 'wal'): QueueDb {
    const db = new QueueDb(join(dir, 'task_queue.db'));
    python(['create', db.path, variant, '--journal', journal]);
    return db;
  }

  /** Run one statement with parameters; rows of a SELECT and the last row id. */
  sql(statement: string, params: unknown[] = []): { rows: unknown[][]; lastrowid: number | null } {
    return JSON.parse(python(['sql', this.path, statement, JSON.stringify(params)])) as {
      rows: unknown[][];
      lastrowid: number | null;
    };
  }

  /** Insert one row of project_queue (column -> value); returns its id. */
  insert(row: Record<string, unknown>): number {
    const columns = Object.keys(row);
    const { lastrowid } = this.sql(
      `INSERT INTO project_queue (${columns.join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`,
      Object.values(row),
    );
    if (lastrowid === null) throw new Error('insert returned no row id');
    return lastrowid;
  }

  rows(): Record<string, unknown>[] {
    return JSON.parse(python(['rows', this.path])) as Record<string, unknown>[];
  }

  row(id: number): Record<string, unknown> {
    const row = this.rows().find((r) => r['id'] === id);
    if (!row) throw new Error(`no row ${id} in ${this.path}`);
    return row;
  }

  integrity(): string {
    return python(['integrity', this.path]).trim();
  }

  /** A process holding an exclusive lock for `seconds`; resolves once it holds it. */
  async hold(seconds: number): Promise<ChildProcess> {
    const child = spawn(PYTHON, [FIXTURE_SCRIPT, 'hold', this.path, String(seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('locked')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`lock holder exited with ${code} before locking`)));
    });
    return child;
  }

  /**
   * A concurrent writer of immediate transactions `pauseMs` apart, until the file `stopPath` exists; `done`
   * resolves with its summary.
   */
  writer(
    stopPath: string,
    pauseMs = 0,
  ): { child: ChildProcess; done: Promise<{ committed: number; failed: number; slowest_ms: number }> } {
    const child = spawn(PYTHON, [FIXTURE_SCRIPT, 'writer', this.path, stopPath, String(pauseMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    const done = new Promise<{ committed: number; failed: number; slowest_ms: number }>((resolve, reject) => {
      child.once('exit', (code) => {
        if (code !== 0) reject(new Error(`writer exited with ${code}: ${err}`));
        else resolve(JSON.parse(out) as { committed: number; failed: number; slowest_ms: number });
      });
    });
    return { child, done };
  }
}
