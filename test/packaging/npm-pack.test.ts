/**
 * The npm package: `npm pack` holds only what runs (dist/ without test files
 * or source maps, config/default.yaml, README.md, LICENSE, package.json), and the
 * tarball installed into an empty directory (production dependencies from
 * the registry) gives a working `agent`. Needs `npm run build` first (npm
 * test does it) and the npm registry (or npm's cache) for the install.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../alerts/tools.js';
import { cleanEnv, tempDir } from '../helpers/cli.js';

interface PackResult {
  filename: string;
  files: { path: string }[];
}

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = cleanEnv(),
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout: 120_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({
        code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
      });
    });
  });
}

describe('npm package', function () {
  this.timeout(120_000);
  let work: { path: string; cleanup: () => void };
  let packed: PackResult;
  let tarball: string;
  const version = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

  before(async () => {
    if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js')))
      throw new Error('dist/ is missing: run `npm run build` first');
    work = tempDir('toa-pack-');
    const r = await run('npm', ['pack', '--json', '--pack-destination', work.path], REPO_ROOT);
    if (r.code !== 0) throw new Error(`npm pack failed:\n${r.stderr}`);
    // npm prints the JSON document after any lifecycle output.
    packed = (JSON.parse(r.stdout.slice(r.stdout.indexOf('['))) as PackResult[])[0] as PackResult;
    tarball = join(work.path, packed.filename);
  });

  after(() => work?.cleanup());

  it('holds dist/, config/default.yaml, README.md, LICENSE and package.json, and no sources, tests, maps or benchmarks', async () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).to.include.members([
      'package.json',
      'README.md',
      'LICENSE',
      'config/default.yaml',
      'dist/cli/main.js',
      'dist/agent.js',
    ]);
    // The Redis registry's Lua scripts are files the build copies next to their loader.
    expect(paths).to.include.members(['dist/registry/redis/lua/commit-8.lua', 'dist/registry/redis/lua/leader-2.lua']);
    for (const p of paths) {
      expect(p, p).to.match(
        /^(dist\/.+\.js|dist\/registry\/redis\/lua\/[a-z-]+-\d+\.lua|config\/default\.yaml|README\.md|package\.json|LICENSE)$/,
      );
      expect(p, p).to.not.match(/(^|\/)(src|test|bench)\/|\.test\.js$|\.map$|\.ts$/);
    }
    // The tarball itself, read back with tar.
    const listed = await run('tar', ['-tzf', tarball], work.path);
    expect(listed.code, listed.stderr).to.equal(0);
    const entries = listed.stdout.split('\n').filter(Boolean);
    expect(entries.length).to.equal(paths.length);
    expect(entries.filter((e) => /^package\/(src|test|bench|node_modules)\//.test(e))).to.deep.equal([]);
  });

  it('installed from the tarball into an empty directory, `agent --help` works and the CLI runs against a registry', async () => {
    const dir = join(work.path, 'install');
    mkdirSync(dir);
    const installed = await run(
      'npm',
      ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', tarball],
      dir,
    );
    expect(installed.code, `npm install:\n${installed.stdout}\n${installed.stderr}`).to.equal(0);
    const bin = join(dir, 'node_modules', '.bin', 'agent');
    const help = await run(bin, ['--help'], dir);
    expect(help.code, help.stderr).to.equal(0);
    expect(help.stdout).to.match(/^Usage: agent /);
    for (const command of ['serve', 'heal', 'status', 'enqueue', 'demo'])
      expect(help.stdout).to.match(new RegExp(`\\n  ${command}\\b`));
    const v = await run(bin, ['--version'], dir);
    expect(v.stdout.trim()).to.equal(version);
    // No dev dependency came along.
    const modules = await run('npm', ['ls', '--all', '--parseable'], dir);
    expect(modules.stdout).to.not.match(/node_modules\/(typescript|mocha|tsx|chai)$/m);
    // The installed CLI does real work: a registry in the directory, a project, its status.
    const env = cleanEnv({ AGENT_REGISTRY: join(dir, 'data', 'registry.json') });
    const enq = await run(bin, ['enqueue', '--id', 'p1'], dir, env);
    expect(enq.code, enq.stderr).to.equal(0);
    const status = await run(bin, ['status', '--json'], dir, env);
    expect(status.code, status.stderr).to.equal(0);
    const doc = JSON.parse(status.stdout) as { projects: { id: string; state: string }[] };
    expect(doc.projects.map((p) => [p.id, p.state])).to.deep.equal([['p1', 'queued']]);
  });
});
