/**
 * The validated document a JSON store last read or wrote, keyed by the
 * file's identity (inode, size, mtime, ctime): parsing and validating a
 * registry of thousands of projects costs far more than a cycle's scan, so a
 * load of an unchanged file is one lstat. The cached document is deep-frozen
 * and shared by every `load()`; a writer gets a private copy. The file's bytes
 * are kept too: when another writer changes the file, the re-read compares
 * each project's text with them and validates only what changed
 * (./project-text.ts).
 */
import type { ProjectSpans } from './project-text.js';

/** What tells one version of the registry file from another without reading it. */
export interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** A validated document and the file version it came from. */
export interface CachedDocument<D> {
  identity: FileIdentity;
  /** Deep-frozen: shared by every `load()` until the file changes. */
  document: D;
  /** The file's bytes, as read or as written. */
  bytes: Buffer;
  /**
   * Where each project of `document` is in `bytes`; null when they are not in the serialiser's layout, undefined
   * until worked out (a written file: only when a re-read needs it).
   */
  spans: ProjectSpans | null | undefined;
  /** When the entry was taken (epoch ms), for the coarse-timestamp check. */
  takenAt: number;
}

export function identityOf(stat: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): FileIdentity {
  return { ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs, ctimeMs: stat.ctimeMs };
}

export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
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
export function trusted(entry: CachedDocument<unknown>): boolean {
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

/** An entry for `document`, read or written as `bytes`, the file with `identity`, at `takenAt` (the store's clock). */
export function cacheEntry<D>(
  document: D,
  file: { bytes: Buffer; spans: ProjectSpans | null | undefined; identity: FileIdentity },
  takenAt: number,
): CachedDocument<D> {
  return { identity: file.identity, document: deepFreeze(document), bytes: file.bytes, spans: file.spans, takenAt };
}
