/**
 * The repository's own identity: its licence matches package.json, package.json
 * names the repository, and every link into the repository's web pages (the
 * alerts' runbook URLs, the dashboards' links) resolves to a file that exists
 * here and, with an anchor, to a heading of that file.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, headingAnchors, repoFile, repoPathExists } from './markdown.js';

interface PackageJson {
  license?: string;
  repository?: { type?: string; url?: string };
  homepage?: string;
  bugs?: { url?: string };
  files?: string[];
}

const pkg = JSON.parse(repoFile('package.json')) as PackageJson;
/** https://github.com/<owner>/<name>, from package.json's repository. */
const REPOSITORY = (pkg.repository?.url ?? '').replace(/^git\+/, '').replace(/\.git$/, '');

/** Every tracked text file but the lock file. */
function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return out.split('\0').filter((f) => f !== '' && f !== 'package-lock.json' && repoPathExists(f));
}

/** Where `url` (`<REPOSITORY>/blob/main/<path>#<anchor>`) leads here, or why it leads nowhere. */
function resolveUrl(url: string): string | null {
  const prefix = `${REPOSITORY}/blob/main/`;
  if (!url.startsWith(prefix)) return `${url}: not under ${prefix}`;
  const [path = '', anchor] = url.slice(prefix.length).split('#');
  if (!repoPathExists(path)) return `${url}: ${path} does not exist in the repository`;
  if (anchor !== undefined && !headingAnchors(join(REPO_ROOT, path)).has(anchor))
    return `${url}: ${path} has no heading #${anchor}`;
  return null;
}

describe('the repository', () => {
  it('is MIT-licensed in LICENSE and in package.json, to its contributors', () => {
    expect(pkg.license).to.equal('MIT');
    const license = repoFile('LICENSE');
    expect(license.split('\n')[0]).to.equal('MIT License');
    expect(license).to.match(/^Copyright \(c\) \d{4} tmux-orchestrator-agent contributors$/m);
    expect(pkg.files).to.include('LICENSE');
  });

  it('names its repository, home page and issue tracker in package.json', () => {
    expect(REPOSITORY).to.match(/^https:\/\/github\.com\/[\w.-]+\/[\w.-]+$/);
    expect(pkg.repository?.type).to.equal('git');
    expect(pkg.homepage).to.equal(`${REPOSITORY}#readme`);
    expect(pkg.bugs?.url).to.equal(`${REPOSITORY}/issues`);
  });

  it('gives every alert a runbook URL into the repository that resolves to a heading here', () => {
    const files = [
      join('alerts', 'orchestrator-agent.rules.yml'),
      ...readdirSync(join(REPO_ROOT, 'alerts', 'tests')).map((f) => join('alerts', 'tests', f)),
    ];
    const urls = files.flatMap((f) =>
      [...repoFile(f).matchAll(/runbook_url:\s*['"]?([^\s'"]+)/g)].map((m) => m[1] as string),
    );
    expect(urls, 'runbook_url annotations').to.not.be.empty;
    expect(urls.map(resolveUrl).filter((e) => e !== null)).to.deep.equal([]);
    const rules = repoFile(join('alerts', 'orchestrator-agent.rules.yml'));
    const alerts = [...rules.matchAll(/^\s*- alert:\s*(\S+)/gm)].length;
    expect([...rules.matchAll(/runbook_url:/g)].length, 'one runbook_url per alert').to.equal(alerts);
  });

  it('has no link into its web pages, in any tracked file, that leads to a missing file or heading', () => {
    const pattern = new RegExp(`${REPOSITORY.replace(/[.]/g, '\\.')}/blob/main/[^\\s"'<>)\\]\`]+`, 'g');
    const broken = trackedFiles().flatMap((f) =>
      [...repoFile(f).matchAll(pattern)]
        .map((m) => resolveUrl(m[0]))
        .filter((e) => e !== null)
        .map((e) => `${f}: ${e}`),
    );
    expect(broken).to.deep.equal([]);
  });
});
