import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers/cli.js';
import { eventually, freePort, startAgent } from '../helpers/daemon.js';
import { PrivateTmux } from '../helpers/tmux.js';

describe('cli: agent serve options', function () {
  this.timeout(60_000);
  let dir: ReturnType<typeof tempDir>;
  let tmux: PrivateTmux;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = tempDir('toa-serve-');
    tmux = new PrivateTmux('serve');
    env = { AGENT_REGISTRY: join(dir.path, 'registry.json'), AGENT_TMUX_SOCKETS: tmux.socket };
  });
  afterEach(() => {
    tmux.destroy();
    dir.cleanup();
  });

  it('serve --help shows --listen and AGENT_LISTEN', async () => {
    const help = await runCli(['serve', '--help'], { cwd: dir.path, env });
    expect(help.code).to.equal(0);
    expect(help.stdout).to.include('--listen <host:port>').and.include('AGENT_LISTEN');
  });

  it('serve --listen HOST:PORT listens there, over AGENT_LISTEN', async () => {
    const port = await freePort();
    const agent = await startAgent({ ...env, AGENT_LISTEN: '127.0.0.1:1' }, dir.path, [
      '--listen',
      `127.0.0.1:${port}`,
    ]);
    try {
      expect(agent.url).to.equal(`http://127.0.0.1:${port}`);
      expect((await fetch(`${agent.url}/healthz`)).status).to.equal(200);
    } finally {
      await agent.stop();
    }
  });

  it('an address in use is one line on stderr and exit 2', async () => {
    const taken: Server = createServer();
    const port = await new Promise<number>((resolve) =>
      taken.listen(0, '127.0.0.1', () => resolve((taken.address() as { port: number }).port)),
    );
    try {
      const r = await runCli(['serve'], { cwd: dir.path, env: { ...env, AGENT_LISTEN: `127.0.0.1:${port}` } });
      expect(r.code, r.stderr).to.equal(2);
      expect(r.stderr.trim().split('\n'), r.stderr).to.have.length(1);
      expect(r.stderr)
        .to.match(new RegExp(`^agent: cannot listen on 127\\.0\\.0\\.1:${port}: the address is in use`))
        .and.include('--listen');
      expect(r.stdout).to.equal('');
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('keeps the young-generation cap of NODE_OPTIONS to itself: the programs it runs get the other options', async () => {
    tmux.newSession('work', ['sleep', '600']);
    const agent = await startAgent({ ...env, NODE_OPTIONS: '--max-semi-space-size=1 --no-warnings' }, dir.path);
    try {
      // The tmux hooks' `tmux wait-for` client is a child of the daemon that lives as long as it.
      const environ = await eventually(
        () => {
          for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
            try {
              const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
              const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
              if (ppid !== agent.child.pid || !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('wait-for'))
                continue;
              const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
              // A client exiting (a hook fired; the daemon starts another) reads empty: wait for the next one.
              if (environ !== '') return environ.split('\0');
            } catch {
              // gone meanwhile
            }
          }
          return null;
        },
        30_000,
        'a tmux wait-for child of the daemon',
      );
      expect(environ.filter((e) => e.startsWith('NODE_OPTIONS='))).to.deep.equal(['NODE_OPTIONS=--no-warnings']);
    } finally {
      await agent.stop();
    }
  });
});
