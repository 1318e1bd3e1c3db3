/**
 * The append-only JSON-lines files beside a JSON registry (`audit.jsonl`,
 * `archive.jsonl`): whole lines appended with O_APPEND, read back as a tail
 * or from a cursor. A line that does not parse (torn by a crash of another
 * writer) is skipped, never fatal.
 */
import { constants as fsc, promises as fs } from 'node:fs';
import type { AuditEntry } from '../store.js';
import { FILE_MODE, isErrno } from './atomic-file.js';

/** The most a `readLinesSince` call reads at once; the rest comes with the next cursor. */
const MAX_READ_BYTES = 64 * 1024 * 1024;

/** Append one JSON line per item, synced; a failed append leaves no partial line behind. */
export function appendLines(path: string, items: readonly unknown[]): Promise<void> {
  return appendText(
    path,
    items.map((i) => JSON.stringify(i)),
  );
}

/** Append lines already serialised (no newline inside), synced; a failed append leaves no partial line behind. */
export async function appendText(path: string, lines: readonly string[]): Promise<void> {
  const data = Buffer.from(lines.join('\n') + '\n', 'utf8');
  // O_APPEND: concurrent appenders never interleave within a line written by one write().
  const handle = await fs.open(path, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_APPEND, FILE_MODE);
  try {
    const { size } = await handle.stat();
    let written = 0;
    try {
      // write() may write less than asked (a full disk) without an error: go on until all is written or it fails.
      while (written < data.length) {
        const { bytesWritten } = await handle.write(data, written, data.length - written);
        if (bytesWritten <= 0) throw new Error(`cannot append to ${path}: nothing written`);
        written += bytesWritten;
      }
      await handle.sync();
    } catch (err) {
      // Never leave a partial line behind: cut the file back to its whole lines, unless someone appended since.
      const now = written > 0 && written < data.length ? await handle.stat().catch(() => null) : null;
      if (now?.size === size + written) await handle.truncate(size).catch(() => undefined);
      throw err;
    }
  } finally {
    await handle.close();
  }
}

function parseLines(lines: Iterable<string>): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const line of lines) {
    if (line.length === 0) continue;
    try {
      out.push(JSON.parse(line) as AuditEntry);
    } catch {
      // a torn line from a crash of another writer, or one added by hand: not ours to judge
    }
  }
  return out;
}

/** The last `limit` entries (newest last); none when the file does not exist. */
export async function readTail(path: string, limit: number): Promise<AuditEntry[]> {
  let text: string;
  try {
    text = await fs.readFile(path, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return [];
    throw err;
  }
  return parseLines(
    text
      .split('\n')
      .filter((l) => l.length > 0)
      .slice(-limit),
  );
}

/**
 * Entries appended since `cursor` (`<inode>:<offset>`), and the next cursor.
 * A null cursor starts at the end; a new file (another inode) or a shorter
 * one starts over; a line still being written is read next time.
 */
export async function readSince(
  path: string,
  cursor: string | null,
): Promise<{ entries: AuditEntry[]; cursor: string }> {
  let handle;
  try {
    handle = await fs.open(path, fsc.O_RDONLY);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return { entries: [], cursor: '0:0' };
    throw err;
  }
  try {
    const stat = await handle.stat();
    const [ino, offsetText] = (cursor ?? '').split(':');
    const resumable = Number(ino) === stat.ino && Number(offsetText) <= stat.size;
    let offset = cursor === null ? stat.size : resumable ? Number(offsetText) : 0;
    let entries: AuditEntry[] = [];
    if (stat.size > offset) {
      const length = Math.min(stat.size - offset, MAX_READ_BYTES);
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, offset);
      const text = buffer.subarray(0, bytesRead).toString('utf8');
      const complete = text.lastIndexOf('\n') + 1;
      entries = parseLines(text.slice(0, complete).split('\n'));
      offset += Buffer.byteLength(text.slice(0, complete));
    }
    return { entries, cursor: `${stat.ino}:${offset}` };
  } finally {
    await handle.close();
  }
}
