/**
 * The Redis registry (DESIGN §3, multi-host), selected by
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
 * An update reads everything in one MULTI, runs `mutate`, validates, and
 * commits with one Lua script that first checks `rev` is unchanged: only the
 * projects whose JSON changed, the meta and the order (when they changed),
 * the audit lines and archived projects are written, atomically. When
 * another writer committed first the update is re-run on the fresh document
 * (optimistic concurrency with backoff), so no update is ever lost. A
 * document that does not validate is never written, and a stored one that
 * does not validate refuses every command (RegistryCorruptError, exit 3).
 *
 * Connection: lazy, short timeouts, no offline queue, endless background
 * reconnects: with Redis down every call fails within `timeoutMs` with a
 * RegistryUnreadableError naming the URL (never its credentials), and works
 * again as soon as Redis is back, without a restart.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { emptyDocument, type RegistryDocument } from '../core/registry-document.js';
import type { Project } from '../core/project.js';
import { AgentError, LeaseLostError, RegistryCorruptError, RegistryUnreadableError, messageOf } from '../errors.js';
import { canonicalJson } from './checksum.js';
import { RedisLeaderLease, RedisProjectLeases, type LeaderLease, type LeaseScripts, type ProjectLeases } from './leases.js';
import { COMMIT_SCRIPT, REPLACE_SCRIPT } from './redis-scripts.js';
import { validateDocument } from './schema.js';
import type { AuditEntry, RegistryHealth, RegistryStore, Transaction, UpdateOptions } from './store.js';
import { countOf } from '../core/wording.js';

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

/** What one MULTI read returns. */
interface StoredState {
  rev: number;
  meta: string | null;
  order: string | null;
  projects: Record<string, string>;
  lastGoodAt: number | null;
}

type Parsed = { ok: true; document: RegistryDocument } | { ok: false; issues: string[] };

/** The URL without user name or password, for messages and metrics. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

const AUDIT_READ_BATCH = 10_000;

/** A subscription to the registry's changes (see `watchChanges`). */
export interface ChangeWatch {
  health(): { up: boolean; detail: string };
  stop(): Promise<void>;
}

export class RedisStore implements RegistryStore, LeaseScripts {
  readonly backend = 'redis' as const;
  readonly location: string;
  readonly prefix: string;
  private readonly redis: Redis;
  private readonly timeoutMs: number;
  private readonly streamMaxLen: number;
  private readonly lastGoodEveryMs: number;
  private readonly conflictWaitMs: number;
  private readonly clock: () => number;
  private connecting: Promise<void> | null = null;
  private lastError: string | null = null;
  private closed = false;
  private readonly shas = new Map<string, string>();
  /** Names this client's commits on the change channel, so a watcher can tell its own writes. */
  readonly writerId = randomBytes(6).toString('hex');

  constructor(options: RedisStoreOptions) {
    this.location = redactUrl(options.url);
    this.prefix = options.keyPrefix ?? 'toa:';
    this.timeoutMs = options.timeoutMs ?? 2000;
    this.streamMaxLen = options.streamMaxLen ?? 100_000;
    this.lastGoodEveryMs = options.lastGoodEveryMs ?? 60_000;
    this.conflictWaitMs = options.conflictWaitMs ?? 30_000;
    this.clock = options.clock ?? Date.now;
    // ioredis is loaded on first use: a daemon on a JSON registry never needs it (~9 MB of RSS).
    const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    this.redis = new RedisClient(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: this.timeoutMs,
      commandTimeout: this.timeoutMs,
      // A socket that does not close after disconnect() is destroyed this soon (the driver's 2 s would hold a CLI command).
      disconnectTimeout: 200,
      // Reconnect in the background, at most a second apart, until closed: an outage heals without a restart.
      retryStrategy: (times) => (this.closed ? null : Math.min(100 * times, 1000)),
    });
    this.redis.on('error', (err: unknown) => {
      this.lastError = messageOf(err);
    });
  }

  key(suffix: string): string {
    return `${this.prefix}${suffix}`;
  }

  private get keys() {
    const k = (s: string) => this.key(s);
    return { rev: k('rev'), meta: k('meta'), order: k('order'), projects: k('projects'), audit: k('audit'), archive: k('archive'), lastGood: k('lastgood'), fence: k('leader:fence') };
  }

  private unreachable(err: unknown): AgentError {
    if (err instanceof AgentError) return err;
    // While disconnected the driver only says its stream is not writeable: the connection's own error says why.
    if (this.redis.status !== 'ready') {
      return new RegistryUnreadableError(`registry ${this.location} is unreachable: ${this.lastError ? `${this.lastError} (reconnecting in the background)` : messageOf(err)}`);
    }
    // Connected: a timeout (Redis stalled) or an error reply (e.g. a key of the wrong type).
    return new RegistryUnreadableError(`registry ${this.location} cannot be read or written: ${messageOf(err)}`);
  }

  /** A connected client; the first call connects. Commands fail fast while Redis is away. */
  private async client(): Promise<Redis> {
    if (this.closed) throw new RegistryUnreadableError(`registry ${this.location}: the connection was closed`);
    if (this.redis.status === 'wait' || this.redis.status === 'end') {
      this.connecting ??= this.redis.connect().finally(() => {
        this.connecting = null;
      });
      await this.connecting;
    } else if (this.connecting) await this.connecting;
    return this.redis;
  }

  /** Run `fn` with a client; driver errors become RegistryUnreadableError naming the URL. */
  private async call<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.client());
    } catch (err) {
      throw this.unreachable(err);
    }
  }

  /** Run a Lua script by its SHA, loading it when the server does not know it yet. */
  run(script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    return this.call(async (r) => {
      let sha = this.shas.get(script);
      if (!sha) {
        sha = createHash('sha1').update(script).digest('hex');
        this.shas.set(script, sha);
      }
      try {
        return await r.evalsha(sha, keys.length, ...keys, ...args);
      } catch (err) {
        if (!messageOf(err).startsWith('NOSCRIPT')) throw err;
        return r.eval(script, keys.length, ...keys, ...args);
      }
    });
  }

  private async read(): Promise<StoredState> {
    const k = this.keys;
    const replies = await this.call((r) => r.multi().get(k.rev).get(k.meta).get(k.order).hgetall(k.projects).hget(k.lastGood, 'at').exec());
    if (!replies) throw new RegistryUnreadableError(`registry ${this.location}: the read transaction was aborted`);
    const values = replies.map(([err, value]) => {
      if (err) throw this.unreachable(err);
      return value;
    });
    const [rev, meta, order, projects, lastGoodAt] = values as [string | null, string | null, string | null, Record<string, string>, string | null];
    return { rev: Number(rev ?? 0), meta, order, projects, lastGoodAt: lastGoodAt === null ? null : Number(lastGoodAt) };
  }

  /** Assemble and validate the document from its keys. */
  private parse(state: StoredState): Parsed {
    const ids = Object.keys(state.projects);
    if (state.meta === null && ids.length === 0) return { ok: true, document: emptyDocument() };
    const issues: string[] = [];
    let meta: Record<string, unknown> = { version: 1 };
    if (state.meta !== null) {
      try {
        const parsed = JSON.parse(state.meta) as unknown;
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || 'projects' in parsed) issues.push(`key ${this.keys.meta} must hold a JSON object without "projects"`);
        else meta = parsed as Record<string, unknown>;
      } catch (err) {
        issues.push(`key ${this.keys.meta} is not valid JSON: ${messageOf(err)}`);
      }
    }
    let order: string[] = [];
    if (state.order !== null) {
      try {
        const parsed = JSON.parse(state.order) as unknown;
        if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) order = parsed;
        else issues.push(`key ${this.keys.order} must hold a JSON list of project ids`);
      } catch (err) {
        issues.push(`key ${this.keys.order} is not valid JSON: ${messageOf(err)}`);
      }
    }
    // The order is an index: ids it misses come last (by id), ids it names that are gone are skipped.
    const listed = new Set(order);
    const sequence = [...order.filter((id) => id in state.projects), ...ids.filter((id) => !listed.has(id)).sort()];
    const projects: unknown[] = [];
    for (const id of sequence) {
      try {
        const project = JSON.parse(state.projects[id] as string) as unknown;
        const recorded = project !== null && typeof project === 'object' ? (project as { id?: unknown }).id : undefined;
        if (recorded !== id) issues.push(`project record "${id}" in ${this.keys.projects} has id ${JSON.stringify(recorded) ?? 'nothing'}`);
        else projects.push(project);
      } catch (err) {
        issues.push(`project record "${id}" in ${this.keys.projects} is not valid JSON: ${messageOf(err)}`);
      }
    }
    if (issues.length > 0) return { ok: false, issues };
    return validateDocument({ ...meta, projects });
  }

  /** Keep one copy per distinct corrupt content, under `corrupt:<sha>`; null when it could not be kept. */
  private async keepCorruptCopy(state: StoredState): Promise<string | null> {
    const dump = JSON.stringify({ meta: state.meta, order: state.order, projects: state.projects });
    const key = this.key(`corrupt:${createHash('sha256').update(dump).digest('hex').slice(0, 16)}`);
    try {
      await this.call((r) => r.set(key, dump, 'NX'));
      return key;
    } catch {
      return null;
    }
  }

  private async validated(state: StoredState): Promise<RegistryDocument> {
    const parsed = this.parse(state);
    if (parsed.ok) return parsed.document;
    const copy = await this.keepCorruptCopy(state);
    throw new RegistryCorruptError(
      `registry ${this.location} is invalid and will not be changed: ${parsed.issues[0]}` +
        (parsed.issues.length > 1 ? ` (and ${parsed.issues.length - 1} more problem(s); run "agent registry check")` : '') +
        (copy ? `; a copy is kept at key ${copy}` : '') +
        '; fix it by hand or run "agent registry repair"',
      parsed.issues,
      copy,
    );
  }

  async load(): Promise<RegistryDocument> {
    return this.validated(await this.read());
  }

  async update<T>(mutate: (doc: RegistryDocument, tx: Transaction) => T | Promise<T>, options: UpdateOptions = {}): Promise<T> {
    const deadline = this.clock() + this.conflictWaitMs;
    for (let attempt = 1; ; attempt++) {
      const state = await this.read();
      const doc = await this.validated(state);
      const before = JSON.stringify(doc);
      const audit: AuditEntry[] = [];
      const archived: Project[] = [];
      const result = await mutate(doc, { audit: (e) => audit.push(e), archive: (p) => archived.push(p) });
      const checked = validateDocument(JSON.parse(JSON.stringify(doc)));
      if (!checked.ok) throw new RegistryCorruptError(`refusing to write an invalid registry: ${checked.issues[0]}`, checked.issues, null);
      const next = checked.document;
      const changed = JSON.stringify(next) !== before;
      if (!changed && audit.length === 0 && archived.length === 0) return result;
      const reply = (await this.run(COMMIT_SCRIPT, this.commitKeys(), this.commitArgs(state, next, changed, audit, archived, options.fence))) as [string, string];
      if (reply[0] === 'OK') return result;
      if (reply[0] === 'FENCED') {
        throw new LeaseLostError(`registry ${this.location}: refused a queue-wide write with leader token ${options.fence}: token ${reply[1]} has been issued since (another agent leads now)`);
      }
      if (this.clock() > deadline) {
        throw new RegistryUnreadableError(`registry ${this.location} is too busy: ${attempt} attempts in ${this.conflictWaitMs} ms lost to other writers`);
      }
      // Another writer committed first: back off a little (full jitter, capped) and redo on its result.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(200, 2 ** Math.min(attempt, 8))));
    }
  }

  private commitKeys(): string[] {
    const k = this.keys;
    return [k.rev, k.meta, k.order, k.projects, k.audit, k.archive, k.lastGood, k.fence];
  }

  private commitArgs(state: StoredState, next: RegistryDocument, changed: boolean, audit: AuditEntry[], archived: Project[], fence: number | null | undefined): string[] {
    const sets: string[] = [];
    const dels: string[] = [];
    let meta = '';
    let order = '';
    if (changed) {
      const ids = new Set<string>();
      for (const p of next.projects) {
        ids.add(p.id);
        const json = JSON.stringify(p);
        if (state.projects[p.id] !== json) sets.push(p.id, json);
      }
      for (const id of Object.keys(state.projects)) if (!ids.has(id)) dels.push(id);
      const { projects: _projects, ...rest } = next;
      meta = JSON.stringify(rest);
      if (meta === state.meta) meta = '';
      order = JSON.stringify(next.projects.map((p) => p.id));
      if (order === state.order) order = '';
    }
    const now = this.clock();
    const lastGood = changed && (state.lastGoodAt === null || now - state.lastGoodAt >= this.lastGoodEveryMs) ? canonicalJson(next) : '';
    return [
      String(state.rev),
      fence === undefined || fence === null ? '' : String(fence),
      meta,
      order,
      String(sets.length / 2),
      String(dels.length),
      String(audit.length),
      String(archived.length),
      String(this.streamMaxLen),
      lastGood,
      String(now),
      changed ? '1' : '0',
      this.key('changed'),
      this.writerId,
      ...sets,
      ...dels,
      ...audit.map((e) => JSON.stringify(e)),
      ...archived.map((p) => JSON.stringify(p)),
    ];
  }

  async check(): Promise<RegistryHealth> {
    let lastGood = false;
    try {
      lastGood = (await this.call((r) => r.hexists(this.keys.lastGood, 'doc'))) === 1;
      const doc = await this.load();
      return { ok: true, issues: [], projects: doc.projects.length, location: this.location, lastGood };
    } catch (err) {
      const issues = err instanceof RegistryCorruptError ? err.issues : [messageOf(err)];
      return { ok: false, issues, projects: 0, location: this.location, lastGood };
    }
  }

  async repair(): Promise<{ restored: boolean; detail: string }> {
    const state = await this.read();
    const current = this.parse(state);
    if (current.ok) {
      const count = countOf(current.document.projects.length, 'project');
      return { restored: false, detail: `registry ${this.location} is valid (${count}); nothing to repair` };
    }
    const k = this.keys;
    const [text, at] = await this.call((r) => r.hmget(k.lastGood, 'doc', 'at'));
    if (!text) throw new RegistryUnreadableError(`registry ${this.location} is invalid and there is no last good copy in ${k.lastGood} to restore; fix the keys "agent registry check" names by hand`);
    let good: ReturnType<typeof validateDocument>;
    try {
      good = validateDocument(JSON.parse(text));
    } catch (err) {
      good = { ok: false, issues: [messageOf(err)] };
    }
    if (!good.ok) throw new RegistryUnreadableError(`the last good copy in ${k.lastGood} is itself invalid (${good.issues[0]}); fix the registry by hand`);
    const copy = await this.keepCorruptCopy(state);
    const when = at ? new Date(Number(at)).toISOString() : 'an unknown time';
    await this.replace(good.document, { at: new Date(this.clock()).toISOString(), type: 'repair', project: null, by: 'cli', detail: `restored from ${k.lastGood} (saved ${when})${copy ? `; the invalid keys are kept at ${copy}` : ''}` });
    const kept = copy ? `; the invalid keys are kept at ${copy}` : '';
    const count = countOf(good.document.projects.length, 'project');
    return { restored: true, detail: `restored ${this.location} from ${k.lastGood}, saved ${when} (${count}); changes since then are lost${kept}` };
  }

  /** Overwrite the whole stored document at once (repair). */
  private async replace(doc: RegistryDocument, audit: AuditEntry | null): Promise<void> {
    const k = this.keys;
    const { projects, ...rest } = doc;
    const pairs = projects.flatMap((p) => [p.id, JSON.stringify(p)]);
    await this.run(REPLACE_SCRIPT, [k.rev, k.meta, k.order, k.projects, k.audit], [
      JSON.stringify(rest),
      JSON.stringify(projects.map((p) => p.id)),
      audit ? JSON.stringify(audit) : '',
      this.streamMaxLen,
      this.key('changed'),
      this.writerId,
      ...pairs,
    ]);
  }

  private static entriesOf(rows: [string, string[]][]): AuditEntry[] {
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

  async readAudit(limit: number): Promise<AuditEntry[]> {
    if (limit <= 0) return [];
    const rows = await this.call((r) => r.xrevrange(this.keys.audit, '+', '-', 'COUNT', limit));
    return RedisStore.entriesOf(rows.reverse());
  }

  /** The cursor is the id of the last stream entry read (`0-0` before the first). */
  async readAuditSince(cursor: string | null): Promise<{ entries: AuditEntry[]; cursor: string }> {
    const k = this.keys;
    if (cursor === null || !/^\d+-\d+$/.test(cursor)) {
      if (cursor === null) {
        const last = await this.call((r) => r.xrevrange(k.audit, '+', '-', 'COUNT', 1));
        return { entries: [], cursor: last[0]?.[0] ?? '0-0' };
      }
      cursor = '0-0'; // another backend's cursor: start over
    }
    const from = cursor;
    const rows = await this.call((r) => r.xrange(k.audit, `(${from}`, '+', 'COUNT', AUDIT_READ_BATCH));
    return { entries: RedisStore.entriesOf(rows), cursor: rows.at(-1)?.[0] ?? cursor };
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
  async watchChanges(onChange: () => void): Promise<ChangeWatch> {
    let closed = false;
    let subscribed = false;
    let lastError: string | null = null;
    const sub = this.redis.duplicate({
      lazyConnect: false,
      // Queued until connected, so a watch started during an outage begins when Redis is back.
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      retryStrategy: (times) => (closed ? null : Math.min(100 * times, 1000)),
    });
    sub.on('error', (err: unknown) => {
      lastError = messageOf(err);
    });
    const channel = this.key('changed');
    sub.on('message', (_channel: string, message: string) => {
      if (!message.startsWith(`${this.writerId} `)) onChange();
    });
    const subscribing = sub.subscribe(channel).then(
      () => {
        subscribed = true;
      },
      (err: unknown) => {
        lastError = messageOf(err);
      },
    );
    await Promise.race([subscribing, new Promise((r) => setTimeout(r, this.timeoutMs).unref())]);
    return {
      health: () =>
        subscribed && sub.status === 'ready'
          ? { up: true, detail: `subscribed to ${channel} on ${this.location}` }
          : { up: false, detail: `not subscribed to ${channel} on ${this.location} (${sub.status}${lastError ? `: ${lastError}` : ''})` },
      stop: async () => {
        closed = true;
        if (sub.status !== 'end') sub.disconnect();
      },
    };
  }

  /** Quit the connection (a CLI command exits promptly); the store cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const r = this.redis;
    if (r.status === 'ready') {
      await Promise.race([r.quit().catch(() => undefined), new Promise((done) => setTimeout(done, this.timeoutMs).unref())]);
    }
    // Also cancels a pending reconnect, so a Redis coming back cannot reopen a closed store.
    if (r.status !== 'end') r.disconnect();
  }
}
