/**
 * Process trees over a ProcessTable snapshot: pure, so the rules of "what
 * belongs to a project" are tested on plain data and shared by the usage
 * scanner and the tree killer.
 */
import type { ProcessTable } from '../model/snapshot.js';

/**
 * Children by parent PID and members by process group, in table order. Built
 * in one pass; a caller walking many trees of one table builds it once and
 * passes it along (a walk without one builds its own).
 */
export interface TreeIndex {
  children: Map<number, number[]>;
  groups: Map<number, number[]>;
}

export function indexTree(table: ProcessTable): TreeIndex {
  const children = new Map<number, number[]>();
  const groups = new Map<number, number[]>();
  for (const p of table.byPid.values()) {
    if (p.pgid !== null) {
      const members = groups.get(p.pgid);
      if (members) members.push(p.pid);
      else groups.set(p.pgid, [p.pid]);
    }
    // pid 0 (the idle task) is nobody's child we care about, and a self-parent would loop.
    if (p.ppid === p.pid) continue;
    const siblings = children.get(p.ppid);
    if (siblings) siblings.push(p.pid);
    else children.set(p.ppid, [p.pid]);
  }
  return { children, groups };
}

/** Every descendant of `pid` by ppid, breadth-first, excluding `pid` itself. */
export function descendants(table: ProcessTable, pid: number, index: TreeIndex = indexTree(table)): number[] {
  const seen = new Set<number>([pid]);
  const out: number[] = [];
  const queue: number[] = [pid];
  for (let i = 0; i < queue.length; i += 1) {
    const current = queue[i] as number;
    for (const child of index.children.get(current) ?? []) {
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
export function treeOf(table: ProcessTable, rootPid: number, index: TreeIndex = indexTree(table)): number[] {
  const root = table.byPid.get(rootPid);
  if (!root) return [];
  const tree = [rootPid, ...descendants(table, rootPid, index)];
  if (root.pgid === null || root.pgid !== rootPid) return tree;
  const members = new Set(tree);
  for (const pid of index.groups.get(root.pgid) ?? []) {
    if (!members.has(pid)) {
      members.add(pid);
      tree.push(pid);
    }
  }
  return tree;
}
