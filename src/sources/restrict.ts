/**
 * What the agent may not do to imported projects, applied to a cycle's plan
 * before the guard. Pure.
 *
 * - Their source failed this cycle: its view may be stale (the row may have
 *   completed meanwhile), so kills and moves into failed are held back, and
 *   the held kills are reported like the guard's (reason `scan_failed`).
 * - Observed only (`heal: false`): the agent reports, it does not act. No
 *   kill of any kind and no timeout handling (their runtime is the tool's
 *   business); a zombie is still a zombie, a completion still a completion.
 * - tmux sessions: an ended session whose process ended too is not a
 *   phantom to fail; the source drops it after the grace instead. A source
 *   no longer configured drops nothing, so its projects fall back to the
 *   phantom rule rather than stay processing for ever.
 */
import { isDestructive, type BlockedAction, type Plan } from '../core/model/plan.js';
import type { Project, ProjectSource } from '../core/model/project.js';

export interface RestrictResult {
  plan: Plan;
  /** Kills held back because the project's source failed this cycle. */
  blocked: BlockedAction[];
  /** Kills left out because the source only lets the agent observe, by source name. */
  withheld: Map<string, number>;
}

/**
 * @param failedSources the sources whose pass failed this cycle, with why
 * @param heal the configured sources and whether each lets the agent heal: the
 *   configuration wins over the record, which only learns a change when the
 *   source shows the project again (a zombie's session never comes back)
 */
export function restrictPlan(
  plan: Plan,
  projects: readonly Project[],
  failedSources: ReadonlyMap<string, string>,
  heal: ReadonlyMap<string, boolean> = new Map(),
): RestrictResult {
  const sources = new Map<string, ProjectSource>();
  const dropsEnded = (s: ProjectSource): boolean => s.kind === 'tmux-sessions' && heal.has(s.name);
  for (const p of projects) {
    if (p.source) sources.set(p.id, { ...p.source, heal: heal.get(p.source.name) ?? p.source.heal });
  }
  const sourceOf = (id: string | null): ProjectSource | undefined => (id === null ? undefined : sources.get(id));
  const blocked: BlockedAction[] = [];
  const withheld = new Map<string, number>();
  if (sources.size === 0) return { plan, blocked, withheld };

  const actions = plan.actions.filter((action) => {
    const s = sourceOf(action.project);
    if (!s || !isDestructive(action)) return true;
    const failure = failedSources.get(s.name);
    if (failure !== undefined) {
      blocked.push({ action, reason: 'scan_failed', detail: `source ${s.name} failed this cycle: ${failure}` });
      return false;
    }
    if (s.heal) return true;
    withheld.set(s.name, (withheld.get(s.name) ?? 0) + 1);
    return false;
  });
  const transitions = plan.transitions.filter((t) => {
    const s = sourceOf(t.project);
    if (!s) return true;
    if (t.to === 'failed' && failedSources.has(s.name)) return false;
    if (t.to === 'failed' && dropsEnded(s) && t.patch?.failureReason === 'phantom') return false;
    return t.to !== 'timing_out' || s.heal;
  });
  const updates = plan.updates.filter((u) => {
    const s = sourceOf(u.project);
    return !s || s.heal || u.patch.timeoutExtensions === undefined;
  });
  const detections = plan.detections.filter((d) => {
    const s = sourceOf(d.project);
    return !s || !((d.kind === 'phantom' && dropsEnded(s)) || (d.kind === 'timing_out' && !s.heal));
  });
  return { plan: { ...plan, actions, transitions, updates, detections }, blocked, withheld };
}
