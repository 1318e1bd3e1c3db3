/**
 * The reconcile step (docs/design.md#liveness-and-detection): projects + snapshot + evidence + config
 * + now => Plan. Pure; nothing is executed here. The rules live in
 * detect-active.ts (one active project) and detect-orphans.ts (leftovers).
 *
 * Order of the plan: active projects oldest start first (so the guard's "first
 * N kills" are the oldest projects' kills), then orphan sessions, leftover
 * processes, defunct-process reports.
 */
import type { AgentConfig } from '../../config/keys.js';
import type { EvidenceReport } from './completion.js';
import type { AgentActivityMemory } from './agent-activity/tracker.js';
import { clockOf, deadlineOf, detectActive, type DetectContext } from './detect-active.js';
import { detectDefunct, detectLeftoverProcesses, detectOrphanSessions } from './detect-orphans.js';
import { livenessOf } from './liveness.js';
import { memoryOf } from './agent-activity/record.js';
import { emptyPlan, type Plan } from '../model/plan.js';
import { isActive, ms, type Project } from '../model/project.js';
import type { Snapshot } from '../model/snapshot.js';

export interface ReconcileInput {
  projects: Project[];
  snapshot: Snapshot;
  /** Completion evidence by project id, for the projects `evidenceCandidates` named. */
  evidence: ReadonlyMap<string, EvidenceReport>;
  config: AgentConfig;
  /** Epoch ms. */
  now: number;
  /** This agent's host; projects of other hosts are left alone. Undefined: every project is local. */
  hostId?: string;
  /** Agent-activity memories after this cycle's pane readings (prompts and limits pause the timeout clock). */
  activity?: ReadonlyMap<string, AgentActivityMemory>;
}

/** Projects whose `host` is null or this host (every project when no host is given). */
export function isLocal(project: Project, hostId: string | undefined): boolean {
  return hostId === undefined || project.host === null || project.host === hostId;
}

/** Oldest start first, then id: the documented order of the plan's kills. */
export function byStartThenId(a: Project, b: Project): number {
  const sa = ms(a.startedAt) ?? ms(a.enqueuedAt) ?? 0;
  const sb = ms(b.startedAt) ?? ms(b.enqueuedAt) ?? 0;
  return sa - sb || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** `byStartThenId` order, each start time parsed once rather than in every comparison (a registry holds thousands). */
export function sortedByStartThenId(projects: readonly Project[]): Project[] {
  const keyed = projects.map((p) => ({ p, start: ms(p.startedAt) ?? ms(p.enqueuedAt) ?? 0 }));
  keyed.sort((a, b) => a.start - b.start || (a.p.id < b.p.id ? -1 : a.p.id > b.p.id ? 1 : 0));
  return keyed.map((k) => k.p);
}

export function reconcile(input: ReconcileInput): Plan {
  const plan = emptyPlan();
  const ctx: DetectContext = {
    snapshot: input.snapshot,
    config: input.config,
    now: input.now,
    evidence: input.evidence,
    ...(input.activity ? { activity: input.activity } : {}),
  };
  const local = sortedByStartThenId(input.projects.filter((p) => isLocal(p, input.hostId)));
  for (const project of local) if (isActive(project.state)) detectActive(project, ctx, plan);
  detectOrphanSessions(input.projects, local, ctx, plan);
  detectLeftoverProcesses(input.projects, local, ctx, plan);
  detectDefunct(local, ctx, plan);
  return plan;
}

export interface EvidenceCandidates {
  /** Project ids whose completion evidence this cycle must gather. */
  ids: string[];
  /** True when the state-sync interval elapsed and every active project is included. */
  fullSync: boolean;
}

/**
 * The projects whose completion evidence the cycle must gather before
 * reconcile: every local processing project that looks dead (zombie or
 * neither alive) or is past its deadline, every timing_out project, and every
 * active project when `stateSyncIntervalSec` has passed since the last full
 * sync (or there was none). Zombie-state projects only come with a full sync:
 * they can no longer complete. The deadline counts the time the project's
 * timeout clock was paused (by what its `agentActivity` record says).
 */
export function evidenceCandidates(
  projects: readonly Project[],
  snapshot: Snapshot,
  config: AgentConfig,
  now: number,
  lastFullSyncAt: number | null,
  hostId?: string,
): EvidenceCandidates {
  const fullSync = lastFullSyncAt === null || now - lastFullSyncAt >= config.stateSyncIntervalSec * 1000;
  const ids: string[] = [];
  for (const project of sortedByStartThenId(projects.filter((p) => isActive(p.state) && isLocal(p, hostId)))) {
    if (fullSync || project.state === 'timing_out') {
      ids.push(project.id);
      continue;
    }
    if (project.state !== 'processing') continue;
    const l = livenessOf(project, snapshot);
    const clock = clockOf(memoryOf(project.agentActivity), config, now);
    const deadline = deadlineOf(project, config, clock.pausedMs);
    if (l.zombie || l.dead || (!clock.paused && deadline !== null && now > deadline)) ids.push(project.id);
  }
  return { ids, fullSync };
}
