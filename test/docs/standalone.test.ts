/**
 * The repository stands alone: no tracked file points at a design document,
 * a shared folder or an issue tracker outside it. What a reader needs is in
 * docs/ (docs/design.md for the contract), and a reference to something they
 * cannot open is a dead end.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { REPO_ROOT } from './markdown.js';

/**
 * What may not appear: a path into a shared folder beside the repository, the
 * outside design file and its sections, "issue N". Built from pieces so this
 * file does not match itself.
 */
const OUTSIDE = ['\\.\\./shared', 'DESIGN\\.md', 'DESIGN \u00a7', '[Ii]ssue [0-9]'].join('|');

/** `git grep` over every tracked file but the lock file: the matching lines, or [] when there are none. */
function outsideReferences(): Promise<string[]> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      ['grep', '-n', '-I', '-E', OUTSIDE, '--', '.', ':(exclude)package-lock.json'],
      { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        // git grep exits 1 when nothing matches.
        if (error && error.code !== 1) reject(new Error(`git grep failed: ${stderr}`));
        else resolve(String(stdout).split('\n').filter(Boolean));
      },
    );
  });
}

describe('the repository stands alone', () => {
  it('has no tracked file that points outside it (a shared design file, its sections, an issue number)', async () => {
    expect(await outsideReferences()).to.deep.equal([]);
  });
});
