import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv, tempDir } from '../helpers/cli.js';
import { eventually, freePort } from '../helpers/daemon.js';
import { isRunning, statOrNull } from '../helpers/processes.js';
import { PrivateTmux } from '../helpers/tmux.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every live descendant of `root`, from the parent links in /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const ppid = statOrNull(name)?.ppid; // undefined: gone meanwhile
    if (ppid !== undefined) children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
  }
  const out: number[] = [];
  const walk = (pid: number): void => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

function argv(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** The node process running `agent serve` (not the `sh -c` that may sit between npm and it). */
function isServe(pid: number): boolean {
  const [program = '', ...args] = argv(pid);
  return /(^|\/)node$/.test(program) && args.join(' ').includes('dist/cli/main.js serve');
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

describe('packaging: the README run command, npm start', function () {
  this.timeout(90_000);
  let dir: ReturnType<typeof tempDir>;
  let tmux: PrivateTmux;
  let npm: ChildProcess | null = null;
  let daemon: number | null = null;
  beforeEach(() => {
    dir = tempDir('toa-npm-start-');
    tmux = new PrivateTmux('npm-start');
  });
  afterEach(() => {
    if (npm && npm.exitCode === null && npm.signalCode === null) npm.kill('SIGKILL');
    if (daemon !== null && isRunning(daemon)) process.kill(daemon, 'SIGKILL');
    npm = null;
    daemon = null;
    tmux.destroy();
    dir.cleanup();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`stops the daemon and frees its port on ${signal} to the npm process`, async () => {
      const port = await freePort();
      const env = cleanEnv({
        AGENT_REGISTRY: join(dir.path, 'registry.json'),
        AGENT_LISTEN: `127.0.0.1:${port}`,
        AGENT_TMUX_SOCKETS: tmux.socket,
      });
      const child = spawn('npm', ['start'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      npm = child;
      let output = '';
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      await eventually(() => /status page\s+http:/.test(output), 30_000, 'the status page line');
      daemon = descendants(child.pid as number).find(isServe) ?? null;
      expect(daemon, output).to.be.a('number');
      const node = daemon as number;
      child.kill(signal);
      await eventually(() => !isRunning(node), 20_000, `the daemon (pid ${node}) to exit after ${signal} to npm`);
      await eventually(() => child.exitCode !== null || child.signalCode !== null, 20_000, 'npm to exit');
      expect(await portFree(port), `port ${port} still taken`).to.equal(true);
    });
  }
});
