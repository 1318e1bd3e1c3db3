/**
 * The Redis registry (docs/multi-host.md), selected by
 * `AGENT_REGISTRY=redis://[user:password@]host:port/db`. Same contract as
 * the JSON store; the layout under the key prefix (default `toa:`) is:
 *
 * | key            | type   | holds |
 * |----------------|--------|-------|
 * | `rev`          | string | revision of the document, +1 per committed change |
 * | `meta`         | string | JSON of every top-level field but `projects` (version, queue, intents, unknown fields) |
 * | `projects`     | hash   | project id -> JSON of that project |
 * | `order`        | string | JSON list of project ids: the document's project order |
 * | `audit`        | stream | one entry per audit line (field `e`), capped with MAXLEN ~ |
 * | `archive`      | stream | projects moved out by retention (field `p`), capped likewise |
 * | `lastgood`     | hash   | `doc`, `at`, `rev`: a validated copy, refreshed at most once a minute |
 * | `corrupt:<sha>`| string | the raw keys of a document that failed validation |
 * | `leader`, `leader:fence`, `lease:<id>` | string | leases, see leases.ts |
 * | `changed`      | channel| "<writer> <rev>" after each commit, for the daemons' registry watch |
 *
 * An update reads everything in one MULTI (redis/document.ts), runs
 * `mutate`, validates, and commits with one Lua script (redis/lua/) that
 * first checks `rev` is unchanged. When another writer committed first the
 * update is re-run on the fresh document (optimistic concurrency with
 * backoff), so no update is ever lost. A document that does not validate is
 * never written, and a stored one that does not validate refuses every
 * command (RegistryCorruptError, exit 3). The connection (redis/connection.ts)
 * fails fast while Redis is away and heals without a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RegistryDocument } from '../core/model/registry-document.js';
import { LeaseLostError, RegistryUnreadableError, messageOf } from '../errors.js';
import type { Trigger } from '../events/event-source.js';
import { RedisWatch } from '../events/redis-watch.js';
import {
  RedisLeaderLease,
  RedisProjectLeases,
  type LeaderLease,
  type LeaseScripts,
  type ProjectLeases,
} from './leases.js';
import { readStreamSince, readStreamTail } from './redis/audit-stream.js';
import { watchChanges, type ChangeWatch } from './redis/changes.js';
import { RedisConnection } from './redis/connection.js';
import {
  commitArgs,
  dumpState,
  parseState,
  readState,
  registryKeys,
  replaceArgs,
  type RegistryKeys,
  type StoredState,
} from './redis/document.js';
import type { ScriptName } from './redis/scripts.js';
import { validateDocument } from './schema.js';
import type { AuditEntry, RegistryHealth, RegistryStore, Transaction, UpdateOptions } from './store.js';
import { pendingTransaction } from './transaction.js';
import {
  healthOf,
  invalidLastGoodCopy,
  invalidRegistryError,
  noLastGoodCopy,
  nothingToRepair,
  validForWrite,
} from './validity.js';
import { countOf } from '../core/views/wording.js';

export { redactUrl } from './redis/connection.js';
export type { ChangeWatch } from './redis/changes.js';

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port/db` (or `rediss://` for TLS). */
  url: string;
  /** Prefix of every key. Default `toa:`. */
  keyPrefix?: string;
  /** Connect and command timeout. Default 2000 ms. */
  timeoutMs?: number;
  /** Approximate cap of the audit and archive streams. Default 100 000. */
  streamMaxLen?: number;
  /** The last good copy is refreshed by a commit at most this often. Default 60 000 ms. */
  lastGoodEveryMs?: number;
  /** How long an update keeps retrying against other writers before giving up. Default 30 000 ms. */
  conflictWaitMs?: number;
  clock?: () => number;
}

export class RedisStore implements RegistryStore, LeaseScripts {
  readonly backend = 'redis' as const;
  readonly location: string;
  readonly prefix: string;
  private readonly conn: RedisConnection;
  private readonly keys: RegistryKeys;
  private readonly streamMaxLen: number;
  private readonly lastGoodEveryMs: number;
  private readonly conflictWaitMs: number;
  private readonly clock: () => number;
  /** Names this client's commits on the change channel, so a watcher can tell its own writes. */
  readonly writerId = randomBytes(6).toString('hex');

  constructor(options: RedisStoreOptions) {
    this.conn = new RedisConnection(options.url, options.timeoutMs ?? 2000);
    this.location = this.conn.location;
    this.prefix = options.keyPrefix ?? 'toa:';
    this.keys = registryKeys(this.prefix);
    this.streamMaxLen = options.streamMaxLen ?? 100_000;
    this.lastGoodEveryMs = options.lastGoodEveryMs ?? 60_000;
    this.conflictWaitMs = options.conflictWaitMs ?? 30_000;
    this.clock = options.clock ?? Date.now;
  }

  key(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  /** Run a Lua script by name (leases.ts runs the lease scripts through this). */
  run(name: ScriptName, keys: readonly string[], args: Record<string, unknown>): Promise<unknown> {
    return this.conn.run(name, keys, args);
  }

  /** Keep one copy per distinct corrupt content, under `corrupt:<sha>`; null when it could not be kept. */
  private async keepCorruptCopy(state: StoredState): Promise<string | null> {
    const dump = dumpState(state);
    const key = this.key(`corrupt:${createHash('sha256').update(dump).digest('hex').slice(0, 16)}`);
    try {
      await this.conn.call((r) => r.set(key, dump, 'NX'));
      return key;
    } catch {
      return null;
    }
  }

  private async validated(state: StoredState): Promise<RegistryDocument> {
    const parsed = parseState(state, this.keys);
    if (parsed.ok) return parsed.document;
    const copy = await this.keepCorruptCopy(state);
    throw invalidRegistryError(this.location, parsed.issues, copy, copy && `key ${copy}`);
  }

  async load(): Promise<RegistryDocument> {
    return this.validated(await readState(this.conn, this.keys));
  }

  async update<T>(
    mutate: (doc: RegistryDocument, tx: Transaction) => T | Promise<T>,
    options: UpdateOptions = {},
  ): Promise<T> {
    const deadline = this.clock() + this.conflictWaitMs;
    const k = this.keys;
    for (let attempt = 1; ; attempt++) {
      const state = await readState(this.conn, k);
      const doc = await this.validated(state);
      const before = JSON.stringify(doc);
      const { tx, audit, archived } = pendingTransaction();
      const result = await mutate(doc, tx);
      const next = validForWrite(validateDocument(JSON.parse(JSON.stringify(doc))));
      const changed = JSON.stringify(next) !== before;
      if (!changed && audit.length === 0 && archived.length === 0) return result;
      const now = this.clock();
      const args = commitArgs({
        state,
        next,
        changed,
        audit,
        archived,
        fence: options.fence,
        lastGoodDue: state.lastGoodAt === null || now - state.lastGoodAt >= this.lastGoodEveryMs,
        now,
        maxLen: this.streamMaxLen,
        channel: k.changed,
        writer: this.writerId,
      });
      const keys = [k.rev, k.meta, k.order, k.projects, k.audit, k.archive, k.lastGood, k.fence];
      const reply = (await this.conn.run('commit', keys, args)) as [string, string];
      if (reply[0] === 'OK') return result;
      if (reply[0] === 'FENCED') {
        throw new LeaseLostError(
          `registry ${this.location}: refused a queue-wide write with leader token ${options.fence}: ` +
            `token ${reply[1]} has been issued since (another agent leads now)`,
        );
      }
      if (this.clock() > deadline) {
        throw new RegistryUnreadableError(
          `registry ${this.location} is too busy: ` +
            `${attempt} attempts in ${this.conflictWaitMs} ms lost to other writers`,
        );
      }
      // Another writer committed first: back off a little (full jitter, capped) and redo on its result.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 2 ** Math.min(attempt, 8))));
    }
  }

  check(): Promise<RegistryHealth> {
    const lastGood = this.conn.call((r) => r.hexists(this.keys.lastGood, 'doc')).then((n) => n === 1);
    return healthOf(this.location, lastGood, () => this.load());
  }

  async repair(): Promise<{ restored: boolean; detail: string }> {
    const k = this.keys;
    const state = await readState(this.conn, k);
    const current = parseState(state, k);
    if (current.ok) return nothingToRepair(this.location, current.document.projects.length);
    const [text, at] = await this.conn.call((r) => r.hmget(k.lastGood, 'doc', 'at'));
    if (!text)
      throw noLastGoodCopy(this.location, `in ${k.lastGood}`, 'fix the keys "agent registry check" names by hand');
    let good: ReturnType<typeof validateDocument>;
    try {
      good = validateDocument(JSON.parse(text));
    } catch (err) {
      good = { ok: false, issues: [messageOf(err)] };
    }
    if (!good.ok) throw invalidLastGoodCopy(`in ${k.lastGood}`, good.issues[0]);
    const copy = await this.keepCorruptCopy(state);
    const when = at ? new Date(Number(at)).toISOString() : 'an unknown time';
    const kept = copy ? `; the invalid keys are kept at ${copy}` : '';
    const note: AuditEntry = {
      at: new Date(this.clock()).toISOString(),
      type: 'repair',
      project: null,
      by: 'cli',
      detail: `restored from ${k.lastGood} (saved ${when})${kept}`,
    };
    await this.conn.run(
      'replace',
      [k.rev, k.meta, k.order, k.projects, k.audit],
      replaceArgs(good.document, note, this.streamMaxLen, k.changed, this.writerId),
    );
    const count = countOf(good.document.projects.length, 'project');
    return {
      restored: true,
      detail:
        `restored ${this.location} from ${k.lastGood}, saved ${when} (${count}); ` +
        `changes since then are lost${kept}`,
    };
  }

  readAudit(limit: number): Promise<AuditEntry[]> {
    return readStreamTail(this.conn, this.keys.audit, limit);
  }

  /** The cursor is the id of the last stream entry read (`0-0` before the first). */
  readAuditSince(cursor: string | null): Promise<{ entries: AuditEntry[]; cursor: string }> {
    return readStreamSince(this.conn, this.keys.audit, cursor);
  }

  /** The leader lease of this registry, held as `holder`. */
  leaderLease(holder: string, ttlMs: number): LeaderLease {
    return new RedisLeaderLease(this, holder, ttlMs);
  }

  /** Per-project action leases, held as `holder`. */
  projectLeases(holder: string, ttlMs: number): ProjectLeases {
    return new RedisProjectLeases(this, holder, ttlMs);
  }

  /**
   * Call `onChange` after each commit of another client (pub/sub on a
   * connection of its own, resubscribed after a reconnect). Resolves once
   * subscribed, or after the timeout with the subscription still pending.
   */
  watchChanges(onChange: () => void): Promise<ChangeWatch> {
    return watchChanges(this.conn, this.keys.changed, this.writerId, onChange);
  }

  /** The change channel: commits of other clients ask for a cycle. */
  watch(trigger: Trigger): RedisWatch {
    return new RedisWatch(this, trigger);
  }

  /** No claim: agents share a Redis registry, and the leader lease decides who takes the queue-wide decisions. */
  async claimDaemon(): Promise<null> {
    return null;
  }

  async daemonHolder(): Promise<null> {
    return null;
  }

  /** Quit the connection (a CLI command exits promptly); the store cannot be used afterwards. */
  close(): Promise<void> {
    return this.conn.close();
  }
}
