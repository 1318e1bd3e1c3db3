// Pure tests of src/core/rules/process-tree.ts; they live beside the scanner that feeds it.
import { expect } from 'chai';
import { descendants, treeOf } from '../../src/core/rules/process-tree.js';
import type { ProcessInfo, ProcessTable } from '../../src/core/model/snapshot.js';

function aProcess(pid: number, ppid: number, pgid: number | null = pid): ProcessInfo {
  return { pid, ppid, pgid, state: 'S', startTime: 1000 + pid, uid: 0, comm: `p${pid}`, cmdline: [] };
}
function aTable(...rows: ProcessInfo[]): ProcessTable {
  return { byPid: new Map(rows.map((r) => [r.pid, r])) };
}

describe('process-tree', () => {
  const table = aTable(
    aProcess(1, 0),
    aProcess(10, 1), // root, leads group 10
    aProcess(11, 10, 10),
    aProcess(12, 10, 10),
    aProcess(13, 11, 10),
    aProcess(20, 1, 10), // daemonised: re-parented to init, still in group 10
    aProcess(30, 1), // unrelated
    aProcess(31, 30, 30),
  );

  it('lists descendants breadth-first', () => {
    expect(descendants(table, 10)).to.deep.equal([11, 12, 13]);
  });

  it('lists no descendants for a leaf or an unknown pid', () => {
    expect(descendants(table, 13)).to.deep.equal([]);
    expect(descendants(table, 999)).to.deep.equal([]);
  });

  it('survives a ppid cycle', () => {
    const cyclic = aTable(aProcess(5, 6), aProcess(6, 5));
    expect(descendants(cyclic, 5)).to.deep.equal([6]);
  });

  it('adds members of the group the root leads', () => {
    expect(treeOf(table, 10)).to.deep.equal([10, 11, 12, 13, 20]);
  });

  it('leaves out the group of a root that does not lead it', () => {
    // 11 sits in 10's group: taking the group would take its parent and siblings.
    expect(treeOf(table, 11)).to.deep.equal([11, 13]);
  });

  it('leaves out the group when it is unknown', () => {
    const noGroups = aTable(aProcess(10, 1, null), aProcess(11, 10, null), aProcess(20, 1, null));
    expect(treeOf(noGroups, 10)).to.deep.equal([10, 11]);
  });

  it('is empty for a root not in the table', () => {
    expect(treeOf(table, 999)).to.deep.equal([]);
  });
});
