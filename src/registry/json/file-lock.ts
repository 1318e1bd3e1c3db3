/**
 * The registry's cross-process lock (`<registry>.lock`, proper-lockfile):
 * what every writer of a JSON registry takes. A lock not refreshed for
 * `staleMs` belongs to a writer that died and is taken over; a lock held
 * longer than `waitMs` by a live writer is an error naming the lock file.
 */
import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';
import lockfile from 'proper-lockfile';
import { RegistryUnreadableError, messageOf } from '../../errors.js';
import { DIR_MODE, isErrno } from './atomic-file.js';

export interface FileLockOptions {
  /** The file the lock protects; its directory is created (owner-only) when missing. */
  target: string;
  lockPath: string;
  staleMs: number;
  waitMs: number;
  clock: () => number;
}

/** Run `fn` holding the lock; released (best effort) whatever `fn` does. */
export async function withFileLock<T>(options: FileLockOptions, fn: () => Promise<T>): Promise<T> {
  const { target, lockPath, staleMs, waitMs, clock } = options;
  const dir = dirname(target);
  await fs.mkdir(dir, { recursive: true, mode: DIR_MODE }).catch((err) => {
    throw new RegistryUnreadableError(`registry directory ${dir} cannot be created: ${messageOf(err)}`);
  });
  let release: () => Promise<void>;
  const started = clock();
  for (;;) {
    try {
      release = await lockfile.lock(target, {
        lockfilePath: lockPath,
        realpath: false,
        stale: staleMs,
        update: Math.max(1000, Math.floor(staleMs / 4)),
        retries: 0,
        onCompromised: () => undefined, // we re-validate on every write; a lost lock must not crash the daemon
      });
      break;
    } catch (err) {
      if (!isErrno(err, 'ELOCKED')) {
        throw new RegistryUnreadableError(`cannot take the registry lock ${lockPath}: ${messageOf(err)}`);
      }
      if (clock() - started > waitMs) {
        throw new RegistryUnreadableError(
          `registry lock ${lockPath} is held by another process for more than ${waitMs} ms ` +
            `(a lock not refreshed for ${staleMs} ms is taken over)`,
        );
      }
      // Jitter, so writers that lost together do not retry together.
      await new Promise((r) => setTimeout(r, 2 + Math.random() * 20));
    }
  }
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
