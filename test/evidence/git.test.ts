import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { GitLogCache, gitGatherer, parseGitLog } from '../../src/evidence/git.js';
import { findGitDir, headSignature } from '../../src/evidence/git-head.js';
import { aConfig, aProject, hangingBinary, TempDirs } from './fixtures.js';

const STARTED_AT = '2026-01-01T10:00:00.000Z';

function git(dir: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...args], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, LC_ALL: 'C', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** An empty commit authored and committed at `at`; returns its full sha. */
function commitAt(dir: string, subject: string, at: string): string {
  git(dir, ['commit', '-q', '--allow-empty', '-m', subject, `--date=${at}`], { GIT_COMMITTER_DATE: at });
  return git(dir, ['rev-parse', 'HEAD']).trim();
}

function newRepo(temp: TempDirs): string {
  const dir = temp.make('git');
  git(dir, ['init', '-q']);
  return dir;
}

describe('evidence: git commits', () => {
  const temp = new TempDirs();
  afterEach(() => temp.cleanup());

  it('reports a matching commit made after startedAt (weight 0.6)', async () => {
    const dir = newRepo(temp);
    commitAt(dir, 'initial', '2026-01-01T09:00:00Z');
    const sha = commitAt(dir, 'feat: orchestration complete', '2026-01-01T11:00:00Z');
    const result = await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), {
      config: aConfig(),
    });
    expect(result).to.deep.equal({
      evidence: { method: 'git', weight: 0.6, detail: `commit ${sha.slice(0, 7)} "feat: orchestration complete"` },
    });
  });

  it('ignores a matching commit made before startedAt', async () => {
    const dir = newRepo(temp);
    commitAt(dir, '[orchestrator] complete', '2026-01-01T09:59:00Z');
    commitAt(dir, 'wip: still going', '2026-01-01T10:30:00Z');
    const result = await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), {
      config: aConfig(),
    });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('uses the configured patterns, including (?i)', async () => {
    const dir = newRepo(temp);
    commitAt(dir, 'Ship It', '2026-01-01T11:00:00Z');
    const result = await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), {
      config: aConfig({ completionGitPatterns: ['(?i)^ship it$'] }),
    });
    expect(result).to.have.nested.property('evidence.method', 'git');
  });

  it('gathers nothing without startedAt', async () => {
    const dir = newRepo(temp);
    commitAt(dir, 'feat: orchestration complete', '2026-01-01T11:00:00Z');
    const result = await gitGatherer.gather(aProject({ projectDir: dir, startedAt: null }), { config: aConfig() });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('gathers nothing, and is not unavailable, outside a git repository', async () => {
    const dir = temp.make('plain');
    const result = await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), {
      config: aConfig(),
    });
    expect(result).to.have.property('evidence', null);
  });

  it('gathers nothing in a repository without commits', async () => {
    const dir = newRepo(temp);
    const result = await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), {
      config: aConfig(),
    });
    expect(result).to.have.property('evidence', null);
  });

  it('reports a broken repository as unavailable, not as "no commit"', async () => {
    const dir = temp.make('broken');
    writeFileSync(join(dir, '.git'), 'this is not a gitdir line\n');
    const result = await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), {
      config: aConfig(),
    });
    expect(result)
      .to.have.property('unavailable')
      .that.matches(/git log in .* failed/);
  });

  it('reports a missing git binary as unavailable', async () => {
    const dir = newRepo(temp);
    const result = await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), {
      config: aConfig(),
      gitPath: join(temp.make('nogit'), 'git'),
    });
    expect(result)
      .to.have.property('unavailable')
      .that.matches(/git is not installed/);
  });

  it('reports a hanging git as unavailable within the timeout', async () => {
    const dir = newRepo(temp);
    const gitPath = hangingBinary(temp.make('bin'), 'git');
    const started = Date.now();
    const result = await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), {
      config: aConfig({ evidenceTimeoutMs: 300 }),
      gitPath,
    });
    expect(result)
      .to.have.property('unavailable')
      .that.matches(/timed out after 300 ms/);
    // Far below the hang (60 s), generous for a busy machine.
    expect(Date.now() - started).to.be.below(10_000);
  });

  it('parses subjects that contain tabs and skips malformed lines', () => {
    expect(parseGitLog('abc\t1767261600\tfeat:\tdone\nnot a commit\n')).to.deep.equal([
      { sha: 'abc', committedAt: 1767261600, subject: 'feat:\tdone' },
    ]);
  });

  describe('the last git log of each project, kept while HEAD stays', () => {
    /** A real git behind a wrapper that appends a line per run to `count`, to tell a spawn from a kept result. */
    function countingGit(): { gitPath: string; runs: () => number } {
      const bin = temp.make('bin');
      const count = join(bin, 'count');
      writeFileSync(count, '');
      const gitPath = join(bin, 'git');
      writeFileSync(gitPath, `#!/bin/sh\necho run >> '${count}'\nexec git "$@"\n`);
      chmodSync(gitPath, 0o755);
      return { gitPath, runs: () => readFileSync(count, 'utf8').split('\n').filter(Boolean).length };
    }

    it('runs git again only when HEAD moves, startedAt or the patterns change', async () => {
      const dir = newRepo(temp);
      commitAt(dir, 'wip', '2026-01-01T10:30:00Z');
      const { gitPath, runs } = countingGit();
      const gitLogs = new GitLogCache();
      const project = aProject({ projectDir: dir, startedAt: STARTED_AT });
      const ctx = { config: aConfig(), gitPath, gitLogs };
      expect(await gitGatherer.gather(project, ctx)).to.deep.equal({ evidence: null });
      expect(await gitGatherer.gather(project, ctx)).to.deep.equal({ evidence: null });
      expect(runs()).to.equal(1);

      const sha = commitAt(dir, 'feat: orchestration complete', '2026-01-01T11:00:00Z');
      expect(await gitGatherer.gather(project, ctx))
        .to.have.nested.property('evidence.detail')
        .that.contains(sha.slice(0, 7));
      expect(runs()).to.equal(2);

      await gitGatherer.gather(aProject({ projectDir: dir, startedAt: '2026-01-01T12:00:00.000Z' }), ctx);
      expect(runs()).to.equal(3);
      await gitGatherer.gather(project, { ...ctx, config: aConfig({ completionGitPatterns: ['^wip$'] }) });
      expect(runs()).to.equal(4);
    });

    it('keeps no failure: an unavailable git is asked again', async () => {
      const dir = newRepo(temp);
      commitAt(dir, 'wip', '2026-01-01T10:30:00Z');
      const gitLogs = new GitLogCache();
      const ctx = { config: aConfig(), gitPath: join(temp.make('nogit'), 'git'), gitLogs };
      const project = aProject({ projectDir: dir, startedAt: STARTED_AT });
      expect(await gitGatherer.gather(project, ctx)).to.have.property('unavailable');
      expect(gitLogs.size).to.equal(0);
    });

    it('runs git every time outside a repository, where there is no HEAD to key on', async () => {
      const dir = temp.make('plain');
      const { gitPath, runs } = countingGit();
      const ctx = { config: aConfig(), gitPath, gitLogs: new GitLogCache() };
      await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), ctx);
      await gitGatherer.gather(aProject({ projectDir: dir, startedAt: STARTED_AT }), ctx);
      expect(runs()).to.equal(2);
    });

    it('holds at most its size, dropping the least recently stored project', () => {
      const cache = new GitLogCache(2);
      cache.set('a', 'k', { evidence: null });
      cache.set('b', 'k', { evidence: null });
      cache.set('a', 'k2', { evidence: null });
      cache.set('c', 'k', { evidence: null });
      expect(cache.size).to.equal(2);
      expect(cache.get('b', 'k')).to.equal(undefined);
      expect(cache.get('a', 'k2')).to.deep.equal({ evidence: null });
      expect(cache.get('a', 'k')).to.equal(undefined);
    });
  });

  describe('HEAD read without git (headSignature)', () => {
    it('changes with each commit, from a subdirectory too, and with a checkout of another branch', () => {
      const dir = newRepo(temp);
      const unborn = headSignature(dir);
      expect(unborn).to.be.a('string').and.contain('unborn');
      commitAt(dir, 'one', '2026-01-01T10:30:00Z');
      const one = headSignature(dir);
      expect(one).to.be.a('string').and.not.equal(unborn);
      mkdirSync(join(dir, 'sub', 'deeper'), { recursive: true });
      expect(headSignature(join(dir, 'sub', 'deeper'))).to.equal(one);
      commitAt(dir, 'two', '2026-01-01T10:31:00Z');
      expect(headSignature(dir)).to.not.equal(one);
      git(dir, ['checkout', '-q', '-b', 'other']);
      const other = headSignature(dir);
      expect(other).to.contain('refs/heads/other');
    });

    it('reads packed refs, a detached HEAD and a linked worktree', () => {
      const dir = newRepo(temp);
      const sha = commitAt(dir, 'one', '2026-01-01T10:30:00Z');
      const loose = headSignature(dir);
      git(dir, ['pack-refs', '--all']);
      const packed = headSignature(dir);
      expect(packed).to.be.a('string').and.contain('packed').and.not.equal(loose);
      // Any rewrite of packed-refs (here a new ref packed) changes the key: its identity stands for its content.
      git(dir, ['tag', 'v1']);
      git(dir, ['pack-refs', '--all']);
      expect(headSignature(dir)).to.be.a('string').and.not.equal(packed);

      git(dir, ['checkout', '-q', '--detach']);
      expect(headSignature(dir)).to.be.a('string').and.contain(sha);

      const tree = join(temp.make('wt'), 'tree');
      git(dir, ['worktree', 'add', '-q', '-b', 'side', tree]);
      expect(findGitDir(tree)).to.contain(join('.git', 'worktrees'));
      const side = headSignature(tree);
      expect(side).to.be.a('string').and.contain('refs/heads/side');
      commitAt(tree, 'on side', '2026-01-01T10:32:00Z');
      expect(headSignature(tree)).to.not.equal(side);
    });

    it('gives null where git must be asked: no repository, GIT_DIR set, a malformed HEAD', () => {
      expect(headSignature(temp.make('plain'))).to.equal(null);
      const dir = newRepo(temp);
      commitAt(dir, 'one', '2026-01-01T10:30:00Z');
      expect(headSignature(dir, { GIT_DIR: join(dir, '.git') })).to.equal(null);
      const head = join(dir, '.git', 'HEAD');
      writeFileSync(`${head}.new`, 'garbage\n');
      renameSync(`${head}.new`, head);
      expect(headSignature(dir)).to.equal(null);
    });
  });
});
