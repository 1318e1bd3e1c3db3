import { expect } from 'chai';
import { existsSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descendants } from '../../src/core/rules/process-tree.js';
import { InputError } from '../../src/errors.js';
import { killTree } from '../../src/heal/kill-tree.js';
import {
  killSession,
  LAUNCH_INTERPRETER,
  LAUNCH_NAME,
  LAUNCH_SCRIPT,
  launchArgv,
  launchSession,
} from '../../src/heal/tmux-actions.js';
import { readProcessTable } from '../../src/scan/proc-table.js';
import { scanTmuxServer } from '../../src/scan/tmux-sessions.js';
import { eventually } from '../helpers/daemon.js';
import { isRunning, Processes, sleep, statStartTime, waitUntil } from '../helpers/processes.js';
import { PrivateTmux } from '../helpers/tmux.js';

const opts = { timeoutMs: 5000 };

describe('tmux-actions', () => {
  const processes = new Processes();
  let tmux: PrivateTmux;
  let dir: string;

  beforeEach(async () => {
    tmux = new PrivateTmux('heal');
    dir = await mkdtemp(join(tmpdir(), 'toa-actions-'));
  });
  afterEach(async () => {
    tmux.destroy();
    await processes.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  describe('killSession', () => {
    it('kills w-1 and leaves w-10 alive (exact target, no prefix match)', async () => {
      tmux.newSession('w-10', ['sleep', '60']);
      tmux.newSession('w-1', ['sleep', '60']);
      const result = await killSession(tmux.socket, 'w-1', opts);
      expect(result.outcome, result.detail).to.equal('success');
      expect(tmux.sessions()).to.deep.equal(['w-10']);
    });

    it('does not take w-10 for a missing w-1', async () => {
      const pid = tmux.newSession('w-10', ['sleep', '60']);
      const result = await killSession(tmux.socket, 'w-1', opts);
      expect(result.outcome).to.equal('skipped');
      expect(result.detail).to.include('already gone');
      expect(tmux.hasSession('w-10')).to.equal(true);
      expect(isRunning(pid)).to.equal(true);
    });

    it('skips, never fails, a session whose server exits while it is being killed (last pane just died)', async function () {
      this.timeout(120_000); // 60 tmux servers started and killed: slow on a busy machine, and no bound of the behaviour
      // The race of a tree kill: the pane's process is dead, tmux closes the last session and its server
      // exits; kill-session connecting in that instant hears "server exited unexpectedly".
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 60; i++) {
        const server = new PrivateTmux('race');
        try {
          const pid = server.newSession('w-1', ['sleep', '60']);
          process.kill(pid, 'SIGTERM');
          await waitUntil(() => !isRunning(pid), 15_000, 'the pane process to die');
          const result = await killSession(server.socket, 'w-1', opts);
          const key = `${result.outcome}: ${result.detail.replace(server.socket, 'S')}`;
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
        } finally {
          server.destroy();
        }
      }
      expect(
        [...outcomes.keys()].filter((k) => !k.startsWith('skipped')),
        JSON.stringify([...outcomes]),
      ).to.deep.equal([]);
    });

    it('skips when no server is running', async () => {
      const result = await killSession(tmux.socket, 'w-1', opts);
      expect(result.outcome).to.equal('skipped');
    });

    it('refuses an invalid session name without running tmux', async () => {
      tmux.newSession('w-1', ['sleep', '60']);
      const result = await killSession(tmux.socket, 'w-1:0', opts);
      expect(result.outcome).to.equal('failure');
      expect(result.detail).to.include('refusing session name');
      expect(tmux.hasSession('w-1')).to.equal(true);
    });

    it('fails when tmux cannot run', async () => {
      const result = await killSession(tmux.socket, 'w-1', { timeoutMs: 5000, tmuxPath: join(dir, 'no-tmux') });
      expect(result.outcome).to.equal('failure');
      expect(result.detail).to.include('not installed');
    });
  });

  describe('launchSession', () => {
    /** The command the launcher runs: its only child, once started. */
    const commandOf = async (panePid: number): Promise<number> => {
      let child: number | undefined;
      for (let i = 0; i < 250 && child === undefined; i++) {
        child = descendants(await readProcessTable(), panePid)[0];
        if (child === undefined) await sleep(20);
      }
      if (child === undefined) throw new Error(`no command under the launcher ${panePid}`);
      processes.track(child);
      return child;
    };
    /**
     * "<status>" once the session's pane is dead and its exit read, as the scan reads it (which makes tmux reap an
     * exit it missed), "signal <n>" when tmux names a signal.
     */
    const exitOf = (session: string): Promise<string> =>
      eventually(
        async () => {
          const pane = (await scanTmuxServer(tmux.socket, opts)).sessions.get(session)?.[0];
          if (!pane?.paneDead) return null;
          return pane.deadSignal !== null
            ? `signal ${pane.deadSignal}`
            : pane.deadStatus === null
              ? null
              : String(pane.deadStatus);
        },
        10_000,
        `the exit of the command in ${session}`,
      );

    it('returns the pane pid: the launcher, whose child is the running command', async () => {
      const { panePid } = await launchSession(tmux.socket, 'proj-1', dir, ['sleep', '60'], opts);
      processes.track(panePid);
      expect(tmux.panePid('proj-1')).to.equal(panePid);
      expect(await readFile(`/proc/${panePid}/cmdline`, 'utf8')).to.equal(
        [LAUNCH_INTERPRETER, '-e', LAUNCH_SCRIPT, '--', 'sleep', '60', ''].join('\x00'),
      );
      const command = await commandOf(panePid);
      expect(await readFile(`/proc/${command}/cmdline`, 'utf8')).to.equal('sleep\x0060\x00');
      expect(await realpath(`/proc/${command}/cwd`)).to.equal(await realpath(dir));
    });

    it('ends the pane with the status of a command a signal killed: 128 + n', async () => {
      await launchSession(tmux.socket, 'killed', null, ['sh', '-c', 'kill -9 $$'], opts);
      expect(await exitOf('killed')).to.equal('137');
    });

    it('hangs up the command with its session, as without a launcher; one that ignores SIGHUP runs on under its launcher', async () => {
      tmux.newSession('keep', ['sleep', '60']);
      const plain = await launchSession(tmux.socket, 'plain', null, ['sleep', '60'], opts);
      processes.track(plain.panePid);
      const plainCommand = await commandOf(plain.panePid);
      const immune = await launchSession(tmux.socket, 'immune', null, ['sh', '-c', "trap '' HUP; sleep 60"], opts);
      processes.track(immune.panePid);
      const immuneCommand = await commandOf(immune.panePid);
      tmux.killSession('plain');
      tmux.killSession('immune');
      // The hangup reaches only the pane's first process, the launcher, which passes it on and ends with its command.
      await waitUntil(
        () => !isRunning(plain.panePid) && !isRunning(plainCommand),
        10_000,
        'the hung-up command and its launcher to end',
      );
      // The immune one keeps its launcher, the recorded PID: a zombie, which a tree kill of the pane pid ends.
      expect([isRunning(immune.panePid), isRunning(immuneCommand)], 'launcher, command').to.deep.equal([true, true]);
      const killed = await killTree({
        pid: immune.panePid,
        pidStartTime: statStartTime(immune.panePid),
        graceMs: 5000,
      });
      expect(killed.outcome, killed.detail).to.equal('success');
      expect([isRunning(immune.panePid), isRunning(immuneCommand)]).to.deep.equal([false, false]);
    });

    it('leaves Ctrl-C to the command: the launcher ignores it and lives as long as its command', async () => {
      const out = join(dir, 'interrupted');
      const onInt = `trap 'echo interrupted > "$0"' INT; while :; do sleep 0.1; done`;
      const { panePid } = await launchSession(tmux.socket, 'ctrl-c', null, ['sh', '-c', onInt, out], opts);
      processes.track(panePid);
      const command = await commandOf(panePid);
      tmux.run(['send-keys', '-t', '=ctrl-c:', 'C-c']);
      await waitUntil(() => existsSync(out), 10_000, 'the command to handle SIGINT');
      expect([isRunning(panePid), isRunning(command)], 'launcher, command').to.deep.equal([true, true]);
    });

    it('gives the command its SIGTERM grace in a tree kill: the launcher waits for it instead of hanging it up', async () => {
      const done = join(dir, 'cleaned-up');
      // Default SIGHUP: had the terminal hung it up when the launcher died, it would never write its file.
      const graceful = `trap 'sleep 0.5; echo done > "$0"; exit 0' TERM; while :; do sleep 0.1; done`;
      const { panePid } = await launchSession(tmux.socket, 'graceful', null, ['sh', '-c', graceful, done], opts);
      processes.track(panePid);
      await commandOf(panePid);
      const killed = await killTree({ pid: panePid, pidStartTime: statStartTime(panePid), graceMs: 10_000 });
      expect(killed.outcome, killed.detail).to.equal('success');
      expect(killed.detail).to.not.include('SIGKILL');
      expect(readFileSync(done, 'utf8')).to.equal('done\n');
    });

    it('passes arguments through untouched, with no shell', async () => {
      const out = join(dir, 'out');
      const script =
        'require("node:fs").writeFileSync(process.argv[1], process.argv.slice(2).join("|")); setInterval(() => {}, 1000)';
      const { panePid } = await launchSession(
        tmux.socket,
        'proj-2',
        null,
        [process.execPath, '-e', script, out, '$HOME', 'a b', '; echo x'],
        opts,
      );
      processes.track(panePid);
      await waitUntil(
        () => existsSync(out) && readFileSync(out, 'utf8') !== '',
        15_000,
        'the command to write its arguments',
      );
      expect(readFileSync(out, 'utf8')).to.equal('$HOME|a b|; echo x');
    });

    it('passes words ending in ";" literally instead of letting tmux run them as its own commands', async () => {
      tmux.newSession('keep', ['sleep', '60']);
      const out = join(dir, 'args.txt');
      const { panePid } = await launchSession(
        tmux.socket,
        'semi',
        dir,
        ['sh', '-c', 'printf "%s|" "$@" > "$0.tmp" && mv "$0.tmp" "$0"; sleep 60', out, 'a;', 'kill-server;', 'b\\;'],
        opts,
      );
      processes.track(panePid);
      await waitUntil(() => existsSync(out), 15_000, 'the argument dump');
      expect(readFileSync(out, 'utf8')).to.equal('a;|kill-server;|b\\;|');
      expect(tmux.sessions()).to.include.members(['keep', 'semi']);
    });

    it('runs the first word as a program, never as shell code, a builtin or an assignment', async () => {
      // As shell code these would start `sleep`, exit the script itself, or set a variable and run `sleep`.
      const words = [['sleep 60'], ['exit', '5'], ['A=1', 'sleep', '60']];
      for (const [i, command] of words.entries()) {
        const { panePid } = await launchSession(tmux.socket, `word-${i}`, null, command, opts);
        processes.track(panePid);
      }
      for (const [i, command] of words.entries()) {
        expect(await exitOf(`word-${i}`), JSON.stringify(command)).to.equal('127');
        const first = command[0] as string;
        expect(tmux.run(['capture-pane', '-p', '-S', '-200', '-t', `=word-${i}:`])).to.include(
          `${LAUNCH_NAME}: cannot run ${first}: No such file or directory`,
        );
      }
    });

    it('keeps the pane of a command that exits at once, with its exit status and output, every time', async () => {
      const names = Array.from({ length: 20 }, (_, i) => `quick-${i}`);
      for (const name of names)
        await launchSession(tmux.socket, name, null, ['sh', '-c', 'echo "fatal: API key expired" >&2; exit 3'], opts);
      for (const name of names) expect(await exitOf(name), name).to.equal('3');
      expect(tmux.sessions().sort()).to.deep.equal([...names].sort());
      expect(tmux.run(['show-options', '-w', '-t', '=quick-0:', 'remain-on-exit']).trim()).to.equal(
        'remain-on-exit on',
      );
      // tmux drops the output it has not read when the pane's process exits: the launcher outlives the command.
      const lost = names.filter(
        (n) => !tmux.run(['capture-pane', '-p', '-S', '-200', '-t', `=${n}:`]).includes('fatal: API key expired'),
      );
      expect(lost).to.deep.equal([]);
    });

    it('outlives its command until tmux has read its last output, however long that takes: a wait on tmux, not a timer', async () => {
      tmux.newSession('keep', ['sleep', '60']);
      const go = join(dir, 'go');
      const script = `while [ ! -e '${go}' ]; do sleep 0.05; done; echo 'fatal: last words'; exit 4`;
      const { panePid } = await launchSession(tmux.socket, 'late', null, ['sh', '-c', script], opts);
      processes.track(panePid);
      const command = await commandOf(panePid);
      const server = Number(tmux.run(['display-message', '-p', '#{pid}']).trim());
      process.kill(server, 'SIGSTOP');
      try {
        await writeFile(go, '');
        await waitUntil(() => !isRunning(command), 10_000, 'the command to exit');
        // Well past any fixed linger: the launcher is still waiting for tmux, which cannot answer while stopped.
        await sleep(1000);
        expect(isRunning(panePid), 'the launcher while tmux is stopped').to.equal(true);
      } finally {
        process.kill(server, 'SIGCONT');
      }
      expect(await exitOf('late')).to.equal('4');
      expect(tmux.run(['capture-pane', '-p', '-S', '-200', '-t', '=late:'])).to.include('fatal: last words');
    });

    it('keeps the output and status of a command that leaves the terminal to a group that is gone, or mid escape sequence', async () => {
      // An interactive shell takes the terminal's foreground for its own process group; killed, it never gives it back.
      const cases: [string, string[], string][] = [
        ['shell', ['bash', '--norc', '-i', '-c', 'echo "fatal: shell gone"; kill -9 $$'], '137'],
        ['escape', ['sh', '-c', 'printf "fatal: cut short\\n\\033["; exit 5'], '5'],
      ];
      for (const [name, command] of cases) await launchSession(tmux.socket, name, null, command, opts);
      for (const [name, , status] of cases) {
        expect(await exitOf(name), name).to.equal(status);
        expect(tmux.run(['capture-pane', '-p', '-S', '-200', '-t', `=${name}:`]), name).to.include('fatal: ');
      }
    });

    it('exits with its command at once when its input is no terminal, with nothing to wait for', () => {
      const run = spawnSync(LAUNCH_INTERPRETER, ['-e', LAUNCH_SCRIPT, '--', 'sh', '-c', 'echo out; exit 6'], {
        encoding: 'utf8',
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      expect([run.status, run.stdout, run.stderr]).to.deep.equal([6, 'out\n', '']);
    });

    it('refuses an invalid session name, a missing cwd and an empty command', async () => {
      const attempts = [
        () => launchSession(tmux.socket, 'bad.name', null, ['sleep', '60'], opts),
        () => launchSession(tmux.socket, 'ok', join(dir, 'missing'), ['sleep', '60'], opts),
        () => launchSession(tmux.socket, 'ok', null, [], opts),
      ];
      for (const attempt of attempts) {
        const err = await attempt().then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).to.be.instanceOf(InputError);
      }
      expect(tmux.sessions()).to.deep.equal([]);
    });

    it('fails on a duplicate session, leaving the existing one alone', async () => {
      const pid = tmux.newSession('proj-1', ['sleep', '60']);
      const err = await launchSession(tmux.socket, 'proj-1', null, ['sleep', '60'], opts).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err?.message).to.include('duplicate session');
      expect(tmux.panePid('proj-1')).to.equal(pid);
    });
  });

  describe('launchArgv', () => {
    it('puts the command words after the fixed launcher, made literal for tmux', () => {
      expect(launchArgv(['./run'])).to.deep.equal([LAUNCH_INTERPRETER, '-e', LAUNCH_SCRIPT, '--', './run']);
      expect(launchArgv(['python3', 'x.py', 'a;'])).to.deep.equal([
        LAUNCH_INTERPRETER,
        '-e',
        LAUNCH_SCRIPT,
        '--',
        'python3',
        'x.py',
        'a\\;',
      ]);
      expect(() => launchArgv([''])).to.throw(InputError);
    });
  });
});
