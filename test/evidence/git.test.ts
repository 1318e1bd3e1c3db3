import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { gitGatherer, parseGitLog } from '../../src/evidence/git.js';
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
});
