/** The audit log of a Redis registry: a stream with one entry per audit line (field `e`). */
import type { AuditEntry } from '../store.js';
import type { RedisConnection } from './connection.js';

const READ_BATCH = 10_000;

function entriesOf(rows: [string, string[]][]): AuditEntry[] {
  const out: AuditEntry[] = [];
  for (const [, fields] of rows) {
    const at = fields.indexOf('e');
    const text = at >= 0 ? fields[at + 1] : undefined;
    if (text === undefined) continue;
    try {
      out.push(JSON.parse(text) as AuditEntry);
    } catch {
      // an entry added by hand that is not ours to judge; skip it
    }
  }
  return out;
}

/** The newest `limit` entries, newest last. */
export async function readStreamTail(conn: RedisConnection, key: string, limit: number): Promise<AuditEntry[]> {
  if (limit <= 0) return [];
  const rows = await conn.call((r) => r.xrevrange(key, '+', '-', 'COUNT', limit));
  return entriesOf(rows.reverse());
}

/** Entries after `cursor`, the id of the last stream entry read (`0-0` before the first; null: from now on). */
export async function readStreamSince(
  conn: RedisConnection,
  key: string,
  cursor: string | null,
): Promise<{ entries: AuditEntry[]; cursor: string }> {
  if (cursor === null) {
    const last = await conn.call((r) => r.xrevrange(key, '+', '-', 'COUNT', 1));
    return { entries: [], cursor: last[0]?.[0] ?? '0-0' };
  }
  // Another backend's cursor: start over.
  const from = /^\d+-\d+$/.test(cursor) ? cursor : '0-0';
  const rows = await conn.call((r) => r.xrange(key, `(${from}`, '+', 'COUNT', READ_BATCH));
  return { entries: entriesOf(rows), cursor: rows.at(-1)?.[0] ?? from };
}
