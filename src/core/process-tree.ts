/**
 * Process trees over a ProcessTable snapshot: pure, so the rules of "what
 * belongs to a project" are tested on plain data and shared by the usage
 * scanner and the tree killer.
 */
import type { ProcessTable } from './snapshot.js';

/** PIDs by parent PID, built once per walk. */
function childrenIndex(table: ProcessTable): Map<number, number[]> {
  const index = new Map<number, number[]>();
  for (const p of table.byPid.values()) {
    // pid 0 (the idle task) is nobody's child we care about, and a self-parent would loop.
    if (p.ppid === p.pid) continue;
    const siblings = index.get(p.ppid);
    if (siblings) siblings.push(p.pid);
    else index.set(p.ppid, [p.pid]);
  }
  return index;
}

/** Every descendant of `pid` by ppid, breadth-first, excluding `pid` itself. */
export function descendants(table: ProcessTable, pid: number): number[] {
  const index = childrenIndex(table);
  const seen = new Set<number>([pid]);
  const out: number[] = [];
  const queue: number[] = [pid];
  for (let i = 0; i < queue.length; i += 1) {
    const current = queue[i] as number;
    for (const child of index.get(current) ?? []) {
      // A table read over time can show a cycle after PID reuse; never walk it twice.
      if (seen.has(child)) continue;
      seen.add(child);
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/**
 * The root, its descendants, then the other members of its process group.
 * Group members are only included when the root leads its group
 * (pgid === pid): that catches daemonised children re-parented to init, while
 * a root sitting in somebody else's group (a shell's job, the agent's own
 * group) would otherwise drag in its parent and siblings. Empty when the root
 * is not in the table.
 */
export function treeOf(table: ProcessTable, rootPid: number): number[] {
  const root = table.byPid.get(rootPid);
  if (!root) return [];
  const tree = [rootPid, ...descendants(table, rootPid)];
  if (root.pgid === null || root.pgid !== rootPid) return tree;
  const members = new Set(tree);
  for (const p of table.byPid.values()) {
    if (p.pgid === root.pgid && !members.has(p.pid)) {
      members.add(p.pid);
      tree.push(p.pid);
    }
  }
  return tree;
}
