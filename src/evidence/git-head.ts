/**
 * What a repository's HEAD points at, read from its files without running git:
 * the key under which the git gatherer keeps its last `git log` of a project.
 * `git log` from HEAD prints the same for the same commit, so an unchanged
 * HEAD needs no new child process (each one cost the idle daemon about 8 ms of
 * its own CPU plus git's). Only the layouts read here are keyed: a `.git`
 * directory or `gitdir:` file found walking up from the project directory, a
 * worktree's `commondir`, HEAD as a symbolic ref to a loose or packed ref, or
 * detached. Anything else (GIT_DIR in the environment, a bare or reftable
 * repository, an unreadable file) gives null, and git runs every time.
 */
import { lstatSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';

/** The git environment that changes which repository, or which history, `git -C dir log` reads. */
const REPOSITORY_ENV = [
  'GIT_DIR',
  'GIT_WORK_TREE',
  'GIT_COMMON_DIR',
  'GIT_OBJECT_DIRECTORY',
  'GIT_CEILING_DIRECTORIES',
];
const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;
const SYMREF = /^ref: (refs\/[^\s]+)$/;

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The git directory of the repository `dir` is in: the nearest `.git` directory or `gitdir:` file upwards. */
export function findGitDir(dir: string): string | null {
  let current = resolve(dir);
  for (;;) {
    const dotGit = join(current, '.git');
    const stat = lstatSync(dotGit, { throwIfNoEntry: false });
    if (stat?.isDirectory()) return dotGit;
    if (stat?.isFile()) {
      const target = /^gitdir: (.+)$/m.exec(readText(dotGit) ?? '')?.[1]?.trim();
      if (!target) return null;
      return isAbsolute(target) ? target : resolve(current, target);
    }
    if (stat !== undefined) return null; // a symlink or something else: not a layout read here
    const parent = dirname(current);
    if (parent === current) return null;
    current = parent;
  }
}

/** A ref's value: its loose file's sha, else the identity of packed-refs, else "unborn" (a branch without commits). */
function refValue(commonDir: string, ref: string): string | null {
  const loose = readText(join(commonDir, ref));
  if (loose !== null) {
    const sha = loose.trim();
    return SHA.test(sha) ? sha : null;
  }
  // The packed file is replaced as a whole when any ref in it changes: its identity stands for its content.
  const packed = statSync(join(commonDir, 'packed-refs'), { throwIfNoEntry: false, bigint: true });
  if (packed === undefined) return 'unborn';
  return `packed ${packed.ino}:${packed.size}:${packed.mtimeNs}`;
}

/**
 * A string that changes whenever what `git log` prints from HEAD in `dir` may
 * change: the git directory, HEAD, and the commit (or packed-refs file) it
 * resolves to. Null when it cannot be told without git.
 */
export function headSignature(dir: string, env: NodeJS.ProcessEnv = process.env): string | null {
  if (REPOSITORY_ENV.some((name) => env[name] !== undefined)) return null;
  try {
    const gitDir = findGitDir(dir);
    if (gitDir === null) return null;
    const head = readText(join(gitDir, 'HEAD'))?.trim();
    if (head === undefined) return null;
    if (SHA.test(head)) return `${gitDir}\n${head}`;
    const ref = SYMREF.exec(head)?.[1];
    // A reftable repository's HEAD names refs/heads/.invalid; its refs are not files.
    if (ref === undefined || ref.includes('..') || ref.endsWith('/.invalid')) return null;
    const commondir = readText(join(gitDir, 'commondir'))?.trim();
    const commonDir = commondir ? resolve(gitDir, commondir) : gitDir;
    const value = refValue(commonDir, ref);
    return value === null ? null : `${gitDir}\n${ref}\n${value}`;
  } catch {
    return null;
  }
}
