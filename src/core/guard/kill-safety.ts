/**
 * The one rule of which processes and sessions may be signalled
 * (docs/design.md#safety-rules-for-every-destructive-action). The executor asks it right before each signal with
 * what it reads then; the guard asks it with what the scan saw, so a dry-run plan
 * shows a kill the executor would refuse as held back, with the same reason,
 * never as a kill. Pure: who "we" are arrives as data.
 */
import { SESSION_NAME_PATTERN } from '../model/project.js';
import type { ProcessInfo } from '../model/snapshot.js';

/** Who is asking: the PIDs never signalled (init, the agent, its parent) and the agent's uid. */
export interface KillSafety {
  protectedPids: ReadonlySet<number>;
  /** The agent's uid; null when unknown (then every process counts as another user's). */
  uid: number | null;
  /** config `allowForeignUsers`. */
  allowForeignUsers: boolean;
}

export const KILL_REFUSALS = ['protected_pid', 'pid_unverified', 'foreign_user', 'invalid_session'] as const;
export type KillRefusalReason = (typeof KILL_REFUSALS)[number];

export interface KillRefusal {
  reason: KillRefusalReason;
  detail: string;
}

/** PIDs never signalled whatever a record says: init, the agent itself and its parent. */
export function protectedPids(self: number, parent: number): Set<number> {
  return new Set([1, self, parent]);
}

/** Why `pid` itself may never be signalled, or null. */
export function pidRefusal(pid: number, safety: KillSafety): KillRefusal | null {
  if (!Number.isInteger(pid) || pid <= 0) return { reason: 'protected_pid', detail: `invalid pid ${pid}` };
  if (safety.protectedPids.has(pid))
    return { reason: 'protected_pid', detail: `refusing to signal pid ${pid} (init, the agent or its parent)` };
  return null;
}

/** Why a process other than the agent's own user's is left alone, or null when it may be signalled. */
export function ownerRefusal(owner: Pick<ProcessInfo, 'uid'>, safety: KillSafety): KillRefusal | null {
  if (safety.allowForeignUsers || (owner.uid !== null && owner.uid === safety.uid)) return null;
  return {
    reason: 'foreign_user',
    detail: `owned by uid ${owner.uid ?? 'unknown'}, not ours (${safety.uid ?? 'unknown'}); allowForeignUsers is off`,
  };
}

/**
 * Why the tree rooted at `pid` (recorded with `pidStartTime`) must not be
 * signalled, given the root as seen now (`root`), or null when it may. An
 * absent root is not refused here: there is nothing left to signal, which the
 * executor reports as skipped.
 */
export function killTreeRefusal(
  pid: number,
  pidStartTime: number,
  root: ProcessInfo | undefined | null,
  safety: KillSafety,
): KillRefusal | null {
  const own = pidRefusal(pid, safety);
  if (own !== null || !root) return own;
  if (root.startTime === null)
    return { reason: 'pid_unverified', detail: 'start time unknown (no /proc): not signalled' };
  if (root.startTime !== pidStartTime)
    return {
      reason: 'pid_unverified',
      detail: `pid reused: start time is ${root.startTime}, recorded ${pidStartTime}`,
    };
  return ownerRefusal(root, safety);
}

/** Why a session may not be targeted (a name tmux would reject or rewrite), or null. */
export function killSessionRefusal(session: string): KillRefusal | null {
  if (SESSION_NAME_PATTERN.test(session)) return null;
  return {
    reason: 'invalid_session',
    detail: `refusing session name ${JSON.stringify(session)}: it must match ${SESSION_NAME_PATTERN}`,
  };
}
