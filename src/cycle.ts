/**
 * One cycle (DESIGN §2): scan → evidence → reconcile + policy → guard →
 * record intents → heal → commit. Used by `agent heal --once` and by the
 * daemon. All policy is in src/core/; this file only sequences I/O around it.
 *
 * Two locked registry writes per cycle at most:
 * 1. observations (transitions and updates that need no action, retries,
 *    the queue breaker, retention) together with the intents of the actions
 *    about to run;
 * 2. the outcomes: follow-up moves of actions that succeeded, launches, and
 *    the intents cleared.
 * Each write re-reads the registry under the lock and drops any planned item
 * whose project changed since the scan (a report arrived meanwhile), together
 * with its actions: a stale plan never kills.
 */
import { randomBytes } from 'node:crypto';
import type { AgentConfig } from './config/keys.js';
import { applyTransition, applyUpdate, findProject, type EnterHook } from './core/apply.js';
import type { RandomSource } from './core/backoff.js';
import { guard } from './core/guard.js';
import { intentFor, recoverIntents } from './core/intents.js';
import { failedLaunchMoves, selectLaunches } from './core/launch.js';
import { type BlockedAction, type Detection, type HealAction, type Plan, type PlannedTransition, type PlannedUpdate, type StaleMarkerNotice } from './core/plan.js';
import { policyEnterHook } from './core/policy-hooks.js';
import { keepPaneReads, observeCycleActivity, readCyclePanes } from './cycle-activity.js';
import type { CycleActivity, PaneReadStates } from './cycle-activity.js';
import { iso, isActive, isTerminal, ms, type Project } from './core/project.js';
import { evaluateQueueBreaker, isQueuePaused } from './core/queue-breaker.js';
import { launchHoldView, summariseQueue, type LaunchHoldView, type QueueSummary } from './core/queue-summary.js';
import { evidenceCandidates, reconcile } from './core/reconcile.js';
import type { RegistryDocument } from './core/registry-document.js';
import { planRetries } from './core/retry.js';
import { watchedServers } from './core/tmux-servers.js';
import { scanIsClear, type Snapshot, type SourceReport } from './core/snapshot.js';
import { canTransition } from './core/state-machine.js';
import { messageOf } from './errors.js';
import { gatherEvidence } from './evidence/gather.js';
import { executeActions, type ActionOutcome } from './heal/execute.js';
import { agentKillSafety } from './heal/kill-tree.js';
import type { Logger } from './log.js';
import { keepLeased, type ProjectLeases } from './registry/leases.js';
import type { RegistryStore, Transaction } from './registry/store.js';
import { scan } from './scan/scanner.js';
import type { CycleSources } from './sources/source-set.js';
import type { SourceSyncReport } from './sources/source.js';

export interface CycleOptions {
  store: RegistryStore;
  config: AgentConfig;
  hostId: string;
  log: Logger;
  /** Plan only: no intents, no actions, no registry write. */
  dryRun?: boolean;
  now?: () => number;
  random?: RandomSource;
  procRoot?: string;
  tmuxPath?: string;
  /** When the last full completion sync ran (kept by the caller between cycles). */
  lastFullSyncAt?: number | null;
  /**
   * Whether this agent holds the leader lease and so takes the queue-wide
   * decisions: retries, launches, the queue breaker, retention. Default true
   * (a single-host registry has one agent).
   */
  leader?: boolean;
  /** Fencing token of the leader lease, carried by the write of the queue-wide decisions. */
  fence?: number | null;
  /** Per-project action leases (shared registry): actions only on projects this agent holds. */
  projectLeases?: ProjectLeases;
  /** Queues imported before the scan and written back after the commit (src/sources/); none by default. */
  sources?: CycleSources | null;
  /** Each project's last pane read for agent detection, kept between cycles by the daemon (cycle-activity.ts). */
  paneReads?: PaneReadStates | null;
}

export interface TransitionReport {
  project: string;
  from: string;
  to: string;
  reason: string;
}

export interface ActionReport {
  project: string | null;
  action: HealAction['kind'];
  outcome: 'success' | 'failure' | 'skipped' | 'planned';
  detail: string;
  reason: string;
}

export interface BlockedReport {
  project: string | null;
  action: HealAction['kind'];
  reason: BlockedAction['reason'];
  detail: string;
}

export interface CycleResult {
  /** False when the registry could not be read or written, or a scan source failed (evidence errors do not count). */
  ok: boolean;
  dryRun: boolean;
  startedAt: string;
  durationMs: number;
  errors: { source: 'registry' | 'processes' | 'tmux' | 'evidence'; message: string }[];
  sources: SourceReport[];
  transitions: TransitionReport[];
  actions: ActionReport[];
  blocked: BlockedReport[];
  detections: Detection[];
  /** Marker files seen that predate their project's attempt: ignored as evidence, reported here (not stuck). */
  staleMarkers: StaleMarkerNotice[];
  /** Counts the metrics need. */
  counts: { retries: number; breakerTrips: number; launches: number; queueTrips: number; extensions: number };
  queue: QueueSummary | null;
  fullSync: boolean;
  /** Tmux sessions seen per scanned server (`default` for the default server). */
  tmuxSessions: Record<string, number>;
  /** CPU (ratio of one core) and resident memory of each tracked project's tree. */
  usage: Record<string, { cpuRatio: number; rssBytes: number }>;
  /** One report per configured source (empty without sources). */
  sourceSync?: SourceSyncReport[];
  /** The usage limit that holds launches on this host (the latest reset), or null. */
  launchHold?: LaunchHoldView | null;
}

/** A cycle's report and the registry as it committed it (null when it could not be read). */
export interface CycleOutcome {
  result: CycleResult;
  registry: RegistryDocument | null;
}

/** The servers a cycle scans (see core/tmux-servers). */
export const socketsToScan = watchedServers;

function sessionKey(socket: string | null, session: string | null): string {
  return JSON.stringify([socket, session]);
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
  const { record } = applyTransition(a.doc, project, t.to, { now: a.now, by: a.by, reason: t.reason, patch: t.patch, details: t.details }, a.onEnter);
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

/** Terminal projects past the retention move to the archive. */
function archiveExpired(doc: RegistryDocument, tx: Transaction, config: AgentConfig, now: number): number {
  if (config.retentionDays <= 0) return 0;
  const cutoff = now - config.retentionDays * 86_400_000;
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

/** A terminal project that ended before `cutoff` and will not be retried. */
function isExpired(p: Project, cutoff: number): boolean {
  const ended = ms(p.endedAt);
  // A failed project that may still be retried stays.
  const waitingRetry = p.state === 'failed' && p.nextAttemptAt !== null;
  return isTerminal(p.state) && ended !== null && ended < cutoff && !waitingRetry;
}

/**
 * Whether the first write has anything to commit. A steady queue (nothing to
 * move, update, act on, settle or archive) skips it: no lock, no re-read of
 * the registry, no rewrite.
 */
function hasObservations(doc: RegistryDocument, plan: Plan, cyclePlan: CyclePlan, config: AgentConfig, now: number, leader: boolean): boolean {
  if (plan.transitions.length > 0 || plan.updates.length > 0 || plan.actions.length > 0 || cyclePlan.recoveredIntents.length > 0) return true;
  if (cyclePlan.activityUpdates.length > 0) return true;
  if (!leader) return false;
  if (JSON.stringify(doc.queue) !== JSON.stringify(cyclePlan.queue)) return true;
  return config.retentionDays > 0 && doc.projects.some((p) => isExpired(p, now - config.retentionDays * 86_400_000));
}

/** A cycle result with nothing in it yet (also the base of test fixtures). */
export function emptyCycleResult(startedAt: number, dryRun: boolean): CycleResult {
  return {
    ok: true,
    dryRun,
    startedAt: iso(startedAt),
    durationMs: 0,
    errors: [],
    sources: [],
    transitions: [],
    actions: [],
    blocked: [],
    detections: [],
    staleMarkers: [],
    counts: { retries: 0, breakerTrips: 0, launches: 0, queueTrips: 0, extensions: 0 },
    queue: null,
    fullSync: false,
    tmuxSessions: {},
    usage: {},
    sourceSync: [],
    launchHold: null,
  };
}

/** The whole plan of one cycle: detection, intent recovery, retries, queue breaker and launches. */
interface CyclePlan {
  plan: Plan;
  /** Agent-activity memories to keep on the projects, applied before the moves (a failure under a limit reads it). */
  activityUpdates: PlannedUpdate[];
  recoveredIntents: string[];
  queue: RegistryDocument['queue'];
  queueEvent: 'tripped' | 'resumed' | null;
}

function planCycle(
  doc: RegistryDocument,
  snapshot: Snapshot,
  evidence: Awaited<ReturnType<typeof gatherEvidence>>,
  activity: CycleActivity,
  options: CycleOptions,
  now: number,
  random: RandomSource,
): CyclePlan {
  const { config, hostId } = options;
  const activityUpdates = activity.observation.updates;
  // Only this agent can see what its own intents targeted (its processes, its tmux servers).
  const recovery = recoverIntents(doc.intents.filter((i) => i.by === `agent@${hostId}`), doc.projects, snapshot);
  for (const note of recovery.notes) options.log.info(note);
  const memories = activity.observation.memories;
  const plan = reconcile({ projects: doc.projects, snapshot, evidence, config, now, hostId, activity: memories });
  // A project settled by intent recovery is not planned twice in one cycle.
  const recovered = new Map(recovery.transitions.map((t) => [t.project, t]));
  // An adopted launch owns its session already, though the registry does not say so yet: it is no orphan.
  const adopted = new Set(recovery.transitions.filter((t) => t.to === 'processing').map((t) => sessionKey(t.patch?.tmuxSocket ?? null, t.patch?.session ?? null)));
  const adoptedOrphan = (socket: string | null, session: string | null): boolean => session !== null && adopted.has(sessionKey(socket, session));
  plan.transitions = [...recovery.transitions, ...plan.transitions.filter((t) => !recovered.has(t.project))];
  plan.actions = plan.actions.filter((a) => (a.project === null || !recovered.has(a.project)) && !(a.kind === 'kill_session' && adoptedOrphan(a.tmuxSocket, a.session)));
  plan.detections = plan.detections.filter((d) => !(d.kind === 'orphan_session' && adoptedOrphan(d.tmuxSocket, d.session)));
  if (options.leader === false) {
    return { plan, activityUpdates, recoveredIntents: recovery.settled, queue: doc.queue, queueEvent: null };
  }

  const breaker = evaluateQueueBreaker(doc.projects, doc.queue, config, now);
  const retries = planRetries(doc.projects, breaker.queue, config, now, random);
  plan.transitions.push(...retries.transitions);
  plan.updates.push(...retries.updates);
  // Launch only on a clear view: a tmux server we cannot read may already run the session.
  // Slots are counted as recovery leaves the projects: an adopted launch holds one.
  const afterRecovery = doc.projects.map((p) => {
    const t = recovered.get(p.id);
    return t ? { ...p, state: t.to } : p;
  });
  if (scanIsClear(snapshot)) {
    plan.actions.push(...selectLaunches(afterRecovery, breaker.queue, config, now, hostId, random, activity.holds));
  }
  return { plan, activityUpdates, recoveredIntents: recovery.settled, queue: breaker.queue, queueEvent: breaker.event };
}

/** Run one cycle. Never throws: failures are in `errors` and `ok`. */
export async function runCycle(options: CycleOptions): Promise<CycleOutcome> {
  const clock = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const started = clock();
  const dryRun = options.dryRun === true;
  const result = emptyCycleResult(started, dryRun);
  const by = `agent@${options.hostId}`;
  const log = options.log;
  let registry: RegistryDocument | null = null;
  const sources = options.sources ?? null;
  let synced = false;
  const finish = (): CycleOutcome => {
    result.durationMs = clock() - started;
    // Evidence a gatherer could not read holds back that project's failure, but the cycle itself saw clearly.
    result.ok = result.errors.every((e) => e.source === 'evidence');
    result.sourceSync = synced ? (sources?.reports() ?? []) : [];
    return { result, registry };
  };

  let doc: RegistryDocument;
  try {
    doc = await options.store.load();
  } catch (err) {
    result.errors.push({ source: 'registry', message: messageOf(err) });
    log.error('registry unreadable; cycle skipped, nothing changed', { error: messageOf(err) });
    return finish();
  }
  // Sources (src/sources/): projects of the queues the agent watches, imported before the scan.
  const sourceStep = () => ({ store: options.store, dryRun, hostId: options.hostId, now: clock(), random });
  if (sources) {
    doc = await sources.sync(doc, sourceStep());
    synced = true;
  }

  const trackedTrees = doc.projects.filter((p) => isActive(p.state) && p.pid !== null).map((p) => ({ project: p.id, pid: p.pid as number, pidStartTime: p.pidStartTime }));
  const snapshot = await scan({
    sockets: socketsToScan(options.config, doc.projects),
    tmuxTimeoutMs: options.config.tmuxTimeoutMs,
    trackedTrees,
    // Any recorded process may be a kill target (a zombie, a finished project's leftover): the guard checks its owner.
    owners: doc.projects.filter((p) => p.pid !== null).map((p) => ({ pid: p.pid as number, pidStartTime: p.pidStartTime })),
    ...(options.procRoot ? { procRoot: options.procRoot } : {}),
    ...(options.tmuxPath ? { tmuxPath: options.tmuxPath } : {}),
  });
  result.sources = snapshot.sources;
  for (const s of snapshot.sources) {
    if (!s.ok && s.source !== 'usage') {
      result.errors.push({ source: s.source, message: s.error ?? 'failed' });
      log.warn('scan source failed; destructive actions are held back this cycle', { source: s.source, error: s.error });
    }
  }
  for (const server of snapshot.tmux) if (server.ok) result.tmuxSessions[server.socket ?? 'default'] = server.sessions.size;
  for (const [project, u] of snapshot.usage) result.usage[project] = { cpuRatio: u.cpuRatio, rssBytes: u.rssBytes };

  const now = clock();
  const candidates = evidenceCandidates(doc.projects, snapshot, options.config, now, options.lastFullSyncAt ?? null, options.hostId);
  result.fullSync = candidates.fullSync;
  const wanted = new Set(candidates.ids);
  const evidenceProjects = doc.projects.filter((p) => wanted.has(p.id));
  // Agent detection (cycle-activity.ts): one bulk pane read for it and the evidence step.
  const paneReads = options.paneReads ?? null;
  const paneRead = await readCyclePanes({
    projects: doc.projects, candidates: evidenceProjects, snapshot, config: options.config, states: paneReads,
    fullSync: candidates.fullSync, hostId: options.hostId, ...(options.tmuxPath ? { tmuxPath: options.tmuxPath } : {}),
  });
  const evidence = await gatherEvidence(
    evidenceProjects,
    {
      config: options.config,
      now,
      ...(options.tmuxPath ? { tmuxPath: options.tmuxPath } : {}),
      ...(paneRead.captures ? { paneCaptures: paneRead.captures } : {}),
      onNote: (n) => log.debug('evidence note', { ...n }),
    },
  );
  const activity = observeCycleActivity({
    projects: doc.projects, snapshot, read: paneRead, states: paneReads,
    config: options.config, hostId: options.hostId, now, log,
  });
  if (!dryRun) keepPaneReads(paneReads, activity.observation);
  result.launchHold = launchHoldView(activity.holds);
  for (const [project, report] of evidence) {
    for (const u of report.unavailable) {
      result.errors.push({ source: 'evidence', message: `project ${project}: ${u.method} evidence unavailable: ${u.error}` });
    }
  }

  const cyclePlan = planCycle(doc, snapshot, evidence, activity, options, now, random);
  // Sources: what the agent may not do to imported projects (observed only, or their source failed).
  const restricted = options.sources?.restrict(cyclePlan.plan, doc.projects) ?? { plan: cyclePlan.plan, blocked: [] };
  const active = doc.projects.filter((p) => isActive(p.state)).length;
  const safety = agentKillSafety(options.config.allowForeignUsers);
  const guarded = guard(restricted.plan, { snapshot, config: options.config, safety, processingCount: active });
  guarded.blocked.unshift(...restricted.blocked);
  const plan = guarded.plan;
  result.detections = plan.detections;
  result.staleMarkers = plan.staleMarkers;
  result.blocked = guarded.blocked.map((b) => ({ project: b.action.project, action: b.action.kind, reason: b.reason, detail: b.detail }));
  for (const b of guarded.blocked) log.warn('action held back by the guard', { project: b.action.project, action: b.action.kind, reason: b.reason, detail: b.detail });

  if (dryRun) {
    result.transitions = plan.transitions.map((t) => ({ project: t.project, from: t.from, to: t.to, reason: t.reason }));
    result.actions = plan.actions.map((a) => ({ project: a.project, action: a.kind, outcome: 'planned', detail: describeAction(a), reason: a.reason }));
    result.queue = summariseQueue(doc, options.config, now, { scanOk: scanIsClear(snapshot), hostId: options.hostId });
    registry = doc;
    return finish();
  }

  plan.actions = await keepLeased(plan.actions, options.projectLeases, log);
  const leader = options.leader !== false;
  const onEnter = policyEnterHook(options.config, random);
  const write = hasObservations(doc, plan, cyclePlan, options.config, now, leader);
  const seen = new Map(write ? doc.projects.map((p) => [p.id, fingerprint(p)]) : []);
  let runnable: HealAction[] = [];
  const intentIds = new Map<HealAction, string>();

  try {
    if (write) await options.store.update((fresh, tx) => {
      // A store with optimistic concurrency may run this again on a fresh copy: start over each time.
      result.transitions.length = 0;
      result.counts.queueTrips = 0;
      intentIds.clear();
      const at = iso(now);
      const a: Applier = { doc: fresh, tx, now, by, onEnter, reports: result.transitions };
      const stale = new Set(fresh.projects.filter((p) => seen.has(p.id) && seen.get(p.id) !== fingerprint(p)).map((p) => p.id));
      for (const id of stale) log.info('project changed during the cycle; its plan is dropped', { project: id });
      const current = (id: string | null) => id === null || !stale.has(id);

      fresh.intents = fresh.intents.filter((i) => !cyclePlan.recoveredIntents.includes(i.id));
      // An operator paused or resumed the queue since the plan was made: their record stands, and a
      // queue paused now gets no retry and no launch from a plan that did not know.
      const queueMoved = JSON.stringify(fresh.queue) !== JSON.stringify(doc.queue);
      const pausedNow = queueMoved && isQueuePaused(fresh.queue, now);
      const isRetry = (t: PlannedTransition) => t.from === 'failed' && t.to === 'queued';
      for (const u of cyclePlan.activityUpdates) if (current(u.project)) applyPlannedUpdate(a, u);
      for (const t of plan.transitions) if (current(t.project) && !(pausedNow && isRetry(t))) applyPlanned(a, t);
      for (const u of plan.updates) if (current(u.project)) applyPlannedUpdate(a, u);
      result.counts.extensions = plan.updates.filter((u) => u.note === 'extended' || u.patch.timeoutExtensions !== undefined).length;
      result.counts.retries = result.transitions.filter((t) => t.from === 'failed' && t.to === 'queued').length;

      if (leader && !queueMoved && JSON.stringify(fresh.queue) !== JSON.stringify(cyclePlan.queue)) {
        fresh.queue = cyclePlan.queue;
        if (cyclePlan.queueEvent) {
          tx.audit({ at, type: 'note', project: null, by, reason: `queue breaker ${cyclePlan.queueEvent}`, queue: cyclePlan.queue });
          if (cyclePlan.queueEvent === 'tripped') result.counts.queueTrips += 1;
          log.warn(`queue breaker ${cyclePlan.queueEvent}`, { trippedBy: cyclePlan.queue.trippedBy, resumeAt: cyclePlan.queue.resumeAt });
        }
      }

      const launchable = (act: HealAction) => !pausedNow && act.project !== null && findProject(fresh, act.project)?.state === 'queued';
      runnable = plan.actions.filter((act) => current(act.project) && (act.kind !== 'launch' || launchable(act)));
      for (const act of runnable) {
        const id = newIntentId();
        intentIds.set(act, id);
        fresh.intents.push(intentFor(act, id, at, by));
      }
      const archived = leader ? archiveExpired(fresh, tx, options.config, now) : 0;
      if (archived > 0) log.info('terminal projects archived', { count: archived });
    }, leader ? { fence: options.fence ?? null } : {});
  } catch (err) {
    result.errors.push({ source: 'registry', message: messageOf(err) });
    log.error('registry write failed; no action taken', { error: messageOf(err) });
    return finish();
  }

  const outcomes = await executeActions(runnable, { config: options.config, now: clock, ...(options.procRoot ? { procRoot: options.procRoot } : {}), ...(options.tmuxPath ? { tmuxPath: options.tmuxPath } : {}) });
  for (const o of outcomes) {
    result.actions.push({ project: o.action.project, action: o.action.kind, outcome: o.outcome, detail: o.detail, reason: o.action.reason });
    const level = o.outcome === 'failure' ? 'error' : 'info';
    log[level](`${o.action.kind} ${o.outcome}`, { project: o.action.project, detail: o.detail, reason: o.action.reason });
  }

  if (outcomes.length > 0) {
    const planned = result.transitions.length;
    try {
      await options.store.update((fresh, tx) => {
        result.transitions.length = planned;
        result.counts.launches = 0;
        const done = clock();
        const at = iso(done);
        const a: Applier = { doc: fresh, tx, now: done, by, onEnter, reports: result.transitions };
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
          if (applyPlanned(a, { project: project.id, from: project.state, to: act.then.to, reason: act.then.reason, ...(patch ? { patch } : {}) })) {
            if (act.kind === 'launch') result.counts.launches += 1;
          }
        }
        // A launch whose outcome is unknown (tmux timed out: its session may exist) keeps its
        // intent; the next cycle adopts the session or, when it is missing, launches again.
        const unknown = (o: ActionOutcome) => o.action.kind === 'launch' && o.outcome === 'failure' && !o.launchFailure;
        const settled = new Set(outcomes.filter((o) => !unknown(o)).map((o) => intentIds.get(o.action)));
        fresh.intents = fresh.intents.filter((i) => !settled.has(i.id));
      });
    } catch (err) {
      // The intents stay in the registry: the next cycle finishes them from what it sees.
      result.errors.push({ source: 'registry', message: messageOf(err) });
      log.error('registry write of action outcomes failed; the next cycle finishes the recorded intents', { error: messageOf(err) });
    }
  }
  try {
    const committed = await options.store.load();
    registry = committed;
    const view = { scanOk: scanIsClear(snapshot), hostId: options.hostId };
    result.queue = summariseQueue(committed, options.config, clock(), view);
    result.counts.breakerTrips = breakerTrips(committed, result.transitions);
  } catch (err) {
    result.errors.push({ source: 'registry', message: messageOf(err) });
  }
  // Sources: the agent's terminal decisions go back to the queues they came from.
  if (sources && registry) registry = await sources.writeBack(registry, sourceStep());
  return finish();
}

/** Breakers opened this cycle: projects failed now whose last history entry says the breaker opened. */
function breakerTrips(doc: RegistryDocument, transitions: readonly TransitionReport[]): number {
  const failed = new Set(transitions.filter((t) => t.to === 'failed').map((t) => t.project));
  return doc.projects.filter((p) => failed.has(p.id) && p.history.at(-1)?.['breaker'] !== undefined).length;
}

export function describeAction(a: HealAction): string {
  switch (a.kind) {
    case 'kill_tree':
      return `kill process tree of pid ${a.pid}${a.session ? ` and session ${a.session}` : ''}`;
    case 'kill_session':
      return `kill session ${a.session}`;
    case 'launch':
      return `launch ${a.command.join(' ')} in session ${a.session}`;
  }
}

