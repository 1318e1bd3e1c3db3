/**
 * The JSON-file registry (docs/design.md#the-document): one file, written
 * under a cross-process lock (`<registry>.lock`, json/file-lock.ts), re-read
 * under the lock, validated, and replaced atomically (json/atomic-file.ts).
 * A file that does not parse or validate is never overwritten: a copy is kept
 * as `<registry>.corrupt-<timestamp>` and every command refuses with exit 3.
 * Each successful write also refreshes `<registry>.last-good`, from which
 * `repair` restores. Audit lines and archived projects are JSON lines beside
 * it (json/audit-log.ts); a commit's audit lines are journaled ahead of it
 * (`<registry>.audit-pending`, json/audit-journal.ts), so a crash between the
 * commit and the append loses none: the next writer completes them.
 *
 * A load of an unchanged file is served from the document the store last read
 * or wrote (json/document-cache.ts): deep-frozen and shared; `update()` works
 * on a private copy, and a write validates only the projects that changed
 * (json/validate-changes.ts). A load of a file another writer changed
 * validates only the projects whose text changed (json/project-text.ts).
 */
import { promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import { emptyDocument, type RegistryDocument } from '../core/model/registry-document.js';
import { RegistryUnreadableError } from '../errors.js';
import type { Trigger } from '../events/event-source.js';
import { RegistryWatch } from '../events/registry-watch.js';
import { claimRegistry, holderAlive, readDaemonHolder, type DaemonClaim, type DaemonHolder } from './daemon-holder.js';
import { writeFileAtomic } from './json/atomic-file.js';
import { AuditJournal } from './json/audit-journal.js';
import { appendLines, readSince, readTail } from './json/audit-log.js';
import { cacheEntry, identityOf, sameFile, type CachedDocument } from './json/document-cache.js';
import { withFileLock } from './json/file-lock.js';
import {
  corruptCopyPath,
  keepCorruptCopy,
  parseRegistry,
  readRegistryBytes,
  readRegistryFile,
} from './json/registry-file.js';
import { knownText, parseByProject, serialise } from './json/project-text.js';
import { sameJson, validateChanges } from './json/validate-changes.js';
import type { AuditEntry, RegistryHealth, RegistryStore, Transaction } from './store.js';
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

export interface JsonStoreOptions {
  /** Path of the registry file. */
  path: string;
  /** A lock not refreshed for this long is stale and may be taken over. Default 10 000 ms. */
  lockStaleMs?: number;
  /** How long to keep retrying a held lock before giving up. Default 30 000 ms. */
  lockWaitMs?: number;
  /**
   * The wall clock: corrupt-copy names, the repair's audit line, the lock wait, and the cache's
   * coarse-timestamp check (compared with file mtimes). Default Date.now.
   */
  clock?: () => number;
}

export { serialise };

/** What a registry watch compares to tell the store's own writes. */
type WrittenIdentity = { ino: number; size: number; mtimeMs: number };

export class JsonStore implements RegistryStore {
  readonly backend = 'json' as const;
  readonly location: string;
  readonly lockPath: string;
  readonly lastGoodPath: string;
  readonly auditPath: string;
  readonly archivePath: string;
  /** Audit lines of the commit in progress, written ahead of it. */
  readonly journal: AuditJournal;
  private readonly lockStaleMs: number;
  private readonly lockWaitMs: number;
  private readonly clock: () => number;
  private written: WrittenIdentity | null = null;
  /** The update in flight, if any: `written` is recorded when its commit ends. */
  private committing: Promise<void> | null = null;
  private cached: CachedDocument<RegistryDocument> | null = null;

  constructor(options: JsonStoreOptions) {
    this.location = options.path;
    this.lockPath = `${options.path}.lock`;
    this.lastGoodPath = `${options.path}.last-good`;
    this.auditPath = join(dirname(options.path), 'audit.jsonl');
    this.archivePath = join(dirname(options.path), 'archive.jsonl');
    this.lockStaleMs = options.lockStaleMs ?? 10_000;
    this.lockWaitMs = options.lockWaitMs ?? 30_000;
    this.clock = options.clock ?? Date.now;
    this.journal = new AuditJournal(`${options.path}.audit-pending`, this.auditPath, this.location);
  }

  /**
   * The current file, parsed and validated, from the cache when the file has
   * not changed since it was last read or written here; null when it does not
   * exist. A file that does not validate is kept as a copy and refused.
   */
  private async current(): Promise<CachedDocument<RegistryDocument> | null> {
    const raw = await readRegistryFile(this.location, this.cached);
    if (raw === null) {
      this.cached = null;
      // Written before (its last good copy exists) and gone now: deleted or moved. Starting over from an
      // empty queue would make every live project's session an orphan and overwrite the last good copy.
      if (
        await fs.lstat(this.lastGoodPath).then(
          () => true,
          () => false,
        )
      ) {
        throw new RegistryUnreadableError(
          `registry ${this.location} is missing, but its last good copy ${this.lastGoodPath} exists: ` +
            'it was deleted or moved; put it back or run "agent registry repair" ' +
            '(to start an empty registry, delete the last good copy too)',
        );
      }
      return null;
    }
    if ('hit' in raw) return raw.hit;
    // Another writer changed the file: what it left as it was is taken from the version known before.
    const byProject = parseByProject(raw.bytes, knownText(this.cached));
    if (byProject !== null) {
      const { document, spans } = byProject;
      this.cached = cacheEntry(document, { bytes: raw.bytes, spans, identity: raw.identity }, this.clock());
      return this.cached;
    }
    const parsed = parseRegistry(raw.bytes);
    if (!parsed.ok) {
      this.cached = null;
      throw invalidRegistryError(
        this.location,
        parsed.issues,
        await keepCorruptCopy(this.location, raw.bytes, this.clock()),
      );
    }
    this.cached = cacheEntry(parsed.document, { bytes: raw.bytes, spans: null, identity: raw.identity }, this.clock());
    return this.cached;
  }

  /** The committed document, shared and deep-frozen: read it, never change it (`update` is for changes). */
  async load(): Promise<RegistryDocument> {
    return (await this.current())?.document ?? emptyDocument();
  }

  /**
   * Validate and write a document: the registry, then the last good copy.
   * `base`, the validated document `doc` was copied from, lets projects that
   * did not change skip validation.
   */
  private async commit(doc: RegistryDocument, base: CachedDocument<RegistryDocument> | null): Promise<void> {
    const document = validForWrite(validateChanges(doc, base?.document ?? null));
    const bytes = Buffer.from(serialise(document));
    await this.unchangedSince(base);
    this.cached = null;
    await writeFileAtomic(this.location, bytes);
    const stat = await fs.stat(this.location).catch(() => null);
    this.written = stat ? { ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs } : null;
    // What we wrote is what the next load reads, unless another writer comes first (its file has another identity).
    if (stat) this.cached = cacheEntry(document, { bytes, spans: undefined, identity: identityOf(stat) }, this.clock());
    await writeFileAtomic(this.lastGoodPath, bytes);
  }

  /**
   * Refuse to write when the file is no longer the one this update read: a program that replaced it without the
   * lock (with a symbolic link, another file, or nothing) would otherwise lose its change to this commit's rename.
   */
  private async unchangedSince(read: CachedDocument<RegistryDocument> | null): Promise<void> {
    const stat = await fs.lstat(this.location).catch(() => null);
    if (read === null ? stat === null : stat?.isFile() && sameFile(read.identity, identityOf(stat))) return;
    const what =
      stat === null
        ? 'removed'
        : stat.isSymbolicLink()
          ? 'replaced by a symbolic link'
          : !stat.isFile()
            ? 'replaced by something that is not a file'
            : read === null
              ? 'created'
              : 'rewritten';
    throw new RegistryUnreadableError(
      `registry ${this.location} was ${what} by another program while this agent held its lock; nothing written ` +
        '(every writer must take the lock; the next cycle reads the file again)',
    );
  }

  /** The identity of the registry file as this store last wrote it, so a watcher can tell its own writes. */
  lastWrite(): WrittenIdentity | null {
    return this.written;
  }

  /**
   * The same, once a commit in flight has ended: a watcher that sees the rename of this store's own
   * commit before the store recorded its identity would take it for another writer's.
   */
  async settledWrite(): Promise<WrittenIdentity | null> {
    await this.committing?.catch(() => undefined);
    return this.written;
  }

  /** Run `fn` holding the registry's cross-process lock (what every writer takes), e.g. to claim the registry. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    const { location: target, lockPath, lockStaleMs: staleMs, lockWaitMs: waitMs, clock } = this;
    return withFileLock({ target, lockPath, staleMs, waitMs, clock }, fn);
  }

  async update<T>(mutate: (doc: RegistryDocument, tx: Transaction) => T | Promise<T>): Promise<T> {
    return this.locked(async () => {
      // A crash of the last writer may have left a commit's audit lines unwritten.
      await this.journal.recover();
      const entry = await this.current();
      // The validated (shared, frozen) document the private copy is made from: an unchanged copy equals it and
      // is never rewritten. null when there is no file yet.
      const base = entry?.document ?? null;
      const doc = entry ? (JSON.parse(JSON.stringify(entry.document)) as RegistryDocument) : emptyDocument();
      const { tx, audit, archived } = pendingTransaction();
      const result = await mutate(doc, tx);
      // Archive first: a crash between the two leaves a duplicate in the archive, never a lost project.
      if (archived.length > 0) await appendLines(this.archivePath, archived);
      const changed = base === null || !sameJson(doc, base);
      const commit = async (): Promise<void> => (changed ? this.commit(doc, entry) : undefined);
      const committing = this.journal.around(changed, audit, commit);
      this.committing = committing;
      await committing.finally(() => {
        if (this.committing === committing) this.committing = null;
      });
      return result;
    });
  }

  check(): Promise<RegistryHealth> {
    const lastGood = fs.lstat(this.lastGoodPath).then((s) => s.isFile());
    return healthOf(this.location, lastGood, () => this.load());
  }

  async repair(): Promise<{ restored: boolean; detail: string }> {
    return this.locked(async () => {
      await this.journal.recover();
      const current = await this.check();
      if (current.ok) return nothingToRepair(this.location, current.projects);
      const good = await readRegistryBytes(this.lastGoodPath).catch(() => null);
      if (good === null) throw noLastGoodCopy(this.location, `at ${this.lastGoodPath}`, 'fix the file by hand');
      const parsed = parseRegistry(good);
      if (!parsed.ok) throw invalidLastGoodCopy(this.lastGoodPath, parsed.issues[0]);
      // Keep the bad bytes before replacing them (a directory in the way is moved aside).
      const bad = await readRegistryBytes(this.location).catch(() => null);
      if (bad !== null) await keepCorruptCopy(this.location, bad, this.clock());
      else {
        const stat = await fs.lstat(this.location).catch(() => null);
        if (stat && !stat.isFile()) await fs.rename(this.location, corruptCopyPath(this.location, this.clock()));
      }
      const at = new Date(this.clock()).toISOString();
      const line = { at, type: 'repair', project: null, by: 'cli', detail: `restored from ${this.lastGoodPath}` };
      await this.journal.around(true, [line], () => writeFileAtomic(this.location, good));
      const count = countOf(parsed.document.projects.length, 'project');
      return { restored: true, detail: `restored ${this.location} from ${this.lastGoodPath} (${count})` };
    });
  }

  readAudit(limit: number): Promise<AuditEntry[]> {
    return readTail(this.auditPath, limit);
  }

  readAuditSince(cursor: string | null): Promise<{ entries: AuditEntry[]; cursor: string }> {
    return readSince(this.auditPath, cursor);
  }

  /** inotify on the registry's directory; the store's own writes are told apart by the file's identity. */
  watch(trigger: Trigger): RegistryWatch {
    return new RegistryWatch(this.location, trigger, () => this.settledWrite());
  }

  claimDaemon(hostId: string, now: () => number): Promise<DaemonClaim> {
    return claimRegistry(this, hostId, now);
  }

  async daemonHolder(): Promise<{ holder: DaemonHolder; alive: boolean | null } | null> {
    const holder = await readDaemonHolder(this.location);
    return holder === null ? null : { holder, alive: await holderAlive(holder) };
  }

  async close(): Promise<void> {}
}
