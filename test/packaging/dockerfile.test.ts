/**
 * The Dockerfile, checked without a Docker engine (this machine has only the
 * `docker` client; `docker build` needs a daemon). The structure is read from
 * the file, and the runtime stage is then *replayed* on this machine: the
 * files it copies are copied into a temporary root, its `npm ci --omit=dev`
 * runs there, its ENTRYPOINT + CMD starts the agent, and its HEALTHCHECK
 * command is run against it. What this cannot prove: that the apt packages
 * install in the image, that the image builds, or how it behaves in a
 * container (PID namespace, mounts, uid); the last test does that when an
 * engine answers `docker info`, and is skipped otherwise.
 */
import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { cleanEnv, tempDir } from '../helpers/cli.js';
import { eventually, freePort } from '../helpers/daemon.js';
import { PrivateTmux } from '../helpers/tmux.js';
import { REPO_ROOT } from '../alerts/tools.js';
import {
  copiesOf,
  execForm,
  healthcheckOf,
  isIgnored,
  loadDockerignore,
  loadStages,
  type Stage,
} from './dockerfile.js';

const DOCKERFILE = join(REPO_ROOT, 'Dockerfile');
const DOCKERIGNORE = join(REPO_ROOT, '.dockerignore');
const BASE_IMAGE = 'node:20-bookworm-slim';

function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      {
        cwd: options.cwd,
        env: options.env ?? process.env,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 32 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

function keywords(stage: Stage, keyword: string): string[] {
  return stage.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
}

describe('Dockerfile (static: no Docker engine here)', function () {
  const stages = loadStages(DOCKERFILE);
  const ignore = loadDockerignore(DOCKERIGNORE);
  const build = stages[0] as Stage;
  const runtime = stages.at(-1) as Stage;

  it('has two stages on the official Node 20 slim image: build, then runtime', () => {
    expect(stages.map((s) => [s.image, s.name])).to.deep.equal([
      [BASE_IMAGE, 'build'],
      [BASE_IMAGE, 'runtime'],
    ]);
  });

  it('the build stage installs every dependency with npm ci and runs npm run build', () => {
    const runs = keywords(build, 'RUN');
    expect(
      runs.some((r) => /^npm ci\b/.test(r) && !/--omit=dev/.test(r)),
      runs.join('\n'),
    ).to.equal(true);
    expect(
      runs.some((r) => /^npm run build\b/.test(r)),
      runs.join('\n'),
    ).to.equal(true);
    const copied = copiesOf(build).flatMap((c) => c.sources);
    expect(copied).to.include.members([
      'package.json',
      'package-lock.json',
      'src',
      'tsconfig.json',
      'tsconfig.build.json',
    ]);
  });

  it('the runtime stage installs production dependencies only, and copies only dist/, config/default.yaml and the package files', () => {
    const runs = keywords(runtime, 'RUN');
    const npm = runs.filter((r) => /\bnpm\b/.test(r));
    expect(npm, 'one npm step').to.have.length(1);
    expect(npm[0]).to.match(/^npm ci --omit=dev\b/);
    const copies = copiesOf(runtime);
    const fromContext = copies
      .filter((c) => c.from === null)
      .flatMap((c) => c.sources)
      .sort();
    expect(fromContext).to.deep.equal(['config/default.yaml', 'package-lock.json', 'package.json']);
    const fromBuild = copies.filter((c) => c.from !== null);
    expect(fromBuild.map((c) => [c.from, c.sources])).to.deep.equal([['build', ['/src/dist']]]);
    for (const c of copies.filter((x) => x.from === null)) {
      for (const s of c.sources) expect(s, `line ${c.line}`).to.not.match(/node_modules|^(src|test|bench)(\/|$)/);
    }
  });

  it('installs tmux and procps with apt-get, without recommends, and removes the package lists in the same layer', () => {
    const apt = keywords(runtime, 'RUN').find((r) => /apt-get install/.test(r));
    expect(apt, 'an apt-get install step').to.be.a('string');
    const words = (apt as string).split(/\s+/);
    expect(words).to.include.members(['tmux', 'procps', '--no-install-recommends', '-y']);
    expect(apt).to.match(/^apt-get update && apt-get install /);
    expect(apt).to.match(/&& rm -rf \/var\/lib\/apt\/lists\/\*$/);
  });

  it('runs as a non-root user it creates, exposes 9820, and starts `node /app/dist/cli/main.js serve`', () => {
    const users = keywords(runtime, 'USER');
    expect(users).to.have.length(1);
    const user = users[0] as string;
    expect(user).to.not.match(/^(root|0)(:|$)/);
    expect(
      keywords(runtime, 'RUN').some((r) => new RegExp(`useradd .*\\b${user}$`).test(r)),
      'the user is created',
    ).to.equal(true);
    const order = runtime.instructions.map((i) => i.keyword);
    expect(order.indexOf('USER')).to.be.below(order.indexOf('ENTRYPOINT'));
    expect(keywords(runtime, 'EXPOSE')).to.deep.equal(['9820']);
    expect(execForm(keywords(runtime, 'ENTRYPOINT').at(-1) ?? '')).to.deep.equal(['node', '/app/dist/cli/main.js']);
    expect(execForm(keywords(runtime, 'CMD').at(-1) ?? '')).to.deep.equal(['serve']);
  });

  it('checks health on /healthz with node (no curl or wget in the image)', () => {
    const hc = healthcheckOf(runtime);
    expect(hc, 'a HEALTHCHECK').to.not.equal(null);
    expect(hc?.command?.[0]).to.equal('node');
    expect(hc?.raw).to.include('/healthz');
    expect(hc?.raw).to.not.match(/\b(curl|wget)\b/);
    expect(Object.keys(hc?.options ?? {})).to.include.members(['interval', 'timeout', 'retries']);
  });

  it('.dockerignore keeps tests, node_modules, .git and local builds out of the context, but not what the Dockerfile copies', () => {
    for (const path of [
      '.git',
      'node_modules',
      'node_modules/commander/index.js',
      'test',
      'test/packaging/dockerfile.test.ts',
      'dist',
      'data/registry.json',
      'bench',
      'x.tgz',
    ]) {
      expect(isIgnored(path, ignore), path).to.equal(true);
    }
    for (const stage of stages) {
      for (const c of copiesOf(stage).filter((x) => x.from === null)) {
        for (const s of c.sources) {
          expect(isIgnored(s, ignore), `${s} (line ${c.line}) is excluded by .dockerignore`).to.equal(false);
          expect(existsSync(join(REPO_ROOT, s)), `${s} (line ${c.line}) exists`).to.equal(true);
        }
      }
    }
  });
});

describe('Dockerfile runtime stage, replayed without Docker', function () {
  this.timeout(180_000);
  const runtime = loadStages(DOCKERFILE).at(-1) as Stage;
  let root: { path: string; cleanup: () => void };
  const tmux = new PrivateTmux('image');
  let agent: ChildProcess | null = null;

  /** Where a path of the image lives in the temporary root. */
  const inRoot = (imagePath: string): string => join(root.path, imagePath);

  before(async function () {
    if (!existsSync(join(REPO_ROOT, 'dist', 'cli', 'main.js')))
      throw new Error('dist/ is missing: run `npm run build` first');
    root = tempDir('toa-image-');
    // Replay WORKDIR, COPY and the npm step; the apt, useradd and chmod steps need an image and are only read.
    let workdir = '/';
    for (const ins of runtime.instructions) {
      if (ins.keyword === 'WORKDIR') {
        workdir = posix.resolve(workdir, ins.args.trim());
        mkdirSync(inRoot(workdir), { recursive: true });
      } else if (ins.keyword === 'COPY') {
        for (const c of copiesOf({ ...runtime, instructions: [ins] })) {
          for (const s of c.sources) {
            // The build stage's /src is this checkout, built by `npm run build`.
            const from = c.from === 'build' ? join(REPO_ROOT, posix.relative('/src', s)) : join(REPO_ROOT, s);
            const dest = posix.resolve(workdir, c.dest);
            const target = c.dest.endsWith('/') ? join(inRoot(dest), posix.basename(s)) : inRoot(dest);
            cpSync(from, target, { recursive: true, filter: (p) => !/\.test\.js(\.map)?$/.test(p) });
          }
        }
      } else if (ins.keyword === 'RUN' && /^npm ci\b/.test(ins.args)) {
        const step = ins.args.split('&&')[0]?.trim().split(/\s+/) ?? [];
        const r = await run('npm', [...step.slice(1), '--prefer-offline'], {
          cwd: inRoot(workdir),
          timeoutMs: 170_000,
        });
        if (r.code !== 0) throw new Error(`${ins.args} failed in ${inRoot(workdir)}:\n${r.stdout}\n${r.stderr}`);
      }
    }
  });

  after(() => {
    agent?.kill('SIGKILL');
    tmux.destroy();
    root?.cleanup();
  });

  function imageEnv(extra: Record<string, string>): Record<string, string> {
    const env: Record<string, string> = {};
    for (const ins of runtime.instructions.filter((i) => i.keyword === 'ENV')) {
      const m = /^(\S+?)=(.*)$/.exec(ins.args.trim());
      if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2].startsWith('/') ? inRoot(m[2]) : m[2];
    }
    return cleanEnv({ ...env, ...extra });
  }

  it('holds dist/ without test files, config/default.yaml, and no dev dependency in node_modules', () => {
    const app = inRoot('/app');
    expect(readdirSync(app).sort()).to.deep.equal([
      'config',
      'dist',
      'node_modules',
      'package-lock.json',
      'package.json',
    ]);
    expect(readdirSync(join(app, 'config'))).to.deep.equal(['default.yaml']);
    expect(statSync(join(app, 'dist', 'cli', 'main.js')).isFile()).to.equal(true);
    const modules = readdirSync(join(app, 'node_modules'));
    expect(modules).to.include.members(['commander', 'express', 'prom-client', 'winston']);
    for (const dev of ['typescript', 'mocha', 'tsx', 'chai']) expect(modules, dev).to.not.include(dev);
    // winston's logform depends on @types/triple-beam at run time; the project's own @types/* are dev-only.
    const types = readdirSync(join(app, 'node_modules', '@types'));
    for (const dev of ['node', 'mocha', 'express', 'chai']) expect(types, `@types/${dev}`).to.not.include(dev);
  });

  it('ENTRYPOINT + CMD serve the agent, and the HEALTHCHECK command passes against it and fails once it is gone', async () => {
    const entry = execForm(runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT').at(-1)?.args ?? '') ?? [];
    const cmd = execForm(runtime.instructions.filter((i) => i.keyword === 'CMD').at(-1)?.args ?? '') ?? [];
    const health = healthcheckOf(runtime)?.command ?? [];
    expect(entry[0]).to.equal('node');
    const port = await freePort();
    const registryDir = inRoot('/var/lib/tmux-orchestrator-agent');
    mkdirSync(registryDir, { recursive: true });
    const env = imageEnv({ AGENT_LISTEN: `127.0.0.1:${port}`, AGENT_TMUX_SOCKETS: tmux.socket, LOG_LEVEL: 'warn' });
    const argv = [...entry.slice(1).map((a) => (a.startsWith('/') ? inRoot(a) : a)), ...cmd];
    let stderr = '';
    agent = spawn(process.execPath, argv, { cwd: registryDir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    agent.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    await eventually(() => /status page\s+http:/.test(stderr), 15_000, `the agent to serve:\n${stderr}`);
    // The image's ENV puts the registry in its volume directory.
    await eventually(
      () => existsSync(join(registryDir, 'registry.json')) || /registry/.test(stderr),
      10_000,
      'the registry in the volume directory',
    );
    expect(stderr).to.include(join(registryDir, 'registry.json'));
    const healthArgs = health.slice(1);
    const up = await run(process.execPath, healthArgs, {
      env: imageEnv({ AGENT_LISTEN: `0.0.0.0:${port}` }),
      timeoutMs: 10_000,
    });
    expect(up.code, `healthcheck against a running agent: ${up.stderr}`).to.equal(0);
    agent.kill('SIGTERM');
    await new Promise((r) => agent?.once('exit', r));
    agent = null;
    const down = await run(process.execPath, healthArgs, {
      env: imageEnv({ AGENT_LISTEN: `0.0.0.0:${port}` }),
      timeoutMs: 10_000,
    });
    expect(down.code, 'healthcheck with nothing listening').to.equal(1);
  });
});

describe('Dockerfile with a Docker engine', function () {
  this.timeout(900_000);

  it('builds, and the container answers /healthz and reports healthy', async function () {
    const info = await run('docker', ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
    if (info.code !== 0) {
      // This machine has the docker client only; say so in the report instead of pretending.
      this.skip();
    }
    const tag = `toa-test-${process.pid}`;
    const built = await run('docker', ['build', '-t', tag, REPO_ROOT], { timeoutMs: 800_000 });
    expect(built.code, built.stderr).to.equal(0);
    const name = `toa-test-${process.pid}`;
    try {
      const started = await run('docker', [
        'run',
        '-d',
        '--name',
        name,
        '-e',
        'AGENT_TMUX_SOCKETS=toa-none',
        '--health-interval=1s',
        tag,
      ]);
      expect(started.code, started.stderr).to.equal(0);
      await eventually(
        async () =>
          (await run('docker', ['inspect', '--format', '{{.State.Health.Status}}', name])).stdout.trim() === 'healthy',
        60_000,
        'the container to be healthy',
      );
      const user = await run('docker', ['exec', name, 'id', '-u']);
      expect(user.stdout.trim()).to.not.equal('0');
    } finally {
      await run('docker', ['rm', '-f', name]);
      await run('docker', ['rmi', '-f', tag]);
    }
  });
});
