/**
 * The blast-radius guard (docs/design.md#self-healing-policy): strips destructive actions from a plan
 * when the scan is not trustworthy or the plan would kill too much. Pure.
 *
 * Rules, in order:
 * 1. any scan source failed (scanIsClear false): every kill_tree and
 *    kill_session is held, `scan_failed`;
 * 2. a kill the executor would refuse (src/core/guard/kill-safety.ts: init, the
 *    agent or its parent, a start time that differs or is unknown, another
 *    user's process, a session name tmux would not take), judged on what the
 *    scan saw: held with the rule's reason, so the plan never shows it as a
 *    kill; it does not count against the limits below;
 * 3. the plan's tree kills of active projects (kill_tree actions with a
 *    follow-up move) would kill more than half of at least 4 processing
 *    projects: every kill_tree is held, `too_many_processing`;
 * 4. more kill_tree actions than `maxKillsPerCycle`: the first
 *    `maxKillsPerCycle` in plan order run, the rest are held, `too_many_kills`.
 *    reconcile orders its kills oldest project start first.
 *
 * A held action's follow-up move does not happen (it rides on the action);
 * transitions planned on their own (into zombie or timing_out) are
 * observations and stay.
 */
import type { AgentConfig } from '../../config/keys.js';
import { isDestructive, type BlockedAction, type HealAction, type Plan } from '../model/plan.js';
import { scanIsClear, type Snapshot } from '../model/snapshot.js';
import { serverLabel } from '../rules/liveness.js';
import { killSessionRefusal, killTreeRefusal, type KillRefusal, type KillSafety } from './kill-safety.js';
import { countOf } from '../views/wording.js';

export interface GuardContext {
  snapshot: Snapshot;
  config: Pick<AgentConfig, 'maxKillsPerCycle'>;
  /** Who would signal: the executor's own safety context (heal/kill-tree.ts `agentKillSafety`). */
  safety: KillSafety;
  /** Projects in active states (processing, timing_out, zombie) before this plan is applied. */
  processingCount: number;
}

export interface GuardResult {
  /** The plan with held actions removed; everything else unchanged. */
  plan: Plan;
  blocked: BlockedAction[];
}

/** The scan sources that failed this cycle, for the blocked detail. */
export function failedSources(snapshot: Snapshot): string[] {
  const failed: string[] = [];
  for (const s of snapshot.sources) {
    if (s.source !== 'usage' && !s.ok) failed.push(`${s.source}${s.error ? ` (${s.error})` : ''}`);
  }
  for (const t of snapshot.tmux) {
    if (!t.ok) failed.push(`${serverLabel(t.socket)}${t.error ? ` (${t.error})` : ''}`);
  }
  return failed;
}

/** The executor's refusal of `action` on what the scan saw, or null when it would go ahead. */
function refusalOf(action: HealAction, ctx: GuardContext): KillRefusal | null {
  if (action.kind === 'kill_session') return killSessionRefusal(action.session);
  if (action.kind !== 'kill_tree') return null;
  return killTreeRefusal(action.pid, action.pidStartTime, ctx.snapshot.processes.byPid.get(action.pid), ctx.safety);
}

export function guard(plan: Plan, ctx: GuardContext): GuardResult {
  const blocked: BlockedAction[] = [];
  const held = new Set<HealAction>();
  const hold = (action: HealAction, reason: BlockedAction['reason'], detail: string): void => {
    held.add(action);
    blocked.push({ action, reason, detail });
  };

  if (!scanIsClear(ctx.snapshot)) {
    const detail = `scan failed: ${failedSources(ctx.snapshot).join('; ') || 'unknown source'}`;
    for (const action of plan.actions) if (isDestructive(action)) hold(action, 'scan_failed', detail);
  } else {
    for (const action of plan.actions) {
      const refused = refusalOf(action, ctx);
      if (refused) hold(action, refused.reason, refused.detail);
    }
    const kills = plan.actions.filter((a) => a.kind === 'kill_tree' && !held.has(a));
    const victims = new Set(kills.filter((a) => a.then !== undefined && a.project !== null).map((a) => a.project));
    const limit = ctx.config.maxKillsPerCycle;
    if (ctx.processingCount >= 4 && victims.size * 2 > ctx.processingCount) {
      const detail =
        `${victims.size} of ${ctx.processingCount} active projects would be killed in one cycle ` +
        '(more than half of at least 4)';
      for (const action of kills) hold(action, 'too_many_processing', detail);
    } else if (kills.length > limit) {
      const planned = countOf(kills.length, 'process tree');
      const detail = `${planned} planned, at most ${limit} per cycle (AGENT_MAX_KILLS_PER_CYCLE)`;
      for (const action of kills.slice(limit)) hold(action, 'too_many_kills', detail);
    }
  }

  return { plan: { ...plan, actions: plan.actions.filter((a) => !held.has(a)) }, blocked };
}
