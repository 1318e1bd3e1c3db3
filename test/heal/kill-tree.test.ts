import { expect } from 'chai';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { killTree } from '../../src/heal/kill-tree.js';
import { readProcessTable } from '../../src/scan/proc-table.js';
import { isRunning, Processes, readStat, statStartTime, waitUntil } from '../helpers/processes.js';

const GRACE_MS = 300;

describe('kill-tree', () => {
  const processes = new Processes();
  afterEach(() => processes.cleanup());

  it('kills root, child and grandchild of a tree in our own process group', async () => {
    const tree = await processes.tree({ detached: false });
    const result = await killTree({ pid: tree.root, pidStartTime: statStartTime(tree.root), graceMs: GRACE_MS });
    expect(result.outcome, result.detail).to.equal('success');
    expect(result.signalled).to.have.members([tree.root, tree.child, tree.grandchild]);
    for (const pid of [tree.root, tree.child, tree.grandchild]) expect(isRunning(pid), `pid ${pid}`).to.equal(false);
    // Our own group was not signalled: we are still here to assert it.
    expect(isRunning(process.pid)).to.equal(true);
  });

  it('kills a tree whose root leads its own process group', async () => {
    const tree = await processes.tree({ detached: true });
    const result = await killTree({ pid: tree.root, pidStartTime: statStartTime(tree.root), graceMs: GRACE_MS });
    expect(result.outcome, result.detail).to.equal('success');
    expect(result.signalled).to.have.members([tree.root, tree.child, tree.grandchild]);
    for (const pid of [tree.root, tree.child, tree.grandchild]) expect(isRunning(pid), `pid ${pid}`).to.equal(false);
  });

  it("kills a member of the root's group that was re-parented away from the tree", async () => {
    const script = [
      "const { execFileSync } = require('node:child_process');",
      // sh backgrounds a sleep and exits: the sleep loses its parent but keeps the group.
      "const orphan = execFileSync('sh', ['-c', 'sleep 60 >/dev/null 2>&1 & echo $!']).toString().trim();",
      "console.log('orphan ' + orphan); console.log('root ' + process.pid);",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const child = processes.spawn(process.execPath, ['-e', script], { detached: true });
    const lines = await processes.readLines(child, (ls) => ls.some((l) => l.startsWith('root ')));
    const orphan = Number(lines.find((l) => l.startsWith('orphan '))?.split(' ')[1]);
    processes.track(orphan);
    const root = child.pid as number;
    expect(readStat(orphan).ppid, 'orphan ppid').to.not.equal(root);

    const result = await killTree({ pid: root, pidStartTime: statStartTime(root), graceMs: GRACE_MS });
    expect(result.outcome, result.detail).to.equal('success');
    expect(result.signalled).to.include(orphan);
    expect(isRunning(orphan)).to.equal(false);
    expect(isRunning(root)).to.equal(false);
  });

  it('kills what a defunct root left in its group', async () => {
    // The outer sh execs into sleep and never reaps: the inner sh, leader of a new session and
    // group, exits to a zombie while the sleep it backgrounded lives on in its group.
    const script = 'setsid sh -c "sleep 60 </dev/null >/dev/null 2>&1 & echo \\$\\$" & exec sleep 60';
    const outer = processes.spawn('sh', ['-c', script]);
    const [line] = await processes.readLines(outer, (ls) => ls.length > 0);
    const root = Number(line);
    const startTime = statStartTime(root);
    await waitUntil(() => !isRunning(root), 15_000, 'the root to become defunct');
    const member = (await readProcessTable()).byPid.get(root);
    expect(member?.state).to.equal('Z');
    const orphans = [...(await readProcessTable()).byPid.values()].filter((p) => p.pgid === root && p.pid !== root);
    expect(orphans).to.have.length(1);
    const orphan = orphans[0]!.pid;
    processes.track(orphan);

    const result = await killTree({ pid: root, pidStartTime: startTime, graceMs: GRACE_MS });
    expect(result.outcome, result.detail).to.equal('success');
    expect(result.signalled).to.deep.equal([orphan]);
    expect(isRunning(orphan)).to.equal(false);
  });

  it('SIGKILLs a process that ignores SIGTERM, after the grace', async () => {
    const pid = await processes.termIgnorer();
    const started = Date.now();
    const result = await killTree({ pid, pidStartTime: statStartTime(pid), graceMs: GRACE_MS });
    const took = Date.now() - started;
    expect(result.outcome, result.detail).to.equal('success');
    expect(result.detail).to.include('1 needed SIGKILL');
    expect(took).to.be.at.least(GRACE_MS);
    expect(isRunning(pid)).to.equal(false);
  });

  it('also SIGKILLs what a survivor forked during the grace', async () => {
    const script = [
      "const { spawn } = require('node:child_process');",
      "process.on('SIGTERM', () => { const c = spawn('sleep', ['60'], { stdio: 'ignore' }); console.log('forked ' + c.pid); });",
      "console.log('ready'); setInterval(() => {}, 1000);",
    ].join('\n');
    const child = processes.spawn(process.execPath, ['-e', script]);
    await processes.readLines(child, (ls) => ls.includes('ready'));
    const root = child.pid as number;
    const forked = processes.readLines(child, (ls) => ls.some((l) => l.startsWith('forked ')));

    const result = await killTree({ pid: root, pidStartTime: statStartTime(root), graceMs: GRACE_MS });
    const late = Number((await forked).find((l) => l.startsWith('forked '))?.split(' ')[1]);
    processes.track(late);
    expect(result.outcome, result.detail).to.equal('success');
    expect(result.signalled).to.include(late);
    expect(isRunning(late)).to.equal(false);
  });

  it('never signals a PID whose start time differs from the recorded one', async () => {
    const pid = await processes.sleeper();
    const result = await killTree({ pid, pidStartTime: statStartTime(pid) - 1, graceMs: GRACE_MS });
    expect(result).to.deep.include({ outcome: 'skipped', signalled: [] });
    expect(result.detail).to.include('pid reused');
    expect(isRunning(pid)).to.equal(true);
  });

  it('refuses a root owned by another user', async () => {
    const pid = await processes.sleeper();
    // A procfs view in which the live sleep belongs to uid 4242; the signal would reach the real one.
    const root = await mkdtemp(join(tmpdir(), 'toa-foreign-'));
    try {
      await mkdir(join(root, String(pid)));
      await writeFile(join(root, String(pid), 'stat'), await readFile(`/proc/${pid}/stat`));
      await writeFile(join(root, String(pid), 'status'), 'Uid:\t4242\t4242\t4242\t4242\n');
      await writeFile(join(root, String(pid), 'cmdline'), 'sleep\x0060\x00');
      const result = await killTree({ pid, pidStartTime: statStartTime(pid), procRoot: root, graceMs: GRACE_MS });
      expect(result).to.deep.include({ outcome: 'skipped', signalled: [] });
      expect(result.detail).to.include('uid 4242');
      expect(isRunning(pid)).to.equal(true);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('refuses init, the agent itself and its parent', async () => {
    for (const pid of [1, process.pid, process.ppid]) {
      const result = await killTree({
        pid,
        pidStartTime: statStartTime(pid),
        graceMs: GRACE_MS,
        allowForeignUsers: true,
      });
      expect(result.outcome, `pid ${pid}`).to.equal('skipped');
      expect(result.signalled).to.deep.equal([]);
    }
  });

  it('skips a process that is already gone', async () => {
    const pid = await processes.sleeper();
    const startTime = statStartTime(pid);
    process.kill(pid, 'SIGKILL');
    await waitUntil(() => !isRunning(pid), 15_000, 'sleep to die');
    const result = await killTree({ pid, pidStartTime: startTime, graceMs: GRACE_MS });
    expect(result).to.deep.equal({ outcome: 'skipped', detail: 'process already gone', signalled: [] });
  });
});
