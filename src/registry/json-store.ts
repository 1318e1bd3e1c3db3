/**
 * The JSON-file registry (DESIGN §4) through lowdb, with a cross-process lock
 * (`<registry>.lock`, stale-safe), re-read under the lock, validation, and an
 * atomic write (temp file in the same directory, fsync, rename, fsync dir).
 * A file that does not parse or validate is never overwritten: a copy is kept
 * as `<registry>.corrupt-<timestamp>` and every command refuses with exit 3.
 * Each successful write also refreshes `<registry>.last-good`, from which
 * `repair` restores.
 *
 * Parsing and validating a registry of thousands of projects costs far more
 * than a cycle's scan, so the store keeps the document it last read or wrote,
 * keyed by the file's identity (inode, size, mtime, ctime): a load of an
 * unchanged file is one lstat and one fstat. `load()` hands out that cached
 * document deep-frozen (shared, read-only); `update()` works on a private copy.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Low, type Adapter } from 'lowdb';
import lockfile from 'proper-lockfile';
import { emptyDocument, type RegistryDocument } from '../core/registry-document.js';
import type { Project } from '../core/project.js';
import { RegistryCorruptError, RegistryUnreadableError, messageOf } from '../errors.js';
import { validateDocument } from './schema.js';
import type { AuditEntry, RegistryHealth, RegistryStore, Transaction } from './store.js';
import { countOf } from '../core/wording.js';

export interface JsonStoreOptions {
  /** Path of the registry file. */
  path: string;
  /** A lock not refreshed for this long is stale and may be taken over. Default 10 000 ms. */
  lockStaleMs?: number;
  /** How long to keep retrying a held lock before giving up. Default 30 000 ms. */
  lockWaitMs?: number;
  /** Clock for corrupt-copy names; injectable for tests. */
  clock?: () => number;
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

/** Serialised form written to disk: stable, readable, newline-terminated. */
export function serialise(doc: RegistryDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function isErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && codes.includes((err as NodeJS.ErrnoException).code ?? '');
}

/** Write `data` to `target` atomically: temp file in the same directory, fsync, rename, fsync the directory. */
export async function writeFileAtomic(target: string, data: string | Buffer): Promise<void> {
  const dir = dirname(target);
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(temp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, FILE_MODE);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await fs.rename(temp, target);
  } catch (err) {
    await fs.rm(temp, { force: true }).catch(() => undefined);
    throw err;
  }
  const dirHandle = await fs.open(dir, fsc.O_RDONLY).catch(() => null);
  if (dirHandle) {
    await dirHandle.sync().catch(() => undefined);
    await dirHandle.close();
  }
}

/** What tells one version of the registry file from another without reading it. */
interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** A validated document and the file version it came from. */
interface CachedDocument {
  identity: FileIdentity;
  /** Deep-frozen: shared by every `load()` until the file changes. */
  document: RegistryDocument;
  /** JSON.stringify of the document: private copies are parsed from it. (The file's own text is not kept: memory.) */
  canonical: string;
  /** When the entry was taken (epoch ms), for the coarse-timestamp check. */
  takenAt: number;
}

function identityOf(stat: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): FileIdentity {
  return { ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs };
}

function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;
}

/** A file system that keeps whole seconds only may hide a same-size rewrite within the second. */
const COARSE_TIMESTAMP_SLACK_MS = 2000;

/**
 * Whether an identity match can be believed. On a file system with whole-second
 * timestamps, a rewrite of the same size in the same second looks unchanged, so
 * an entry taken within two seconds of such an mtime is read again (as git
 * does with "racily clean" entries); once taken later than that, it holds.
 */
function trusted(entry: CachedDocument): boolean {
  const mtime = entry.identity.mtimeMs;
  return mtime % 1000 !== 0 || entry.takenAt - mtime > COARSE_TIMESTAMP_SLACK_MS;
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function cacheEntry(document: RegistryDocument, identity: FileIdentity): CachedDocument {
  return { identity, document: deepFreeze(document), canonical: JSON.stringify(document), takenAt: Date.now() };
}

/**
 * Whether two JSON values print alike (key order aside): a key whose value is
 * undefined counts as absent, as JSON.stringify leaves it out. Walks without
 * allocating, unlike comparing two serialisations of a large registry.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let keys = 0;
  for (const key of Object.keys(ra)) {
    if (ra[key] === undefined) continue;
    keys += 1;
    if (!Object.hasOwn(rb, key) || !sameJson(ra[key], rb[key])) return false;
  }
  for (const key of Object.keys(rb)) if (rb[key] !== undefined) keys -= 1;
  return keys === 0;
}

/**
 * Validate a document about to be written. With `base` (the validated
 * document it was copied from), a project equal to its namesake in `base` is
 * taken as it is, already valid and normalised, and only the others and the
 * document's own fields go through the schema: a cycle that touches ten
 * projects of thousands validates ten. Any problem, or a duplicate id, is
 * reported by the full validation, so its messages name the right positions.
 */
function validateChanges(doc: RegistryDocument, base: RegistryDocument | null): ReturnType<typeof validateDocument> {
  const full = () => validateDocument(JSON.parse(JSON.stringify(doc)));
  if (base === null || !Array.isArray(doc.projects)) return full();
  const previous = new Map(base.projects.map((p) => [p.id, p]));
  const projects: Project[] = new Array<Project>(doc.projects.length);
  const changed: unknown[] = [];
  const positions: number[] = [];
  const ids = new Set<unknown>();
  doc.projects.forEach((p, i) => {
    const id: unknown = (p as Partial<Project> | null)?.id;
    if (ids.has(id)) return;
    ids.add(id);
    const prev = typeof id === 'string' ? previous.get(id) : undefined;
    if (prev !== undefined && sameJson(p, prev)) projects[i] = prev;
    else {
      changed.push(p);
      positions.push(i);
    }
  });
  if (ids.size !== doc.projects.length) return full();
  const delta = validateDocument(JSON.parse(JSON.stringify({ ...doc, projects: changed })));
  if (!delta.ok) return full();
  delta.document.projects.forEach((p, j) => {
    projects[positions[j] as number] = p;
  });
  return { ok: true, document: { ...delta.document, projects } };
}

/** lowdb adapter: reading validates (and keeps a copy of a corrupt file), writing is atomic. */
class RegistryFileAdapter implements Adapter<RegistryDocument> {
  /**
   * The validated (shared, frozen) document the private copy was made from:
   * an unchanged document equals it and is never rewritten. null when there
   * was no file.
   */
  base: RegistryDocument | null = null;

  constructor(private readonly store: JsonStore) {}

  async read(): Promise<RegistryDocument | null> {
    const { document, base } = await this.store.readPrivate();
    this.base = base;
    return document;
  }

  async write(doc: RegistryDocument): Promise<void> {
    await this.store.commitDocument(doc, this.base);
  }
}

export class JsonStore implements RegistryStore {
  readonly backend = 'json' as const;
  readonly location: string;
  readonly lockPath: string;
  readonly lastGoodPath: string;
  readonly auditPath: string;
  readonly archivePath: string;
  private readonly lockStaleMs: number;
  private readonly lockWaitMs: number;
  private readonly clock: () => number;
  private written: { ino: number; size: number; mtimeMs: number } | null = null;
  private cached: CachedDocument | null = null;

  constructor(options: JsonStoreOptions) {
    this.location = options.path;
    this.lockPath = `${options.path}.lock`;
    this.lastGoodPath = `${options.path}.last-good`;
    this.auditPath = join(dirname(options.path), 'audit.jsonl');
    this.archivePath = join(dirname(options.path), 'archive.jsonl');
    this.lockStaleMs = options.lockStaleMs ?? 10_000;
    this.lockWaitMs = options.lockWaitMs ?? 30_000;
    this.clock = options.clock ?? Date.now;
  }

  /** Raw bytes of the registry, or null when it does not exist yet. Refuses symlinks and non-files. */
  private async readRaw(path = this.location): Promise<Buffer | null> {
    const raw = await this.readRawWithIdentity(path);
    return raw === null || 'hit' in raw ? null : raw.bytes;
  }

  /**
   * The bytes and the identity of the file they were read from (fstat of the
   * open handle, so the two always match), or, when `cached` still describes
   * the file, that entry and no read at all.
   */
  private async readRawWithIdentity(path: string, cached: CachedDocument | null = null): Promise<{ bytes: Buffer; identity: FileIdentity } | { hit: CachedDocument } | null> {
    let stat;
    try {
      stat = await fs.lstat(path);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return null;
      throw new RegistryUnreadableError(`registry ${path} cannot be read: ${messageOf(err)}`);
    }
    if (stat.isSymbolicLink()) {
      throw new RegistryUnreadableError(`registry ${path} is a symbolic link; refusing to follow it (point AGENT_REGISTRY at the real file)`);
    }
    if (!stat.isFile()) {
      throw new RegistryUnreadableError(`registry ${path} is not a regular file (${stat.isDirectory() ? 'a directory' : 'a special file'})`);
    }
    if (cached && sameFile(cached.identity, identityOf(stat)) && trusted(cached)) return { hit: cached };
    let handle;
    try {
      handle = await fs.open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (err) {
      // Replaced by a rename since the lstat: read it next time.
      if (isErrno(err, 'ENOENT')) return null;
      throw new RegistryUnreadableError(`registry ${path} cannot be read: ${messageOf(err)}`);
    }
    try {
      const identity = identityOf(await handle.stat());
      return { bytes: await handle.readFile(), identity };
    } catch (err) {
      throw new RegistryUnreadableError(`registry ${path} cannot be read: ${messageOf(err)}`);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  /**
   * The current file, parsed and validated, from the cache when the file has
   * not changed since it was last read or written here; null when it does not
   * exist. Throws like `readValidated` on a file that does not validate.
   */
  private async current(): Promise<CachedDocument | null> {
    const raw = await this.readRawWithIdentity(this.location, this.cached);
    if (raw === null) {
      this.cached = null;
      // Written before (its last good copy exists) and gone now: deleted or moved. Starting over from an
      // empty queue would make every live project's session an orphan and overwrite the last good copy.
      if (await fs.lstat(this.lastGoodPath).then(() => true, () => false)) {
        throw new RegistryUnreadableError(
          `registry ${this.location} is missing, but its last good copy ${this.lastGoodPath} exists: it was deleted or moved; put it back or run "agent registry repair" (to start an empty registry, delete the last good copy too)`,
        );
      }
      return null;
    }
    if ('hit' in raw) return raw.hit;
    const problems = this.problemsOf(raw.bytes);
    if (!problems.ok) {
      this.cached = null;
      throw await this.corrupt(raw.bytes, problems.issues);
    }
    this.cached = cacheEntry(problems.document, raw.identity);
    return this.cached;
  }

  /**
   * A private, mutable copy of the current document, its compact JSON and the
   * shared validated document it copies (both null when there is no file).
   */
  async readPrivate(): Promise<{ document: RegistryDocument; canonical: string | null; base: RegistryDocument | null }> {
    const entry = await this.current();
    if (entry === null) return { document: emptyDocument(), canonical: null, base: null };
    return { document: JSON.parse(entry.canonical) as RegistryDocument, canonical: entry.canonical, base: entry.document };
  }

  /** Parse and validate the current file (a private copy); a missing file is an empty registry, with text null. */
  async readValidated(): Promise<{ document: RegistryDocument; text: string | null }> {
    const { document, canonical } = await this.readPrivate();
    return { document, text: canonical };
  }

  /** The error for a file that does not validate, after keeping a copy of it. */
  private async corrupt(bytes: Buffer, issues: string[]): Promise<RegistryCorruptError> {
    const copy = await this.keepCorruptCopy(bytes);
    return new RegistryCorruptError(
      `registry ${this.location} is invalid and will not be changed: ${issues[0]}` +
        (issues.length > 1 ? ` (and ${issues.length - 1} more problem(s); run "agent registry check")` : '') +
        (copy ? `; a copy is kept at ${copy}` : '') +
        '; fix it by hand or run "agent registry repair"',
      issues,
      copy,
    );
  }

  private problemsOf(bytes: Buffer): { ok: true; document: RegistryDocument } | { ok: false; issues: string[] } {
    if (bytes.length === 0) return { ok: false, issues: ['the file is empty'] };
    let raw: unknown;
    try {
      raw = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      return { ok: false, issues: [`the file is not valid JSON: ${messageOf(err)}`] };
    }
    return validateDocument(raw);
  }

  /** Keep one copy per distinct corrupt content: `<registry>.corrupt-<timestamp>`. */
  private async keepCorruptCopy(bytes: Buffer): Promise<string | null> {
    const dir = dirname(this.location);
    const prefix = `${basename(this.location)}.corrupt-`;
    const digest = createHash('sha256').update(bytes).digest('hex');
    try {
      for (const name of await fs.readdir(dir)) {
        if (!name.startsWith(prefix)) continue;
        const existing = join(dir, name);
        const stat = await fs.stat(existing);
        if (stat.size !== bytes.length) continue;
        if (createHash('sha256').update(await fs.readFile(existing)).digest('hex') === digest) return existing;
      }
      const stamp = new Date(this.clock()).toISOString().replace(/[:.]/g, '-');
      const copy = join(dir, `${prefix}${stamp}`);
      await fs.writeFile(copy, bytes, { mode: FILE_MODE, flag: 'wx' });
      return copy;
    } catch {
      return null; // a read-only directory must not hide the real error
    }
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
  async commitDocument(doc: RegistryDocument, base: RegistryDocument | null = null): Promise<void> {
    const validated = validateChanges(doc, base);
    if (!validated.ok) {
      throw new RegistryCorruptError(`refusing to write an invalid registry: ${validated.issues[0]}`, validated.issues, null);
    }
    const text = serialise(validated.document);
    this.cached = null;
    await writeFileAtomic(this.location, text);
    const stat = await fs.stat(this.location).catch(() => null);
    this.written = stat ? { ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs } : null;
    // What we wrote is what the next load reads, unless another writer comes first (its file has another identity).
    if (stat) this.cached = cacheEntry(validated.document, identityOf(stat));
    await writeFileAtomic(this.lastGoodPath, text);
  }

  /** The identity of the registry file as this store last wrote it, so a watcher can tell its own writes. */
  lastWrite(): { ino: number; size: number; mtimeMs: number } | null {
    return this.written;
  }

  /** Run `fn` holding the registry's cross-process lock (what every writer takes), e.g. to claim the registry. */
  locked<T>(fn: () => Promise<T>): Promise<T> {
    return this.withLock(fn);
  }

  private async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const dir = dirname(this.location);
    await fs.mkdir(dir, { recursive: true, mode: DIR_MODE }).catch((err) => {
      throw new RegistryUnreadableError(`registry directory ${dir} cannot be created: ${messageOf(err)}`);
    });
    let release: () => Promise<void>;
    const started = Date.now();
    for (;;) {
      try {
        release = await lockfile.lock(this.location, {
          lockfilePath: this.lockPath,
          realpath: false,
          stale: this.lockStaleMs,
          update: Math.max(1000, Math.floor(this.lockStaleMs / 4)),
          retries: 0,
          onCompromised: () => undefined, // we re-validate on every write; a lost lock must not crash the daemon
        });
        break;
      } catch (err) {
        if (!isErrno(err, 'ELOCKED')) {
          throw new RegistryUnreadableError(`cannot take the registry lock ${this.lockPath}: ${messageOf(err)}`);
        }
        if (Date.now() - started > this.lockWaitMs) {
          throw new RegistryUnreadableError(
            `registry lock ${this.lockPath} is held by another process for more than ${this.lockWaitMs} ms (a lock not refreshed for ${this.lockStaleMs} ms is taken over)`,
          );
        }
        await new Promise((r) => setTimeout(r, 2 + Math.random() * 20));
      }
    }
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }

  async update<T>(mutate: (doc: RegistryDocument, tx: Transaction) => T | Promise<T>): Promise<T> {
    return this.withLock(async () => {
      const adapter = new RegistryFileAdapter(this);
      const db = new Low<RegistryDocument>(adapter, emptyDocument());
      await db.read();
      const base = adapter.base;
      const audit: AuditEntry[] = [];
      const archived: Project[] = [];
      const tx: Transaction = {
        audit: (entry) => audit.push(entry),
        archive: (p) => archived.push(p),
      };
      const result = await mutate(db.data, tx);
      // Archive first: a crash between the two leaves a duplicate in the archive, never a lost project.
      if (archived.length > 0) await this.appendLines(this.archivePath, archived);
      if (base === null || !sameJson(db.data, base)) await db.write();
      if (audit.length > 0) await this.appendLines(this.auditPath, audit);
      return result;
    });
  }

  private async appendLines(path: string, items: readonly unknown[]): Promise<void> {
    const data = Buffer.from(items.map((i) => JSON.stringify(i)).join('\n') + '\n', 'utf8');
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

  async check(): Promise<RegistryHealth> {
    const lastGood = await fs
      .lstat(this.lastGoodPath)
      .then((s) => s.isFile())
      .catch(() => false);
    try {
      const doc = await this.load();
      return { ok: true, issues: [], projects: doc.projects.length, location: this.location, lastGood };
    } catch (err) {
      const issues = err instanceof RegistryCorruptError ? err.issues : [messageOf(err)];
      return { ok: false, issues, projects: 0, location: this.location, lastGood };
    }
  }

  async repair(): Promise<{ restored: boolean; detail: string }> {
    return this.withLock(async () => {
      const current = await this.check();
      if (current.ok) {
        return { restored: false, detail: `registry ${this.location} is valid (${countOf(current.projects, 'project')}); nothing to repair` };
      }
      const good = await this.readRaw(this.lastGoodPath).catch(() => null);
      if (good === null) {
        throw new RegistryUnreadableError(`registry ${this.location} is invalid and there is no last good copy at ${this.lastGoodPath} to restore; fix the file by hand`);
      }
      const problems = this.problemsOf(good);
      if (!problems.ok) {
        throw new RegistryUnreadableError(`the last good copy ${this.lastGoodPath} is itself invalid (${problems.issues[0]}); fix the registry by hand`);
      }
      // Keep the bad bytes before replacing them (a directory in the way is moved aside).
      const bad = await this.readRaw().catch(() => null);
      if (bad !== null) await this.keepCorruptCopy(bad);
      else {
        const stat = await fs.lstat(this.location).catch(() => null);
        if (stat && !stat.isFile()) {
          await fs.rename(this.location, `${this.location}.corrupt-${new Date(this.clock()).toISOString().replace(/[:.]/g, '-')}`);
        }
      }
      await writeFileAtomic(this.location, good);
      await this.appendLines(this.auditPath, [
        { at: new Date(this.clock()).toISOString(), type: 'repair', project: null, by: 'cli', detail: `restored from ${this.lastGoodPath}` },
      ]);
      const count = countOf(problems.document.projects.length, 'project');
      return { restored: true, detail: `restored ${this.location} from ${this.lastGoodPath} (${count})` };
    });
  }

  async readAudit(limit: number): Promise<AuditEntry[]> {
    let text: string;
    try {
      text = await fs.readFile(this.auditPath, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const lines = text.split('\n').filter((l) => l.length > 0);
    const out: AuditEntry[] = [];
    for (const line of lines.slice(-limit)) {
      try {
        out.push(JSON.parse(line) as AuditEntry);
      } catch {
        // a torn line from a crash on a foreign writer; skip it
      }
    }
    return out;
  }

  async readAuditSince(cursor: string | null): Promise<{ entries: AuditEntry[]; cursor: string }> {
    let handle;
    try {
      handle = await fs.open(this.auditPath, fsc.O_RDONLY);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return { entries: [], cursor: '0:0' };
      throw err;
    }
    try {
      const stat = await handle.stat();
      const [ino, offsetText] = (cursor ?? '').split(':');
      // A new file (other inode) or a shorter one starts over; no cursor starts at the end.
      let offset = cursor === null ? stat.size : Number(ino) === stat.ino && Number(offsetText) <= stat.size ? Number(offsetText) : 0;
      const entries: AuditEntry[] = [];
      if (stat.size > offset) {
        const length = Math.min(stat.size - offset, 64 * 1024 * 1024);
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        const text = buffer.subarray(0, bytesRead).toString('utf8');
        const complete = text.lastIndexOf('\n') + 1; // a line still being written is read next time
        for (const line of text.slice(0, complete).split('\n')) {
          if (line.length === 0) continue;
          try {
            entries.push(JSON.parse(line) as AuditEntry);
          } catch {
            // not ours to judge; skip
          }
        }
        offset += Buffer.byteLength(text.slice(0, complete));
      }
      return { entries, cursor: `${stat.ino}:${offset}` };
    } finally {
      await handle.close();
    }
  }

  async close(): Promise<void> {}
}
