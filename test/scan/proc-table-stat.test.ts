import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { indexTree, treeOf } from '../../src/core/rules/process-tree.js';
import { readProcessTable } from '../../src/scan/proc-table.js';
import { Processes, statStartTime } from '../helpers/processes.js';

function statLine(pid: number, comm: string, ppid = 1, pgid = pid): string {
  const after = Array.from({ length: 49 }, () => '0');
  after[0] = 'S';
  after[1] = String(ppid);
  after[2] = String(pgid);
  after[19] = '4242';
  return `${pid} (${comm}) ${after.join(' ')}\n`;
}

describe('proc-table: the stat-only table a cycle reads', () => {
  const processes = new Processes();
  let fixture: string;
  beforeEach(async () => {
    fixture = await mkdtemp(join(tmpdir(), 'toa-proc-stat-'));
  });
  afterEach(async () => {
    await processes.cleanup();
    await rm(fixture, { recursive: true, force: true });
  });

  it('reads parent, group, state and start time of every process, leaving uid and cmdline unread', async () => {
    const pid = await processes.sleeper({ detached: true });
    const table = await readProcessTable(undefined, { fields: 'stat' });
    const row = table.byPid.get(pid);
    expect(row).to.deep.include({
      pid,
      ppid: process.pid,
      pgid: pid,
      startTime: statStartTime(pid),
      comm: 'sleep',
      uid: null,
      cmdline: [],
    });
    expect(row?.state).to.match(/^[RS]$/);
    expect(table.byPid.get(process.pid)).to.not.equal(undefined);
  });

  it('needs nothing but the stat file of each process', async () => {
    await mkdir(join(fixture, '10'));
    await writeFile(join(fixture, '10', 'stat'), statLine(10, 'a b) c'));
    await mkdir(join(fixture, '11'));
    await writeFile(join(fixture, '11', 'stat'), statLine(11, 'child', 10, 10));
    const table = await readProcessTable(fixture, { fields: 'stat' });
    expect([...table.byPid.keys()].sort()).to.deep.equal([10, 11]);
    expect(table.byPid.get(10)?.comm).to.equal('a b) c');
    expect(treeOf(table, 10, indexTree(table))).to.deep.equal(treeOf(table, 10));
  });

  it('skips a directory without a stat file (a process that exited)', async () => {
    await mkdir(join(fixture, '12'));
    expect((await readProcessTable(fixture, { fields: 'stat' })).byPid.size).to.equal(0);
  });

  it('rejects a malformed stat line, naming the file', async () => {
    await mkdir(join(fixture, '13'));
    await writeFile(join(fixture, '13', 'stat'), '13 (truncated');
    const err = await readProcessTable(fixture, { fields: 'stat' }).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(err?.message)
      .to.include(join(fixture, '13', 'stat'))
      .and.include('malformed stat line');
  });

  it('reads more processes than one batch', async () => {
    for (let pid = 100; pid < 700; pid++) {
      await mkdir(join(fixture, String(pid)));
      await writeFile(join(fixture, String(pid), 'stat'), statLine(pid, `p${pid}`));
    }
    expect((await readProcessTable(fixture, { fields: 'stat' })).byPid.size).to.equal(600);
  });
});
