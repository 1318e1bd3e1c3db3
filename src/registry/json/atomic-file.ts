/**
 * Owner-only files written whole or not at all: a temp file in the same
 * directory, fsync, rename over the target, fsync the directory. A crash
 * leaves the old file or the new one, never a mix.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsc, promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The registry and its companions name commands, paths and failure output: owner-only. */
export const FILE_MODE = 0o600;
export const DIR_MODE = 0o700;

export function isErrno(err: unknown, ...codes: string[]): boolean {
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
