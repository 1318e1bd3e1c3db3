import { expect } from 'chai';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePaneLine, scanTmuxServer } from '../../src/scan/tmux-sessions.js';
import { isRunning, Processes, waitUntil } from '../helpers/processes.js';
import { PrivateTmux } from '../helpers/tmux.js';

describe('tmux-sessions', () => {
  const processes = new Processes();
  let tmux: PrivateTmux;
  let dir: string;

  beforeEach(async () => {
    tmux = new PrivateTmux('scan');
    dir = await mkdtemp(join(tmpdir(), 'toa-tmux-'));
  });
  afterEach(async () => {
    tmux.destroy();
    // The hanging fake tmux leaves its sleep behind on purpose; it wrote its PID.
    try {
      processes.track(Number(await readFile(join(dir, 'orphan.pid'), 'utf8')));
    } catch {
      // no fake tmux in this test
    }
    await processes.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('sees every session with its pane pids, times in epoch ms', async () => {
    const before = Date.now();
    const a = tmux.newSession('w-1', ['sleep', '60']);
    const b = tmux.newSession('w-10', ['sleep', '60']);
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000 });
    expect(server.ok, server.error ?? '').to.equal(true);
    expect(server.socket).to.equal(tmux.socket);
    expect([...server.sessions.keys()].sort()).to.deep.equal(['w-1', 'w-10']);
    const pane = server.sessions.get('w-1')?.[0];
    expect(pane?.panePid).to.equal(a);
    expect(server.sessions.get('w-10')?.[0]?.panePid).to.equal(b);
    expect(pane?.paneDead).to.equal(false);
    expect(pane?.paneId).to.match(/^%\d+$/);
    // tmux keeps seconds: allow the truncation below `before`.
    expect(pane?.sessionCreatedAt).to.be.within(before - 1000, Date.now());
    expect(pane?.windowActivityAt).to.be.within(before - 1000, Date.now());
  });

  it('reports a dead pane kept by remain-on-exit', async () => {
    tmux.newSession('keep', ['sleep', '60']);
    tmux.run(['set-option', '-w', '-t', '=keep:', 'remain-on-exit', 'on']);
    const pid = tmux.panePid('keep');
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !isRunning(pid), 15_000, 'the pane process to die');
    let dead = false;
    await waitUntil(
      () => {
        dead = tmux.run(['list-panes', '-t', '=keep:', '-F', '#{pane_dead}']).trim() === '1';
        return dead;
      },
      15_000,
      'tmux to mark the pane dead',
    );
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000 });
    expect(server.sessions.get('keep')?.[0]?.paneDead).to.equal(true);
    expect(server.sessions.get('keep')?.[0]).to.deep.include({ deadStatus: null, deadSignal: 9 });
  });

  it('reads the exit status of a dead pane, and none of a live one', async () => {
    tmux.newSession('live', ['sleep', '60']);
    tmux.run([
      'new-session',
      '-d',
      '-s',
      'gone',
      '--',
      'sh',
      '-c',
      'exit 3',
      ';',
      'set-option',
      '-w',
      '-t',
      '=gone:',
      'remain-on-exit',
      'on',
    ]);
    await waitUntil(
      () => tmux.run(['list-panes', '-t', '=gone:', '-F', '#{pane_dead}']).trim() === '1',
      15_000,
      'the pane to die',
    );
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000 });
    expect(server.sessions.get('gone')?.[0]).to.deep.include({ paneDead: true, deadStatus: 3, deadSignal: null });
    expect(server.sessions.get('live')?.[0]).to.deep.include({ paneDead: false, deadStatus: null, deadSignal: null });
  });

  it('reads the exit status of every command that exits at once, even one whose exit tmux missed', async () => {
    // tmux sometimes misses the SIGCHLD of such a command: the pane shows dead, the child stays unreaped
    // and without status until the server's next SIGCHLD. The scan gives it one and reads again.
    tmux.newSession('keep', ['sleep', '60']);
    for (let i = 0; i < 30; i++) {
      const name = `quick-${i}`;
      tmux.run([
        'new-session',
        '-d',
        '-s',
        name,
        '--',
        'sh',
        '-c',
        'exit 3',
        ';',
        'set-option',
        '-w',
        '-t',
        `=${name}:`,
        'remain-on-exit',
        'on',
      ]);
      await waitUntil(
        () => tmux.run(['list-panes', '-t', `=${name}:`, '-F', '#{pane_dead}']).trim() === '1',
        15_000,
        `${name} to die`,
      );
      const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000 });
      expect(server.sessions.get(name)?.[0], name).to.deep.include({ paneDead: true, deadStatus: 3 });
    }
  });

  it('reads session names with spaces and the separator', async () => {
    const pid = tmux.newSession('a b|c', ['sleep', '60']);
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000 });
    expect(server.sessions.get('a b|c')?.[0]?.panePid).to.equal(pid);
  });

  it('treats a server that is not running as ok with zero sessions', async () => {
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000 });
    expect(server).to.deep.equal({ socket: tmux.socket, ok: true, error: null, sessions: new Map() });
  });

  it('treats a missing socket path as ok with zero sessions', async () => {
    const server = await scanTmuxServer(join(dir, 'no-such-socket'), { timeoutMs: 5000 });
    expect(server.ok).to.equal(true);
    expect(server.sessions.size).to.equal(0);
  });

  it('treats a server killed after use (stale socket) as ok with zero sessions', async () => {
    tmux.newSession('gone', ['sleep', '60']);
    tmux.destroy();
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000 });
    expect(server.ok, server.error ?? '').to.equal(true);
    expect(server.sessions.size).to.equal(0);
  });

  it('fails when tmux is not installed', async () => {
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000, tmuxPath: join(dir, 'no-tmux-here') });
    expect(server.ok).to.equal(false);
    expect(server.error).to.include('not installed');
    expect(server.sessions.size).to.equal(0);
  });

  it('fails on a non-zero exit that is not "no server"', async () => {
    const fake = join(dir, 'tmux');
    await writeFile(fake, '#!/bin/sh\necho "server exited unexpectedly" >&2\nexit 1\n');
    await chmod(fake, 0o755);
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000, tmuxPath: fake });
    expect(server.ok).to.equal(false);
    expect(server.error).to.include('server exited unexpectedly');
  });

  it('fails on output it cannot parse', async () => {
    const fake = join(dir, 'tmux');
    await writeFile(fake, '#!/bin/sh\necho "something else entirely"\n');
    await chmod(fake, 0o755);
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000, tmuxPath: fake });
    expect(server.ok).to.equal(false);
    expect(server.error).to.include('unparsable');
  });

  it('times out a tmux that hangs, within the timeout', async () => {
    // The sleep is backgrounded so it outlives the killed shell and keeps the pipes open:
    // the scan must still come back on time.
    const fake = join(dir, 'tmux');
    await writeFile(fake, `#!/bin/sh\nsleep 60 &\necho $! > '${join(dir, 'orphan.pid')}'\nwait\n`);
    await chmod(fake, 0o755);
    const started = Date.now();
    const server = await scanTmuxServer(tmux.socket, { timeoutMs: 300, tmuxPath: fake });
    const took = Date.now() - started;
    expect(server.ok).to.equal(false);
    expect(server.error).to.include('timed out after 300 ms');
    // Far below the hang (60 s), generous for a busy machine.
    expect(took).to.be.below(10_000);
  });

  describe('parsePaneLine', () => {
    it('keeps the separator inside a session name', () => {
      expect(parsePaneLine('%3|42|0|1700000000|1690000000|||a|b').session).to.equal('a|b');
    });
    it('reads empty times as unknown', () => {
      const pane = parsePaneLine('%3|42||||||s');
      expect(pane.windowActivityAt).to.equal(null);
      expect(pane.sessionCreatedAt).to.equal(null);
      expect(pane.paneDead).to.equal(false);
    });
    it('reads the exit status and signal of a dead pane only', () => {
      expect(parsePaneLine('%3|42|1|1|1|3||s')).to.deep.include({ paneDead: true, deadStatus: 3, deadSignal: null });
      expect(parsePaneLine('%3|42|1|1|1||15|s')).to.deep.include({ deadStatus: null, deadSignal: 15 });
      expect(parsePaneLine('%3|42|0|1|1|0||s')).to.deep.include({ paneDead: false, deadStatus: null });
      expect(() => parsePaneLine('%3|42|1|1|1|x||s')).to.throw('unparsable');
    });
    it('rejects a pane pid that is not a number', () => {
      expect(() => parsePaneLine('%3|x|0|1|1|||s')).to.throw('unparsable');
    });
  });
});
