import { expect } from 'chai';
import type { ProcessInfo, ProcessTable } from '../../src/core/model/snapshot.js';
import { clockTicksPerSecond, pageSize, readProcessTable } from '../../src/scan/proc-table.js';
import { collectUsage, UsageSampler } from '../../src/scan/usage.js';
import { Processes, sleep, statStartTime } from '../helpers/processes.js';

/** A process row with usage fields, as the stat scan gives it. */
function row(pid: number, ppid: number, cpuTicks: number, rssBytes: number): ProcessInfo {
  return {
    pid,
    ppid,
    pgid: pid,
    state: 'S',
    startTime: 1000 + pid,
    uid: null,
    comm: 'x',
    cmdline: [],
    cpuTicks,
    rssBytes,
  };
}
const tableOf = (...rows: ProcessInfo[]): ProcessTable => ({ byPid: new Map(rows.map((r) => [r.pid, r])) });
const T0 = 1_800_000_000_000;

describe('usage', () => {
  describe('from the process table (plain values)', () => {
    const tracked = [{ project: 'p1', pid: 10, pidStartTime: 1010 }];

    it('sums resident memory over the tree and reads CPU 0 on the first scan', () => {
      const usage = collectUsage(
        tableOf(row(10, 1, 500, 4096), row(11, 10, 100, 8192), row(99, 1, 7, 1)),
        tracked,
        T0,
        new UsageSampler(),
      );
      expect(usage.get('p1')).to.deep.equal({ cpuRatio: 0, rssBytes: 12288 });
    });

    it('gives the share of one core used between two scans, summed over the tree', () => {
      const sampler = new UsageSampler();
      const hz = clockTicksPerSecond();
      collectUsage(tableOf(row(10, 1, 500, 0), row(11, 10, 100, 0)), tracked, T0, sampler);
      // In 2 s the root used half a core and the child a whole one.
      const usage = collectUsage(
        tableOf(row(10, 1, 500 + hz, 0), row(11, 10, 100 + 2 * hz, 0)),
        tracked,
        T0 + 2000,
        sampler,
      );
      expect(usage.get('p1')?.cpuRatio).to.be.closeTo(1.5, 1e-9);
    });

    it('starts afresh for a PID reused by another process, and forgets processes unseen for a minute', () => {
      const sampler = new UsageSampler();
      collectUsage(tableOf(row(10, 1, 500, 0)), tracked, T0, sampler);
      const reused = { ...row(10, 1, 900, 0), startTime: 5000 };
      expect(
        collectUsage(tableOf(reused), [{ project: 'p1', pid: 10, pidStartTime: null }], T0 + 1000, sampler).get('p1')
          ?.cpuRatio,
      ).to.equal(0);
      expect(sampler.size).to.equal(2);
      collectUsage(tableOf(), [], T0 + 1000 + 60_001, sampler);
      expect(sampler.size).to.equal(0);
    });

    it('gives no usage to a root whose start time differs, to a root that is gone, or to rows without usage fields', () => {
      const sampler = new UsageSampler();
      expect(
        collectUsage(tableOf(row(10, 1, 1, 1)), [{ project: 'p1', pid: 10, pidStartTime: 7 }], T0, sampler).size,
      ).to.equal(0);
      expect(collectUsage(tableOf(), tracked, T0, sampler).size).to.equal(0);
      const bare: ProcessInfo = {
        pid: 10,
        ppid: 1,
        pgid: 10,
        state: null,
        startTime: null,
        uid: null,
        comm: 'x',
        cmdline: [],
      };
      expect(collectUsage(tableOf(bare), [{ project: 'p1', pid: 10, pidStartTime: null }], T0, sampler).size).to.equal(
        0,
      );
    });
  });

  describe('on this kernel', () => {
    const processes = new Processes();
    afterEach(() => processes.cleanup());

    it('reads CPU time and resident size from stat: a tree weighs more than its root', async () => {
      const tree = await processes.tree({ detached: true });
      const table = await readProcessTable(undefined, { fields: 'stat' });
      const root = table.byPid.get(tree.root);
      expect(root?.rssBytes).to.be.greaterThan(0);
      expect((root?.rssBytes ?? 0) % pageSize()).to.equal(0);
      const tracked = [{ project: 'p1', pid: tree.root, pidStartTime: statStartTime(tree.root) }];
      const usage = collectUsage(table, tracked, Date.now(), new UsageSampler());
      expect(usage.get('p1')?.rssBytes).to.be.greaterThan(root?.rssBytes ?? Infinity);
    });

    it('sees a busy process using about a core between two scans', async () => {
      const child = processes.spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
      const tracked = [{ project: 'busy', pid: child.pid as number, pidStartTime: null }];
      const sampler = new UsageSampler();
      collectUsage(await readProcessTable(undefined, { fields: 'stat' }), tracked, Date.now(), sampler);
      await sleep(500);
      const usage = collectUsage(await readProcessTable(undefined, { fields: 'stat' }), tracked, Date.now(), sampler);
      // One spinning thread: at most a core (plus clock-tick rounding), and well above idle on a loaded machine.
      expect(usage.get('busy')?.cpuRatio).to.be.within(0.1, 1.2);
    });
  });
});
