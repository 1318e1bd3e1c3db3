/**
 * Links between the repository's Markdown pages: every relative link leads to
 * a file that exists and, with an anchor, to a heading of that file. Sections
 * move between the README and docs/; a link left behind fails here.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { dirname, join, normalize } from 'node:path';
import { REPO_ROOT, headingAnchors, repoFile, repoPathExists } from './markdown.js';

function markdownFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z', '*.md'], { cwd: REPO_ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && repoPathExists(f));
}

/** The link targets of a Markdown text, outside fenced code. */
function linkTargets(text: string): string[] {
  const targets: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) targets.push(m[1] as string);
  }
  return targets;
}

/** Why a relative link from `file` leads nowhere, or null when it resolves. */
function brokenLink(file: string, target: string): string | null {
  if (/^[a-z]+:/i.test(target)) return null; // http(s), mailto: not ours to check
  const [path = '', anchor] = target.split('#');
  const resolved = path === '' ? file : normalize(join(dirname(file), path));
  if (resolved.startsWith('..')) return `${target}: leaves the repository`;
  if (!repoPathExists(resolved)) return `${target}: ${resolved} does not exist`;
  if (anchor !== undefined && resolved.endsWith('.md') && !headingAnchors(join(REPO_ROOT, resolved)).has(anchor)) {
    return `${target}: ${resolved} has no heading #${anchor}`;
  }
  return null;
}

describe('links between the docs', () => {
  it('lead to files and headings that exist', () => {
    const files = markdownFiles();
    expect(files).to.include.members(['README.md', 'docs/design.md']);
    const broken = files.flatMap((f) =>
      linkTargets(repoFile(f))
        .map((t) => brokenLink(f, t))
        .filter((e) => e !== null)
        .map((e) => `${f}: ${e}`),
    );
    expect(broken).to.deep.equal([]);
  });
});
