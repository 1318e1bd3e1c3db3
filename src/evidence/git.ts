/**
 * Git evidence (docs/design.md#completion-detection): a commit in projectDir since startedAt whose
 * subject matches `completionGitPatterns` (weight 0.6). Not a repository, or a
 * repository without commits, is "nothing found"; git missing, a timeout or
 * any other git error is `unavailable`.
 */
import { execFile } from 'node:child_process';

import { compilePatterns } from '../core/rules/patterns.js';
import { ms, type Project } from '../core/model/project.js';
import { errorText, withDeadline } from './deadline.js';
import { headSignature } from './git-head.js';
import { programOptions } from '../program-options.js';
import { type EvidenceGatherer, type GatherContext, type GatherResult, isUnavailable } from './types.js';

const GIT_WEIGHT = 0.6;
const MAX_COMMITS = 200;
/** 200 commits of a hash, a timestamp and a subject fit easily. */
const MAX_BUFFER = 1024 * 1024;
const MAX_SUBJECT_IN_DETAIL = 200;

interface Commit {
  sha: string;
  /** Committer date, epoch seconds. */
  committedAt: number;
  subject: string;
}

type GitOutcome = { ok: true; stdout: string } | { ok: false; error: string; notARepo: boolean };

/** git says so (LC_ALL=C) when the directory is not in a repository, has no commits yet, or is missing. */
function isNothingToRead(stderr: string): boolean {
  return (
    /not a git repository/.test(stderr) ||
    /does not have any commits yet/.test(stderr) ||
    /cannot change to '.*': No such file or directory/.test(stderr)
  );
}

function runGit(gitPath: string, projectDir: string, args: string[], timeoutMs: number): Promise<GitOutcome> {
  return new Promise((resolve) => {
    execFile(
      gitPath,
      ['-C', projectDir, ...args],
      // No prompt for credentials, no optional lock taken in the project's repository, no pager.
      programOptions(timeoutMs, MAX_BUFFER, { GIT_TERMINAL_PROMPT: '0', GIT_OPTIONAL_LOCKS: '0', GIT_PAGER: 'cat' }),
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ ok: true, stdout });
          return;
        }
        const errno = (error as NodeJS.ErrnoException).code;
        if (error.killed === true && error.signal === 'SIGKILL') {
          resolve({ ok: false, error: `git log in ${projectDir} timed out after ${timeoutMs} ms`, notARepo: false });
        } else if (errno === 'ENOENT') {
          resolve({ ok: false, error: `git is not installed or not on PATH (${gitPath})`, notARepo: false });
        } else if (errno === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
          resolve({
            ok: false,
            error: `git log in ${projectDir} printed more than ${MAX_BUFFER} bytes`,
            notARepo: false,
          });
        } else {
          const why = (stderr.trim() || error.message).split('\n')[0] ?? '';
          resolve({ ok: false, error: `git log in ${projectDir} failed: ${why}`, notARepo: isNothingToRead(stderr) });
        }
      },
    );
  });
}

/** Parse `%H%x09%ct%x09%s` lines; a subject may itself contain tabs. */
export function parseGitLog(stdout: string): Commit[] {
  const commits: Commit[] = [];
  for (const line of stdout.split('\n')) {
    const first = line.indexOf('\t');
    const second = first < 0 ? -1 : line.indexOf('\t', first + 1);
    if (second < 0) continue;
    const committedAt = Number(line.slice(first + 1, second));
    if (!Number.isFinite(committedAt)) continue;
    commits.push({ sha: line.slice(0, first), committedAt, subject: line.slice(second + 1) });
  }
  return commits;
}

function quoteSubject(subject: string): string {
  return subject.length > MAX_SUBJECT_IN_DETAIL ? `"${subject.slice(0, MAX_SUBJECT_IN_DETAIL)}…"` : `"${subject}"`;
}

/**
 * Each project's last `git log` result and the HEAD it was read at (git-head.ts), kept by the daemon between
 * cycles: a full sync runs git again only where HEAD moved, startedAt or the patterns changed. Failures are never
 * kept, so they are retried.
 */
export class GitLogCache {
  private readonly entries = new Map<string, { key: string; result: GatherResult }>();

  constructor(private readonly maxEntries = 10_000) {}

  get(project: string, key: string): GatherResult | undefined {
    const entry = this.entries.get(project);
    return entry?.key === key ? entry.result : undefined;
  }

  set(project: string, key: string, result: GatherResult): void {
    this.entries.delete(project);
    this.entries.set(project, { key, result });
    // Oldest first: a Map iterates in insertion order, and a set moves the project to the end.
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/** `git`: a matching commit subject since startedAt (weight 0.6). */
export const gitGatherer: EvidenceGatherer = {
  method: 'git',
  async gather(project: Project, ctx: GatherContext): Promise<GatherResult> {
    const startedAt = ms(project.startedAt);
    if (project.projectDir === null || project.projectDir === '' || startedAt === null) return { evidence: null };
    let patterns: RegExp[];
    try {
      patterns = compilePatterns(ctx.config.completionGitPatterns);
    } catch (error) {
      return { unavailable: `completionGitPatterns: ${errorText(error)}` };
    }
    if (patterns.length === 0) return { evidence: null };

    const head = ctx.gitLogs ? headSignature(project.projectDir) : null;
    const cacheKey = head === null ? null : JSON.stringify([head, startedAt, ctx.config.completionGitPatterns]);
    if (cacheKey !== null) {
      const known = ctx.gitLogs?.get(project.id, cacheKey);
      if (known !== undefined) return known;
    }
    const result = await readGitLog(project.projectDir, startedAt, patterns, ctx);
    if (cacheKey !== null && !isUnavailable(result)) ctx.gitLogs?.set(project.id, cacheKey, result);
    return result;
  },
};

/** Run `git log` in projectDir and look for a matching subject since startedAt. */
async function readGitLog(
  projectDir: string,
  startedAt: number,
  patterns: RegExp[],
  ctx: GatherContext,
): Promise<GatherResult> {
  const timeoutMs = ctx.config.evidenceTimeoutMs;
  let outcome: GitOutcome;
  try {
    // execFile kills git at the timeout; the deadline also covers a git whose
    // grandchildren keep its output pipes open after the kill.
    outcome = await withDeadline(
      runGit(
        ctx.gitPath ?? 'git',
        projectDir,
        // %ct lets us re-check the boundary ourselves: --since is approximate and second-granular.
        [
          'log',
          `--since=${new Date(startedAt).toISOString()}`,
          '--format=%H%x09%ct%x09%s',
          '-n',
          String(MAX_COMMITS),
          '--no-color',
        ],
        timeoutMs,
      ),
      timeoutMs + 250,
      `git log in ${projectDir}`,
    );
  } catch (error) {
    return { unavailable: errorText(error) };
  }
  if (!outcome.ok) return outcome.notARepo ? { evidence: null, note: outcome.error } : { unavailable: outcome.error };

  const since = Math.floor(startedAt / 1000);
  for (const commit of parseGitLog(outcome.stdout)) {
    if (commit.committedAt < since) continue;
    if (patterns.some((p) => p.test(commit.subject))) {
      return {
        evidence: {
          method: 'git',
          weight: GIT_WEIGHT,
          detail: `commit ${commit.sha.slice(0, 7)} ${quoteSubject(commit.subject)}`,
        },
      };
    }
  }
  return { evidence: null };
}
