/**
 * The audit lines of a commit, written ahead of it: a crash between the
 * registry's rename and the end of the audit append would otherwise lose
 * that commit's lines (the registry's history says a project failed; the
 * audit log never heard of it).
 *
 * Under the registry lock, a write with audit lines
 * 1. writes the journal `<registry>.audit-pending` (synced):
 *    the inode of the registry file the commit replaces (or that there is
 *    none, or that the lines come without a registry change), where the
 *    audit log ends now (inode, size), and the lines, serialised;
 * 2. commits the registry (a rename: the committed file is a new inode);
 * 3. appends the lines to the audit log (synced);
 * 4. removes the journal.
 * The next writer (every update and repair starts with it, under the lock)
 * settles a journal a crash left: when the registry is still the file the
 * commit was to replace, the commit never happened and the lines are
 * dropped; otherwise it cuts a torn last line the append left (all appends
 * happen under the lock, so what follows the recorded end is that append's)
 * and appends the lines the log does not hold after that point yet, so a
 * line is never written twice.
 *
 * The journal is written in place, not renamed: a journal a crash tore was
 * being written before the commit began, so it is dropped, and the commit's
 * own directory sync makes the journal's name durable (the same directory).
 *
 * The key is the replaced file, not the new one: every writer replaces the
 * registry by rename under the lock and settles the journal first, so a file
 * other than the replaced one can only be this commit's.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import { FILE_MODE, isErrno } from './atomic-file.js';
import { appendText } from './audit-log.js';

interface JournalRecord {
  v: 1;
  /**
   * The registry's inode before the commit (0: there was no file); null when the lines come without a
   * registry change and stand whatever the registry is.
   */
  replaces: number | null;
  /** Where the audit log ended before the append; null when it did not exist. */
  auditEnd: { ino: number; size: number } | null;
  lines: string[];
}

/** What a recovery did with the lines a crash left. */
export interface Recovery {
  appended: number;
  dropped: number;
}

async function statOrNull(path: string): Promise<{ ino: number; size: number } | null> {
  try {
    return await fs.lstat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw err;
  }
}

export class AuditJournal {
  constructor(
    /** The journal file. */
    readonly path: string,
    private readonly auditPath: string,
    private readonly registryPath: string,
  ) {}

  /**
   * Run `commit` with `entries` journaled ahead of it and appended after it; `replacesRegistry` says whether
   * the commit renames a new registry into place. A commit that fails is settled at once, as a crash would be.
   * Call under the lock.
   */
  async around(replacesRegistry: boolean, entries: readonly unknown[], commit: () => Promise<void>): Promise<void> {
    if (entries.length === 0) return commit();
    const lines = entries.map((e) => JSON.stringify(e));
    await this.begin(replacesRegistry, lines);
    try {
      await commit();
    } catch (err) {
      await this.recover().catch(() => undefined);
      throw err;
    }
    await appendText(this.auditPath, lines);
    await fs.rm(this.path, { force: true });
  }

  /** Record `lines` ahead of a commit. Call under the lock. */
  async begin(replacesRegistry: boolean, lines: readonly string[]): Promise<void> {
    const [registry, audit] = await Promise.all([statOrNull(this.registryPath), statOrNull(this.auditPath)]);
    const record: JournalRecord = {
      v: 1,
      replaces: replacesRegistry ? (registry?.ino ?? 0) : null,
      auditEnd: audit ? { ino: audit.ino, size: audit.size } : null,
      lines: [...lines],
    };
    const handle = await fs.open(this.path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, FILE_MODE);
    try {
      await handle.writeFile(`${JSON.stringify(record)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }

  /** Settle what a crash left: lines of a commit that happened are completed, once; others are dropped. */
  async recover(): Promise<Recovery> {
    let text: string;
    try {
      text = await fs.readFile(this.path, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return { appended: 0, dropped: 0 };
      throw err;
    }
    const record = parseRecord(text);
    const notCommitted =
      record === null ||
      (record.replaces !== null && ((await statOrNull(this.registryPath))?.ino ?? 0) === record.replaces);
    if (notCommitted) {
      // Torn while written (the commit had not begun), or the registry is the file the commit was to replace.
      await fs.rm(this.path, { force: true });
      return { appended: 0, dropped: record?.lines.length ?? 0 };
    }
    const missing = await this.missingLines(record);
    if (missing.length > 0) await appendText(this.auditPath, missing);
    await fs.rm(this.path, { force: true });
    return { appended: missing.length, dropped: 0 };
  }

  /** The recorded lines the log does not hold after its recorded end; a torn last line there is cut first. */
  private async missingLines(record: JournalRecord): Promise<string[]> {
    let handle;
    try {
      handle = await fs.open(this.auditPath, fsc.O_RDWR);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return record.lines;
      throw err;
    }
    try {
      const stat = await handle.stat();
      const end = record.auditEnd;
      // Another file (rotated, recreated): look through all of it.
      const from = end && end.ino === stat.ino && end.size <= stat.size ? end.size : 0;
      const tail = Buffer.alloc(stat.size - from);
      const { bytesRead } = await handle.read(tail, 0, tail.length, from);
      const written = tail.subarray(0, bytesRead);
      const whole = written.lastIndexOf(0x0a) + 1;
      if (whole < written.length) {
        await handle.truncate(from + whole);
        await handle.sync();
      }
      // Counted, not a set: one commit may carry two identical lines.
      const present = new Map<string, number>();
      for (const line of written.subarray(0, whole).toString('utf8').split('\n')) {
        if (line.length > 0) present.set(line, (present.get(line) ?? 0) + 1);
      }
      const missing: string[] = [];
      for (const line of record.lines) {
        const n = present.get(line) ?? 0;
        if (n > 0) present.set(line, n - 1);
        else missing.push(line);
      }
      return missing;
    } finally {
      await handle.close();
    }
  }
}

function parseRecord(text: string): JournalRecord | null {
  try {
    const r = JSON.parse(text) as Partial<JournalRecord>;
    if (r.v !== 1 || !Array.isArray(r.lines) || !r.lines.every((l) => typeof l === 'string')) return null;
    if (r.replaces !== null && typeof r.replaces !== 'number') return null;
    return { v: 1, replaces: r.replaces, auditEnd: r.auditEnd ?? null, lines: r.lines };
  } catch {
    return null;
  }
}
