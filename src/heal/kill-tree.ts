/**
 * Kill a project's process tree (docs/design.md#self-healing-policy): verify the root is still the
 * recorded process, SIGTERM the tree, wait the grace, SIGKILL survivors.
 * Every signal is preceded by a start-time check, so a PID that was reused by
 * another process in the meantime is never hit. (Node has no pidfd, so a
 * reuse between that check and kill(2) remains possible, but needs a full
 * PID wrap within microseconds.)
 */
import { descendants, treeOf } from '../core/rules/process-tree.js';
import {
  killTreeRefusal,
  ownerRefusal,
  pidRefusal,
  protectedPids,
  type KillSafety,
} from '../core/guard/kill-safety.js';
import { countOf } from '../core/views/wording.js';
import type { ProcessInfo } from '../core/model/snapshot.js';
import { DEFAULT_PROC_ROOT, readProcess, readProcessTable, readStat } from '../scan/proc-table.js';

export interface KillTreeOptions {
  /** Root of the tree. */
  pid: number;
  /** The root's recorded start time (field 22 of /proc/<pid>/stat); anything else is another process. */
  pidStartTime: number;
  /** procfs root; default `/proc`. */
  procRoot?: string;
  /** Wait between SIGTERM and SIGKILL (config `killGraceSec` × 1000); default 10000. */
  graceMs?: number;
  /** Signal processes of other users too (config `allowForeignUsers`); default false. */
  allowForeignUsers?: boolean;
  /** How often to look whether the tree is gone; default 50. */
  pollMs?: number;
}

export interface KillTreeResult {
  outcome: 'success' | 'failure' | 'skipped';
  detail: string;
  /** PIDs that were sent a signal (directly or as known members of the signalled group). */
  signalled: number[];
}

/** How long SIGKILLed processes get to disappear before the kill counts as failed. */
const KILL_CONFIRM_MS = 2000;

/** A tree member, pinned to its start time when collected. */
interface Member {
  pid: number;
  startTime: number;
  pgid: number | null;
  state: string | null;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The safety context of this process: it never signals init, itself or its parent, nor (by default) another user. */
export function agentKillSafety(allowForeignUsers: boolean): KillSafety {
  return {
    protectedPids: protectedPids(process.pid, process.ppid),
    uid: process.getuid?.() ?? null,
    allowForeignUsers,
  };
}

/** Send one signal; ESRCH (already gone) is routine, anything else is returned to be reported. */
function send(target: number, signal: NodeJS.Signals): 'sent' | 'gone' | Error {
  try {
    process.kill(target, signal);
    return 'sent';
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** True while `member` is still the same, non-zombie process. */
async function stillRunning(member: Member, procRoot: string): Promise<boolean> {
  const now = await readStat(member.pid, procRoot);
  return now !== null && now.startTime === member.startTime && now.state !== 'Z' && now.state !== 'X';
}

function isDead(p: ProcessInfo): boolean {
  return p.state === 'Z' || p.state === 'X';
}

function skipped(detail: string): KillTreeResult {
  return { outcome: 'skipped', detail, signalled: [] };
}

/** Kill the tree rooted at `pid`. Never rejects for a process that vanishes; other I/O errors propagate. */
export async function killTree(options: KillTreeOptions): Promise<KillTreeResult> {
  const { pid, pidStartTime } = options;
  const procRoot = options.procRoot ?? DEFAULT_PROC_ROOT;
  const graceMs = options.graceMs ?? 10_000;
  const pollMs = options.pollMs ?? 50;
  const safety = agentKillSafety(options.allowForeignUsers ?? false);
  const guarded = safety.protectedPids;
  // The same rule the guard applied to the plan, now on what is read right before the signals.
  const own = pidRefusal(pid, safety);
  if (own) return skipped(own.detail);
  // A cheap probe first: a reused or foreign PID is refused before the full table is read.
  const probed = await readProcess(pid, procRoot);
  if (!probed) return skipped('process already gone');
  const early = killTreeRefusal(pid, pidStartTime, probed, safety);
  if (early) return skipped(early.detail);

  const table = await readProcessTable(procRoot);
  const root = table.byPid.get(pid);
  // A defunct root still pins its PID and group, so the members it left behind can be found and killed.
  if (!root) return skipped('process already gone');
  const late = killTreeRefusal(pid, pidStartTime, root, safety);
  if (late) return skipped(late.detail);

  const members: Member[] = [];
  let spared = 0;
  for (const memberPid of treeOf(table, pid)) {
    const p = table.byPid.get(memberPid);
    if (!p || isDead(p) || p.startTime === null || guarded.has(memberPid)) continue;
    if (ownerRefusal(p, safety)) {
      spared += 1;
      continue;
    }
    members.push({ pid: p.pid, startTime: p.startTime, pgid: p.pgid, state: p.state });
  }
  if (members.length === 0) {
    if (spared === 0) return skipped('process already gone');
    return skipped(`nothing left to signal: ${countOf(spared, 'process')} of other users left alone`);
  }
  const memberPids = new Set(members.map((m) => m.pid));

  // The group signal also reaches members forked after the table was read, but only when the
  // group is the root's own and holds nothing we must spare (the agent, its parent, other users).
  const ourPgid = table.byPid.get(process.pid)?.pgid ?? null;
  const groupMembers = [...table.byPid.values()].filter((p) => p.pgid === pid && !isDead(p));
  const useGroup =
    root.pgid === pid && ourPgid !== null && ourPgid !== pid && groupMembers.every((p) => memberPids.has(p.pid));

  const signalled = new Set<number>();
  const errors: string[] = [];
  const signalMember = async (member: Member, signal: NodeJS.Signals): Promise<void> => {
    if (!(await stillRunning(member, procRoot))) return;
    const result = send(member.pid, signal);
    if (result === 'sent') signalled.add(member.pid);
    else if (result instanceof Error) errors.push(`${signal} to ${member.pid}: ${result.message}`);
  };

  // While the root (the group leader) is still the recorded process, -pid is still its group.
  const rootMember = members.find((m) => m.pid === pid);
  let groupSent = false;
  if (useGroup && rootMember && (await stillRunning(rootMember, procRoot))) {
    const result = send(-pid, 'SIGTERM');
    if (result === 'sent') {
      groupSent = true;
      for (const m of members) if (m.pgid === pid) signalled.add(m.pid);
    } else if (result instanceof Error) {
      errors.push(`SIGTERM to group ${pid}: ${result.message}`);
    }
  }
  for (const member of members) {
    if (groupSent && member.pgid === pid) continue;
    await signalMember(member, 'SIGTERM');
  }
  // A stopped process only acts on SIGTERM once continued.
  for (const member of members) if (member.state === 'T' || member.state === 't') await signalMember(member, 'SIGCONT');

  let survivors = await waitGone(members, procRoot, graceMs, pollMs);
  let killed = 0;
  if (survivors.length > 0) {
    // Processes forked during the grace belong to the tree too: children of survivors, and
    // (when the group was signalled as the root's own) newcomers to that group.
    const fresh = await readProcessTable(procRoot);
    const known = new Set(survivors.map((m) => m.pid));
    const newcomers = survivors.flatMap((m) => descendants(fresh, m.pid));
    if (groupSent) for (const p of fresh.byPid.values()) if (p.pgid === pid) newcomers.push(p.pid);
    for (const child of newcomers) {
      const p = fresh.byPid.get(child);
      if (!p || known.has(child) || isDead(p) || p.startTime === null || guarded.has(child)) continue;
      if (ownerRefusal(p, safety)) continue;
      known.add(child);
      survivors.push({ pid: p.pid, startTime: p.startTime, pgid: p.pgid, state: p.state });
    }
    killed = survivors.length;
    for (const member of survivors) await signalMember(member, 'SIGKILL');
    survivors = await waitGone(survivors, procRoot, KILL_CONFIRM_MS, pollMs);
  }

  const notes: string[] = [];
  if (killed > 0) notes.push(`${killed} needed SIGKILL after ${graceMs} ms`);
  if (spared > 0) notes.push(`${spared} of other users left alone`);
  if (errors.length > 0) notes.push(errors.join('; '));
  const suffix = notes.length > 0 ? ` (${notes.join('; ')})` : '';
  if (survivors.length > 0) {
    const pids = survivors.map((m) => m.pid).join(', ');
    return {
      outcome: 'failure',
      detail: `${survivors.length} of ${countOf(members.length, 'process')} survived SIGKILL: ${pids}${suffix}`,
      signalled: [...signalled],
    };
  }
  const detail = `killed a tree of ${countOf(members.length, 'process')}${suffix}`;
  return { outcome: 'success', detail, signalled: [...signalled] };
}

/** Poll until every member is gone or `timeoutMs` passed; returns the survivors. */
async function waitGone(
  members: readonly Member[],
  procRoot: string,
  timeoutMs: number,
  pollMs: number,
): Promise<Member[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = [...members];
  for (;;) {
    const still = await Promise.all(alive.map((m) => stillRunning(m, procRoot)));
    alive = alive.filter((_, i) => still[i]);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
  }
}
