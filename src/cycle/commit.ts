/**
 * The commit step of a cycle: two locked writes of the registry at most.
 *
 * 1. `commitPlan`, before any action runs: the observations of the plan
 *    (transitions and updates that need no action, retries, the queue
 *    breaker, retention) together with the intents of the actions about to
 *    run (docs/architecture.md#crash-safety).
 * 2. `commitOutcomes`, after the actions ran: the follow-up moves of those
 *    that succeeded, failed launches as failed attempts, one audit line per
 *    action, and the intents settled.
 *
 * Each write re-reads the registry under the lock and drops any planned item
 * whose project changed since the scan (a report arrived meanwhile),
 * together with its actions: a stale plan never kills. A store with
 * optimistic concurrency (Redis) may run a write's change more than once, so
 * every change starts over on each call and returns what it committed.
 */
import { randomBytes } from 'node:crypto';
import type { AgentConfig } from '../config/keys.js';
import { applyTransition, applyUpdate, findProject, type EnterHook } from '../core/model/apply.js';
import { intentFor } from '../core/guard/intents.js';
import { failedLaunchMoves } from '../core/policy/launch.js';
import type { HealAction, Plan, PlannedTransition, PlannedUpdate } from '../core/model/plan.js';
import { iso, isTerminal, ms, type Project } from '../core/model/project.js';
import { isQueuePaused } from '../core/policy/queue-breaker.js';
import type { RegistryDocument } from '../core/model/registry-document.js';
import { canTransition } from '../core/rules/state-machine.js';
import type { TransitionReport } from '../cycle.js';
import type { ActionOutcome } from '../heal/execute.js';
import type { Logger } from '../log.js';
import type { RegistryStore, Transaction } from '../registry/store.js';

/** What both writes need to know about the cycle. */
export interface CommitContext {
  store: RegistryStore;
  config: AgentConfig;
  log: Logger;
  /** The actor of every record: `agent@<host>`. */
  by: string;
  /** Runs the policy of a state a project enters (retry backoff, breaker). */
  onEnter: EnterHook;
  /** Whether this agent takes the queue-wide decisions (queue record, retention). */
  leader: boolean;
  /** Fencing token of the leader lease, carried by the leader's write. */
  fence: number | null;
}

/** The guarded plan of a cycle and the queue-wide decisions made with it. */
export interface PlanToCommit {
  /** The registry as the plan read it. */
  doc: RegistryDocument;
  plan: Plan;
  /** Agent-activity memories to keep on the projects, applied before the moves (a failure under a limit reads it). */
  activityUpdates: readonly PlannedUpdate[];
  /** Intents that recovery settled: they leave the registry. */
  recoveredIntents: readonly string[];
  /** The queue record as the plan leaves it (the queue breaker), and whether it tripped or resumed. */
  queue: RegistryDocument['queue'];
  queueEvent: 'tripped' | 'resumed' | null;
}

/** What the first write committed. */
export interface CommittedPlan {
  transitions: TransitionReport[];
  counts: { retries: number; queueTrips: number; extensions: number };
  /** The actions whose intents are recorded: these, and only these, run. */
  runnable: HealAction[];
  /** The intent recorded for each runnable action. */
  intentIds: Map<HealAction, string>;
}

/** What the second write committed. */
export interface CommittedOutcomes {
  transitions: TransitionReport[];
  launches: number;
}

function newIntentId(): string {
  return randomBytes(6).toString('hex');
}

/** The identity of a project as the plan saw it: if any of this changed, the plan is stale for it. */
function fingerprint(p: Project): string {
  return JSON.stringify([p.state, p.pid, p.pidStartTime, p.session, p.tmuxSocket, p.startedAt, p.attempts]);
}

function actionAudit(o: ActionOutcome, at: string, by: string) {
  const a = o.action;
  return {
    at,
    type: 'action' as const,
    project: a.project,
    by,
    action: a.kind,
    outcome: o.outcome,
    detail: o.detail,
    reason: a.reason,
    pid: a.kind === 'kill_tree' ? a.pid : (o.launched?.pid ?? null),
    session: a.session,
    tmuxSocket: a.tmuxSocket,
  };
}

/** Where planned moves land: one registry copy inside one write. */
interface Applier {
  doc: RegistryDocument;
  tx: Transaction;
  now: number;
  by: string;
  onEnter: EnterHook;
  reports: TransitionReport[];
}

/** Apply one planned move if the project is still where the plan found it. */
function applyPlanned(a: Applier, t: PlannedTransition): boolean {
  const project = findProject(a.doc, t.project);
  // A move the state machine forbids would throw and lose the whole commit, every cycle: skip it instead.
  if (!project || project.state !== t.from || !canTransition(t.from, t.to)) return false;
  const options = { now: a.now, by: a.by, reason: t.reason, patch: t.patch, details: t.details };
  const { record } = applyTransition(a.doc, project, t.to, options, a.onEnter);
  a.tx.audit(record);
  a.reports.push({ project: t.project, from: t.from, to: t.to, reason: t.reason });
  return true;
}

function applyPlannedUpdate(a: Applier, u: PlannedUpdate): void {
  const project = findProject(a.doc, u.project);
  if (!project) return;
  const note = u.note ? { reason: u.note, now: a.now, by: a.by, details: u.details } : undefined;
  const { record } = applyUpdate(a.doc, project, u.patch, note);
  if (record) a.tx.audit(record);
}

/** A terminal project that ended before `cutoff` and will not be retried. */
function isExpired(p: Project, cutoff: number): boolean {
  const ended = ms(p.endedAt);
  // A failed project that may still be retried stays.
  const waitingRetry = p.state === 'failed' && p.nextAttemptAt !== null;
  return isTerminal(p.state) && ended !== null && ended < cutoff && !waitingRetry;
}

function retentionCutoff(config: AgentConfig, now: number): number {
  return now - config.retentionDays * 86_400_000;
}

/** Terminal projects past the retention move to the archive. */
function archiveExpired(doc: RegistryDocument, tx: Transaction, config: AgentConfig, now: number): number {
  if (config.retentionDays <= 0) return 0;
  const cutoff = retentionCutoff(config, now);
  const keep: Project[] = [];
  let moved = 0;
  for (const p of doc.projects) {
    if (isExpired(p, cutoff)) {
      tx.archive(p);
      moved += 1;
    } else keep.push(p);
  }
  doc.projects = keep;
  return moved;
}

/**
 * Whether the first write has anything to commit. A steady queue (nothing to
 * move, update, act on, settle or archive) skips it: no lock, no re-read of
 * the registry, no rewrite.
 */
function hasObservations(p: PlanToCommit, config: AgentConfig, now: number, leader: boolean): boolean {
  const { plan, doc } = p;
  if (plan.transitions.length > 0 || plan.updates.length > 0 || plan.actions.length > 0) return true;
  if (p.recoveredIntents.length > 0 || p.activityUpdates.length > 0) return true;
  if (!leader) return false;
  if (JSON.stringify(doc.queue) !== JSON.stringify(p.queue)) return true;
  return config.retentionDays > 0 && doc.projects.some((project) => isExpired(project, retentionCutoff(config, now)));
}

function nothingCommitted(): CommittedPlan {
  return { transitions: [], counts: { retries: 0, queueTrips: 0, extensions: 0 }, runnable: [], intentIds: new Map() };
}

/** The first write: the plan's observations and the intents of its actions. Throws when the registry write fails. */
export async function commitPlan(p: PlanToCommit, ctx: CommitContext, now: number): Promise<CommittedPlan> {
  const { plan, doc } = p;
  const { config, log, by, leader } = ctx;
  if (!hasObservations(p, config, now, leader)) return nothingCommitted();
  const seen = new Map(doc.projects.map((project) => [project.id, fingerprint(project)]));
  return ctx.store.update(
    (fresh, tx) => {
      // A store with optimistic concurrency may run this again on a fresh copy: start over each time.
      const out = nothingCommitted();
      const at = iso(now);
      const a: Applier = { doc: fresh, tx, now, by, onEnter: ctx.onEnter, reports: out.transitions };
      const changed = (project: Project) => seen.has(project.id) && seen.get(project.id) !== fingerprint(project);
      const stale = new Set(fresh.projects.filter(changed).map((project) => project.id));
      for (const id of stale) log.info('project changed during the cycle; its plan is dropped', { project: id });
      const current = (id: string | null) => id === null || !stale.has(id);

      fresh.intents = fresh.intents.filter((i) => !p.recoveredIntents.includes(i.id));
      // An operator paused or resumed the queue since the plan was made: their record stands, and a
      // queue paused now gets no retry and no launch from a plan that did not know.
      const queueMoved = JSON.stringify(fresh.queue) !== JSON.stringify(doc.queue);
      const pausedNow = queueMoved && isQueuePaused(fresh.queue, now);
      const isRetry = (t: PlannedTransition) => t.from === 'failed' && t.to === 'queued';
      for (const u of p.activityUpdates) if (current(u.project)) applyPlannedUpdate(a, u);
      for (const t of plan.transitions) if (current(t.project) && !(pausedNow && isRetry(t))) applyPlanned(a, t);
      for (const u of plan.updates) if (current(u.project)) applyPlannedUpdate(a, u);
      const extended = (u: PlannedUpdate) => u.note === 'extended' || u.patch.timeoutExtensions !== undefined;
      out.counts.extensions = plan.updates.filter(extended).length;
      out.counts.retries = out.transitions.filter((t) => t.from === 'failed' && t.to === 'queued').length;

      if (leader && !queueMoved && JSON.stringify(fresh.queue) !== JSON.stringify(p.queue)) {
        fresh.queue = p.queue;
        if (p.queueEvent) {
          tx.audit({ at, type: 'note', project: null, by, reason: `queue breaker ${p.queueEvent}`, queue: p.queue });
          if (p.queueEvent === 'tripped') out.counts.queueTrips += 1;
          log.warn(`queue breaker ${p.queueEvent}`, { trippedBy: p.queue.trippedBy, resumeAt: p.queue.resumeAt });
        }
      }

      const launchable = (act: HealAction) =>
        !pausedNow && act.project !== null && findProject(fresh, act.project)?.state === 'queued';
      out.runnable = plan.actions.filter((act) => current(act.project) && (act.kind !== 'launch' || launchable(act)));
      for (const act of out.runnable) {
        const id = newIntentId();
        out.intentIds.set(act, id);
        fresh.intents.push(intentFor(act, id, at, by));
      }
      const archived = leader ? archiveExpired(fresh, tx, config, now) : 0;
      if (archived > 0) log.info('terminal projects archived', { count: archived });
      return out;
    },
    leader ? { fence: ctx.fence } : {},
  );
}

/**
 * The second write: what the actions did. `now` is read inside the write.
 * Throws when the registry write fails (the intents stay: the next cycle
 * finishes them from what it sees).
 */
export async function commitOutcomes(
  outcomes: readonly ActionOutcome[],
  intentIds: ReadonlyMap<HealAction, string>,
  ctx: CommitContext,
  clock: () => number,
): Promise<CommittedOutcomes> {
  if (outcomes.length === 0) return { transitions: [], launches: 0 };
  const { by } = ctx;
  return ctx.store.update((fresh, tx) => {
    const out: CommittedOutcomes = { transitions: [], launches: 0 };
    const done = clock();
    const at = iso(done);
    const a: Applier = { doc: fresh, tx, now: done, by, onEnter: ctx.onEnter, reports: out.transitions };
    for (const o of outcomes) {
      tx.audit(actionAudit(o, at, by));
      const act = o.action;
      if (act.kind === 'launch' && o.launchFailure) {
        // A launch that did not start is a failed attempt (retried with backoff, counted by the
        // breakers); left queued it would be tried again every cycle and hold its slot.
        const [attempted, failed] = failedLaunchMoves(act, o.detail, o.launchFailure);
        if (applyPlanned(a, attempted)) applyPlanned(a, failed);
        continue;
      }
      if (o.outcome !== 'success' || act.project === null || !act.then) continue;
      const project = findProject(fresh, act.project);
      if (!project) continue;
      const patch = o.launched ? { ...act.then.patch, ...o.launched } : act.then.patch;
      const move = {
        project: project.id,
        from: project.state,
        to: act.then.to,
        reason: act.then.reason,
        ...(patch ? { patch } : {}),
      };
      if (applyPlanned(a, move) && act.kind === 'launch') out.launches += 1;
    }
    // A launch whose outcome is unknown (tmux timed out: its session may exist) keeps its
    // intent; the next cycle adopts the session or, when it is missing, launches again.
    const unknown = (o: ActionOutcome) => o.action.kind === 'launch' && o.outcome === 'failure' && !o.launchFailure;
    const settled = new Set(outcomes.filter((o) => !unknown(o)).map((o) => intentIds.get(o.action)));
    fresh.intents = fresh.intents.filter((i) => !settled.has(i.id));
    return out;
  });
}
