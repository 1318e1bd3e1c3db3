/**
 * Reading the registry file: a regular file only (a symbolic link or a
 * directory is refused, never followed), its bytes and the identity of the
 * file they came from, parsed and validated; and the copy of a file that did
 * not validate, kept once per distinct content before anything refuses it.
 */
import { createHash } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RegistryUnreadableError, messageOf } from '../../errors.js';
import { validateDocument, type ValidationResult } from '../schema.js';
import { FILE_MODE, isErrno } from './atomic-file.js';
import { identityOf, sameFile, trusted, type CachedDocument, type FileIdentity } from './document-cache.js';

export type FileRead<D> = { bytes: Buffer; identity: FileIdentity } | { hit: CachedDocument<D> } | null;

/**
 * The bytes and the identity of the file they were read from (fstat of the
 * open handle, so the two always match), or, when `cached` still describes
 * the file, that entry and no read at all; null when there is no file.
 */
export async function readRegistryFile<D>(path: string, cached: CachedDocument<D> | null = null): Promise<FileRead<D>> {
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null;
    throw new RegistryUnreadableError(`registry ${path} cannot be read: ${messageOf(err)}`);
  }
  if (stat.isSymbolicLink()) {
    throw new RegistryUnreadableError(
      `registry ${path} is a symbolic link; refusing to follow it (point AGENT_REGISTRY at the real file)`,
    );
  }
  if (!stat.isFile()) {
    const kind = stat.isDirectory() ? 'a directory' : 'a special file';
    throw new RegistryUnreadableError(`registry ${path} is not a regular file (${kind})`);
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

/** Raw bytes of a registry file, or null when it does not exist. */
export async function readRegistryBytes(path: string): Promise<Buffer | null> {
  const raw = await readRegistryFile(path);
  return raw === null || 'hit' in raw ? null : raw.bytes;
}

/** Parse and validate the bytes of a registry file. */
export function parseRegistry(bytes: Buffer): ValidationResult {
  if (bytes.length === 0) return { ok: false, issues: ['the file is empty'] };
  let raw: unknown;
  try {
    raw = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, issues: [`the file is not valid JSON: ${messageOf(err)}`] };
  }
  return validateDocument(raw);
}

/** `<registry>.corrupt-<timestamp>`: where a registry that did not validate is kept. */
export function corruptCopyPath(registry: string, now: number): string {
  return `${registry}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
}

/** Keep one copy per distinct corrupt content; the copy's path, or null when it could not be kept. */
export async function keepCorruptCopy(registry: string, bytes: Buffer, now: number): Promise<string | null> {
  const dir = dirname(registry);
  const prefix = `${basename(registry)}.corrupt-`;
  const digest = createHash('sha256').update(bytes).digest('hex');
  try {
    for (const name of await fs.readdir(dir)) {
      if (!name.startsWith(prefix)) continue;
      const existing = join(dir, name);
      const stat = await fs.stat(existing);
      if (stat.size !== bytes.length) continue;
      if (
        createHash('sha256')
          .update(await fs.readFile(existing))
          .digest('hex') === digest
      )
        return existing;
    }
    const copy = corruptCopyPath(registry, now);
    await fs.writeFile(copy, bytes, { mode: FILE_MODE, flag: 'wx' });
    return copy;
  } catch {
    return null; // a read-only directory must not hide the real error
  }
}
