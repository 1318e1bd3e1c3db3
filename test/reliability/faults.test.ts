/**
 * Faults against a running `agent serve` (docs/design.md#safety-rules-for-every-destructive-action): tmux missing,
 * hanging, or killed mid-scan; processes exiting during scans; the registry
 * directory read-only, its disk full, the registry replaced by a symlink.
 * Each fault: no destructive action while the agent cannot see clearly, the
 * registry bytes intact, the error in the log, in
 * `orchestrator_scan_errors_total{source}` and on `/readyz`, and recovery
 * without a restart once the fault is gone.
 *
 * A zombie appears during each fault (its session is killed; the HUP-immune
 * pane process lives on): it must not be signalled until the fault is gone,
 * then exactly once. A healthy project is never signalled.
 */
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { newProject, type Project } from '../../src/core/model/project.js';
import { emptyDocument } from '../../src/core/model/registry-document.js';
import { JsonStore, serialise } from '../../src/registry/json-store.js';
import { scanTmuxServer } from '../../src/scan/tmux-sessions.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { isRunning, sleep } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';
import { PrivateTmux } from '../helpers/tmux.js';
import { TOKEN, Victims, healOnce, metric, readyz, validRegistry, wholeLines, type Identity } from './helpers.js';

const REAL_TMUX =
  (process.env['PATH'] ?? '')
    .split(delimiter)
    .map((d) => join(d, 'tmux'))
    .find((p) => existsSync(p)) ?? '/usr/bin/tmux';

function run(command: string, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}${r.error?.message ?? ''}` };
}

/** A log line holding every one of `parts` (JSON fields come in any order). */
function logLine(...parts: string[]): RegExp {
  const escaped = parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${escaped.map((e) => `(?=.*${e})`).join('')}.*$`, 'm');
}

/** Atomically point `link` at `target` (a symlink renamed into place). */
function replaceWithSymlink(target: string, link: string): void {
  const temp = `${link}.tmp-link`;
  rmSync(temp, { force: true });
  symlinkSync(target, temp);
  renameSync(temp, link);
}

describe('reliability: faults against a running agent serve', function () {
  this.timeout(90_000);
  let q: TestQueue;
  let victims: Victims;
  let agent: RunningAgent | null = null;
  /** Undo steps (unmounts first), run even when a test fails. */
  let undo: (() => void)[] = [];

  const ENV = {
    AGENT_API_TOKEN: TOKEN,
    AGENT_SCAN_SCHEDULE: '* * * * * *',
    KILL_GRACE_SEC: '1',
    AGENT_TMUX_TIMEOUT_MS: '500',
    PHANTOM_GRACE_PERIOD_SEC: '0',
    AGENT_RETRY_MAX_ATTEMPTS: '1',
    LOG_LEVEL: 'info',
  };

  beforeEach(() => {
    q = new TestQueue(ENV);
    victims = new Victims(q.dir.path, q.processes);
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    for (const step of undo.reverse()) {
      try {
        step();
      } catch {
        // best effort; the next step may still help
      }
    }
    undo = [];
    await q.destroy();
  });

  /** A healthy project and `n` candidates, each a HUP-immune victim in its own session. */
  async function projects(n: number): Promise<{ keep: Identity; candidates: Identity[]; list: Project[] }> {
    const keep = await victims.inSession(q.tmux, 'keep');
    const candidates: Identity[] = [];
    for (let i = 1; i <= n; i++) candidates.push(await victims.inSession(q.tmux, `w-${i}`));
    const now = new Date().toISOString();
    const list = [
      q.project({ id: 'keep', session: 'keep', ...keep, heartbeatAt: now }, 1),
      ...candidates.map((c, i) => q.project({ id: `z${i + 1}`, session: `w-${i + 1}`, ...c, heartbeatAt: now }, 1)),
    ];
    return { keep, candidates, list };
  }

  async function ready(a: RunningAgent): Promise<void> {
    try {
      await eventually(async () => (await readyz(a.url)).status === 200, 20_000, '/readyz 200');
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\nagent exit ${a.child.exitCode} ${a.child.signalCode}; log:\n${a.stderr().slice(-3000)}`,
        { cause: err },
      );
    }
  }

  interface FaultCheck {
    source: 'tmux' | 'registry' | 'processes';
    reason: RegExp;
    log: RegExp;
    /** The candidate whose session dies during the fault. */
    candidate: Identity;
    id: string;
    /** Registry bytes that must not change during the fault (null: the fault itself moved the file). */
    bytes: () => Buffer | null;
  }

  /** Kill the candidate's session during the fault; the agent reports the fault and holds back, several cycles long. */
  async function duringFault(a: RunningAgent, check: FaultCheck, session: string): Promise<{ errors: number }> {
    const before = await metric(a.url, 'orchestrator_scan_errors_total', { source: check.source });
    const bytes = check.bytes();
    q.tmux.killSession(session);
    let last: unknown = null;
    const r = await eventually(
      async () => {
        const s = await readyz(a.url);
        last = s;
        return s.status === 503 && check.reason.test(s.reason ?? '') ? s : null;
      },
      15_000,
      `/readyz 503 naming the ${check.source} fault`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; last /readyz ${JSON.stringify(last)}; log:\n${a.stderr().slice(-3000)}`, {
        cause: err,
      });
    });
    expect(r.reason).to.match(check.reason);
    // Several failing cycles, each counted.
    await eventually(
      async () => (await metric(a.url, 'orchestrator_scan_errors_total', { source: check.source })) >= before + 3,
      20_000,
      `3 more ${check.source} scan errors`,
    );
    expect(a.stderr(), 'the error is logged').to.match(check.log);
    expect(victims.termsTo(check.candidate), 'no signal while the agent cannot see clearly').to.equal(0);
    expect(isRunning(check.candidate.pid)).to.equal(true);
    if (bytes !== null)
      expect(check.bytes()?.equals(bytes), 'registry bytes unchanged during the fault').to.equal(true);
    return { errors: (await metric(a.url, 'orchestrator_scan_errors_total', { source: check.source })) - before };
  }

  /** Once the fault is gone: ready again, the zombie killed once and failed, without a restart. */
  async function recovered(a: RunningAgent, check: FaultCheck, keep: Identity): Promise<void> {
    await eventually(async () => (await readyz(a.url)).status === 200, 20_000, '/readyz 200 again');
    await eventually(
      () => validRegistry(q.registry).projects.find((p) => p.id === check.id)?.state === 'failed',
      20_000,
      `${check.id} to be healed`,
    );
    expect(victims.termsTo(check.candidate), `${check.id} signalled once`).to.equal(1);
    expect(validRegistry(q.registry).projects.find((p) => p.id === check.id)?.failureReason).to.equal('zombie');
    expect(victims.termsTo(keep), 'the healthy project is never signalled').to.equal(0);
    expect(a.child.exitCode, 'no restart').to.equal(null);
  }

  it('tmux missing, then a tmux that hangs (first on PATH): kills held, errors reported, recovery without restart', async () => {
    const bin = join(q.dir.path, 'bin');
    mkdirSync(bin);
    const tmuxOnPath = join(bin, 'tmux');
    replaceWithSymlink(REAL_TMUX, tmuxOnPath);
    const { keep, candidates, list } = await projects(2);
    q.write(list);
    agent = await startAgent({ ...q.env, PATH: bin }, q.dir.path);
    await ready(agent);

    // 1. tmux is not installed (nothing on PATH).
    unlinkSync(tmuxOnPath);
    const missing = await duringFault(
      agent,
      {
        source: 'tmux',
        reason: /tmux: .*tmux is not installed or not on PATH/,
        log: logLine('scan source failed', 'tmux is not installed or not on PATH'),
        candidate: candidates[0]!,
        id: 'z1',
        bytes: () => null,
      },
      'w-1',
    );
    expect(
      validRegistry(q.registry).projects.find((p) => p.id === 'z1')?.state,
      'a session it cannot see is not taken for missing',
    ).to.equal('processing');
    replaceWithSymlink(REAL_TMUX, tmuxOnPath);
    await recovered(
      agent,
      { source: 'tmux', reason: /./, log: /./, candidate: candidates[0]!, id: 'z1', bytes: () => null },
      keep,
    );

    // 2. tmux hangs: every command times out (AGENT_TMUX_TIMEOUT_MS=500).
    const hang = join(bin, 'tmux-hang');
    // It hangs as long as its caller lives: a `tmux wait-for` the agent started during the fault ends with the agent.
    writeFileSync(hang, '#!/bin/sh\nwhile kill -0 $PPID 2>/dev/null; do sleep 0.1; done\n', { mode: 0o755 });
    renameSync(hang, tmuxOnPath);
    const hanging = await duringFault(
      agent,
      {
        source: 'tmux',
        reason: /timed out after 500 ms/,
        log: logLine('scan source failed', 'timed out after 500 ms'),
        candidate: candidates[1]!,
        id: 'z2',
        bytes: () => null,
      },
      'w-2',
    );
    expect(validRegistry(q.registry).projects.find((p) => p.id === 'z2')?.state).to.equal('processing');
    replaceWithSymlink(REAL_TMUX, tmuxOnPath);
    await recovered(
      agent,
      { source: 'tmux', reason: /./, log: /./, candidate: candidates[1]!, id: 'z2', bytes: () => null },
      keep,
    );
    expect(validRegistry(q.registry).projects.find((p) => p.id === 'keep')?.state).to.equal('processing');
    console.log(
      `      tmux fault figures: ${JSON.stringify({ missingScanErrors: missing.errors, hangingScanErrors: hanging.errors })}`,
    );
  });

  it('the registry directory read-only, its disk full, the registry a symlink to elsewhere: nothing done, bytes intact, recovery without restart', async function () {
    const data = join(q.dir.path, 'data');
    // The data directory is a small tmpfs for the disk-full phase.
    const tmpfs = run('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', data]);
    if (!tmpfs.ok) this.skip(); // needs root (mount); the report says so
    undo.push(() => execFileSync('umount', ['-l', data]));
    const { keep, candidates, list } = await projects(3);
    q.write(list);
    agent = await startAgent(q.env, q.dir.path);
    await ready(agent);
    const bytes = () => (existsSync(q.registry) ? readFileSync(q.registry) : null);
    const figures: Record<string, number> = {};

    // 1. Read-only: a read-only bind mount of the directory over itself (chmod does not stop root).
    const bind = run('mount', ['--bind', data, data]);
    expect(bind.ok, bind.output).to.equal(true);
    undo.push(() => execFileSync('umount', ['-l', data]));
    const ro = run('mount', ['-o', 'remount,ro,bind', data]);
    expect(ro.ok, ro.output).to.equal(true);
    const check1 = {
      source: 'registry' as const,
      reason: /registry.*read-only file system/,
      log: logLine('registry write failed; no action taken', 'read-only file system'),
      candidate: candidates[0]!,
      id: 'z1',
      bytes,
    };
    figures['readOnlyErrors'] = (await duringFault(agent, check1, 'w-1')).errors;
    execFileSync('umount', [data]); // the bind mount; the tmpfs stays
    undo.pop();
    await recovered(agent, check1, keep);

    // 2. Disk full: a filler takes every free byte of the tmpfs.
    const filler = join(data, 'filler');
    const fd = openSync(filler, 'w');
    const chunk = Buffer.alloc(4096, 1);
    try {
      for (let i = 0; i < 1000; i++) writeSync(fd, chunk);
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).to.equal('ENOSPC');
    } finally {
      closeSync(fd);
    }
    const check2 = {
      source: 'registry' as const,
      reason: /registry.*no space left on device/,
      log: logLine('registry write failed; no action taken', 'no space left on device'),
      candidate: candidates[1]!,
      id: 'z2',
      bytes,
    };
    figures['diskFullErrors'] = (await duringFault(agent, check2, 'w-2')).errors;
    wholeLines(join(data, 'audit.jsonl'));
    // Under the registry lock, so no write of the still-cycling agent is in flight (its temp file would exist).
    const temps = await new JsonStore({ path: q.registry }).locked(async () => readdirTemps(data));
    expect(temps, 'no temp file left by a failed write').to.deep.equal([]);
    unlinkSync(filler);
    await recovered(agent, check2, keep);

    // 3. The registry replaced by a symlink to another registry, whose zombie would be killed if it were followed.
    const decoy = await victims.spawn();
    const elsewhere = join(q.dir.path, 'elsewhere.json');
    writeFileSync(
      elsewhere,
      serialise({ ...emptyDocument(), projects: [q.project({ id: 'other', session: 'gone', ...decoy })] }),
    );
    const elsewhereBytes = readFileSync(elsewhere);
    const original = `${q.registry}.orig`;
    linkSync(q.registry, original); // the old registry stays reachable, byte for byte
    const originalBytes = readFileSync(original);
    // Under the registry lock, as every writer must: a swap between a commit's last check and its rename would be
    // undone by that rename (POSIX has no compare-and-swap rename), and the agent would rightly see a regular file.
    await new JsonStore({ path: q.registry }).locked(async () => replaceWithSymlink(elsewhere, q.registry));
    const check3 = {
      source: 'registry' as const,
      reason: /registry unreadable: .*symbolic link/,
      log: logLine('registry unreadable; cycle skipped, nothing changed', 'symbolic link'),
      candidate: candidates[2]!,
      id: 'z3',
      bytes: () => null,
    };
    figures['symlinkErrors'] = (await duringFault(agent, check3, 'w-3')).errors;
    expect(lstatSync(q.registry).isSymbolicLink(), 'the symlink is left as it is').to.equal(true);
    expect(readFileSync(elsewhere).equals(elsewhereBytes), 'nothing written through the symlink').to.equal(true);
    expect(readFileSync(original).equals(originalBytes), 'the old registry intact').to.equal(true);
    expect(victims.termsTo(decoy), "the other registry's zombie is not ours to kill").to.equal(0);
    const status = await q.agent(['status']);
    expect(status.code).to.equal(3);
    expect(status.stderr).to.match(/symbolic link/);
    renameSync(original, q.registry);
    await recovered(agent, check3, keep);
    expect(victims.termsTo(decoy)).to.equal(0);
    console.log(`      registry fault figures: ${JSON.stringify(figures)}`);
  });

  it('the registry deleted under a running daemon: not taken for an empty queue, no session of the lost projects killed, back after repair', async () => {
    // Orphan patterns make the danger real: with the registry gone, every matching session looks owned by nobody.
    const { keep, candidates, list } = await projects(1);
    q.write(list);
    const env = { ...q.env, AGENT_ORPHAN_SESSION_PATTERNS: '^w-,^keep$', ORPHAN_GRACE_SEC: '0' };
    agent = await startAgent(env, q.dir.path);
    await ready(agent);
    await healOnce(agent.url); // a committed cycle: the last good copy exists
    const before = await metric(agent.url, 'orchestrator_scan_errors_total', { source: 'registry' });
    // Read and deleted under the registry lock: a cycle committing in between would leave a newer last good copy.
    const bytes = await new JsonStore({ path: q.registry }).locked(async () => {
      const current = readFileSync(q.registry);
      unlinkSync(q.registry);
      return current;
    });
    const r = await eventually(
      async () => {
        const s = await readyz(agent!.url);
        return s.status === 503 ? s : null;
      },
      15_000,
      '/readyz 503',
    );
    expect(r.reason).to.match(/registry.*missing/);
    await eventually(
      async () => (await metric(agent!.url, 'orchestrator_scan_errors_total', { source: 'registry' })) >= before + 3,
      20_000,
      '3 registry errors',
    );
    expect(q.tmux.hasSession('w-1'), 'the session of a project the agent can no longer see is not an orphan').to.equal(
      true,
    );
    expect(q.tmux.hasSession('keep')).to.equal(true);
    expect(existsSync(q.registry), 'no empty registry written in its place').to.equal(false);
    // The daemon commits again as soon as it sees the registry back, so the repair's bytes are compared with the
    // daemon stopped (SIGSTOP, sent while this test holds the registry lock, so the daemon holds none).
    const daemonPid = agent.child.pid as number;
    await new JsonStore({ path: q.registry }).locked(async () => process.kill(daemonPid, 'SIGSTOP'));
    try {
      const repaired = await q.agent(['registry', 'repair']);
      expect(repaired.code, repaired.stderr).to.equal(0);
      expect(readFileSync(q.registry).equals(bytes), 'restored byte for byte').to.equal(true);
    } finally {
      process.kill(daemonPid, 'SIGCONT');
    }
    await eventually(async () => (await readyz(agent!.url)).status === 200, 20_000, '/readyz 200 again');
    expect(
      validRegistry(q.registry)
        .projects.map((p) => `${p.id}:${p.state}`)
        .sort(),
    ).to.deep.equal(['keep:processing', 'z1:processing']);
    expect(victims.termsTo(keep) + victims.termsTo(candidates[0]!)).to.equal(0);
  });

  it('a tmux server killed mid-scan: only processes that really lost their session are healed; a new server is read without restart', async () => {
    q.write([]);
    agent = await startAgent(q.env, q.dir.path);
    await ready(agent);
    const store = new JsonStore({ path: q.registry });
    let scanErrors = 0;
    const rounds = 3;
    for (let round = 1; round <= rounds; round++) {
      // A HUP-immune process (outlives its server: a zombie), a plain one (dies with it: a phantom), and filler sessions.
      const immune = await victims.inSession(q.tmux, `imm-${round}`);
      const plain = q.tmux.newSession(`plain-${round}`, ['sleep', '600']);
      q.processes.track(plain);
      for (let k = 0; k < 30; k++) q.tmux.newSession(`fill-${round}-${k}`, ['sleep', '600']);
      const now = new Date().toISOString();
      await store.update((doc) => {
        doc.projects.push(q.project({ id: `imm-${round}`, session: `imm-${round}`, ...immune, heartbeatAt: now }, 1));
        doc.projects.push(
          q.project({ id: `plain-${round}`, session: `plain-${round}`, ...q.identity(plain), heartbeatAt: now }, 1),
        );
      });
      await healOnce(agent.url);
      const before = await metric(agent.url, 'orchestrator_scan_errors_total', { source: 'tmux' });
      // Cycles back to back; the server dies at a random point of one of them.
      let hammering = true;
      const url = agent.url;
      const hammer = (async () => {
        while (hammering) await healOnce(url);
      })();
      await sleep(Math.random() * 300);
      expect(victims.termsTo(immune), 'no signal while the session lives').to.equal(0);
      q.tmux.destroy();
      await sleep(300);
      hammering = false;
      await hammer;
      await eventually(
        () => {
          const doc = validRegistry(q.registry);
          return [`imm-${round}`, `plain-${round}`].every(
            (id) => doc.projects.find((p) => p.id === id)?.state === 'failed',
          );
        },
        20_000,
        `round ${round}: both projects failed`,
      );
      const doc = validRegistry(q.registry);
      expect(
        doc.projects.find((p) => p.id === `imm-${round}`)?.failureReason,
        'a process that outlived its server is a zombie',
      ).to.equal('zombie');
      expect(victims.termsTo(immune), 'killed once').to.equal(1);
      expect(doc.projects.find((p) => p.id === `plain-${round}`)?.failureReason).to.be.oneOf(['phantom', 'zombie']);
      scanErrors += (await metric(agent.url, 'orchestrator_scan_errors_total', { source: 'tmux' })) - before;
    }
    // The same socket, a new server: read as usual, its healthy project left alone, ready throughout.
    const after = await victims.inSession(q.tmux, 'after');
    await store.update(
      (doc) =>
        void doc.projects.push(
          q.project({ id: 'after', session: 'after', ...after, heartbeatAt: new Date().toISOString() }, 1),
        ),
    );
    for (let i = 0; i < 3; i++) expect((await healOnce(agent.url)).ok).to.equal(true);
    expect((await readyz(agent.url)).status).to.equal(200);
    expect(validRegistry(q.registry).projects.find((p) => p.id === 'after')?.state).to.equal('processing');
    expect(victims.termsTo(after)).to.equal(0);
    expect(agent.child.exitCode).to.equal(null);
    console.log(`      tmux mid-scan figures: ${JSON.stringify({ rounds, tmuxScanErrorsSeen: scanErrors })}`);
  });

  it('processes exiting during scans are routine: no scan error, nothing held back, nothing wrongly signalled', async () => {
    // A few hundred short-lived processes a second, exiting while /proc is read.
    const churn = q.processes.spawn(
      '/bin/sh',
      ['-c', 'while :; do for i in 1 2 3 4 5 6 7 8 9 10; do /bin/true & done; wait; done'],
      { detached: true, stdio: 'ignore' },
    );
    const { keep, candidates, list } = await projects(1);
    q.write(list);
    q.tmux.killSession('w-1'); // z1 is a zombie from the start
    agent = await startAgent(q.env, q.dir.path);
    let cycles = 0;
    const errors: string[] = [];
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      const r = await healOnce(agent.url);
      cycles += 1;
      for (const e of r.errors) if (e.source !== 'evidence') errors.push(`${e.source}: ${e.message}`);
    }
    expect(errors, 'scan errors while processes come and go').to.deep.equal([]);
    expect(await metric(agent.url, 'orchestrator_scan_errors_total', { source: 'processes' })).to.equal(0);
    expect(await metric(agent.url, 'orchestrator_heal_blocked_total')).to.equal(0);
    expect((await readyz(agent.url)).status).to.equal(200);
    expect(validRegistry(q.registry).projects.find((p) => p.id === 'z1')?.state).to.equal('failed');
    expect(victims.termsTo(candidates[0]!)).to.equal(1);
    expect(victims.termsTo(keep)).to.equal(0);
    process.kill(-(churn.pid as number), 'SIGKILL');
    console.log(`      /proc churn figures: ${JSON.stringify({ cycles })}`);
  });

  it('a tmux server that runs with no session (exit-empty off) has zero sessions, not a scan error', async () => {
    const tmux = new PrivateTmux('empty');
    try {
      tmux.newSession('only', ['sleep', '600']);
      const pane = tmux.panePid('only');
      q.processes.track(pane);
      tmux.run(['set-option', '-g', 'exit-empty', 'off']);
      tmux.killSession('only');
      const server = await scanTmuxServer(tmux.socket, { timeoutMs: 5000 });
      expect(server.error).to.equal(null);
      expect(server.ok).to.equal(true);
      expect(server.sessions.size).to.equal(0);
    } finally {
      tmux.destroy();
    }
  });

  it('disk full in the middle of an audit append: the registry write fails or succeeds whole, the audit keeps whole lines', async function () {
    const data = join(q.dir.path, 'full');
    mkdirSync(data);
    const mounted = run('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', data]);
    if (!mounted.ok) this.skip();
    undo.push(() => execFileSync('umount', ['-l', data]));
    const path = join(data, 'registry.json');
    const store = new JsonStore({ path });
    await store.update((doc, tx) => {
      doc.projects.push(newProject({ id: 'p0', enqueuedAt: new Date().toISOString() }));
      tx.audit({ at: new Date().toISOString(), type: 'note', project: 'p0', by: 'test', pad: 'x'.repeat(3000) });
    });
    // Take every free page, then give back one: enough for the registry and its last good copy
    // (each rewritten in place of the old), not for the 8 KiB of audit lines below.
    const filler = join(data, 'filler');
    const fd = openSync(filler, 'w');
    let written = 0;
    try {
      for (let i = 0; i < 100; i++) written += writeSync(fd, Buffer.alloc(4096, 1));
    } catch {
      // full
    } finally {
      closeSync(fd);
    }
    writeFileSync(filler, Buffer.alloc(Math.max(0, written - 4096), 1));
    const registryBefore = readFileSync(path);
    let error: unknown = null;
    try {
      await store.update((doc, tx) => {
        doc.projects[0]!.priority = 1;
        for (let i = 0; i < 30; i++)
          tx.audit({
            at: new Date().toISOString(),
            type: 'note',
            project: 'p0',
            by: 'test',
            line: i,
            pad: 'y'.repeat(250),
          });
      });
    } catch (err) {
      error = err;
    }
    const lines = wholeLines(join(data, 'audit.jsonl'));
    expect(error, 'the update reports the full disk').to.be.instanceOf(Error);
    expect((error as NodeJS.ErrnoException).code ?? (error as Error).message).to.match(/ENOSPC|no space/);
    expect(lines.length === 1 || lines.length === 31, `audit lines: ${lines.length}`).to.equal(true);
    // The registry is either the old bytes or the new document, never a mix.
    const now = validRegistry(path);
    expect(readFileSync(path).equals(registryBefore) || now.projects[0]?.priority === 1).to.equal(true);
    rmSync(filler);
    await store.update((doc, tx) => {
      doc.projects[0]!.priority = 2;
      tx.audit({ at: new Date().toISOString(), type: 'note', project: 'p0', by: 'test', after: true });
    });
    expect(wholeLines(join(data, 'audit.jsonl')).at(-1)?.['after']).to.equal(true);
  });
});

function readdirTemps(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith('.tmp'));
}
