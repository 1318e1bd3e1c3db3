import { expect } from 'chai';
import { readProcessTable } from '../../src/scan/proc-table.js';
import { collectUsage } from '../../src/scan/usage.js';
import { Processes, sleep, statStartTime } from '../helpers/processes.js';

describe('usage', () => {
  const processes = new Processes();
  afterEach(() => processes.cleanup());

  it('sums memory over the whole tree of a tracked root', async () => {
    const tree = await processes.tree({ detached: true });
    const table = await readProcessTable();
    const { usage, errors } = await collectUsage(table, [{ project: 'p1', pid: tree.root, pidStartTime: statStartTime(tree.root) }]);
    expect(errors).to.deep.equal([]);
    const rootOnly = await collectUsage({ byPid: new Map([[tree.root, table.byPid.get(tree.root)!]]) }, [{ project: 'p1', pid: tree.root, pidStartTime: null }]);
    // Two node processes and a sleep weigh more than the root alone.
    expect(usage.get('p1')?.rssBytes).to.be.greaterThan(rootOnly.usage.get('p1')?.rssBytes ?? Infinity);
    expect(usage.get('p1')?.cpuRatio).to.be.at.least(0);
  });

  it('sees a busy process using CPU between two scans', async () => {
    const child = processes.spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
    const tracked = [{ project: 'busy', pid: child.pid as number, pidStartTime: null }];
    const table = await readProcessTable();
    await collectUsage(table, tracked);
    await sleep(300);
    const { usage } = await collectUsage(table, tracked);
    expect(usage.get('busy')?.cpuRatio).to.be.greaterThan(0.1);
  });

  it('gives no usage to a root whose start time differs (a reused PID)', async () => {
    const pid = await processes.sleeper();
    const { usage, errors } = await collectUsage(await readProcessTable(), [{ project: 'p1', pid, pidStartTime: statStartTime(pid) + 1 }]);
    expect(usage.has('p1')).to.equal(false);
    expect(errors).to.deep.equal([]);
  });

  it('gives no usage and no error for a root that is gone', async () => {
    const { usage, errors } = await collectUsage(await readProcessTable(), [{ project: 'p1', pid: 999_999_999, pidStartTime: 1 }]);
    expect(usage.size).to.equal(0);
    expect(errors).to.deep.equal([]);
  });

  it('does not fail when the tree exits between the table read and the measurement', async () => {
    const pid = await processes.sleeper();
    const table = await readProcessTable();
    process.kill(pid, 'SIGKILL');
    await processes.cleanup();
    const { usage, errors } = await collectUsage(table, [{ project: 'p1', pid, pidStartTime: null }]);
    expect(usage.has('p1')).to.equal(false);
    expect(errors).to.deep.equal([]);
  });
});
