/**
 * One cycle, as data flows through it (docs/architecture.md#one-cycle):
 * load → sources sync → scan → evidence → plan → guard → commit the plan →
 * heal → commit the outcomes → observe. Used by `agent heal --once` and by the
 * daemon. All policy is in src/core/ and the two registry writes are in
 * cycle/commit.ts; this file only sequences the steps.
 */
import type { AgentConfig } from './config/keys.js';
import type { RandomSource } from './core/policy/backoff.js';
import { guard } from './core/guard/guard.js';
import { recoverIntents } from './core/guard/intents.js';
import { selectLaunches } from './core/policy/launch.js';
import {
  type BlockedAction,
  type Detection,
  type HealAction,
  type Plan,
  type PlannedUpdate,
  type StaleMarkerNotice,
} from './core/model/plan.js';
import { policyEnterHook } from './core/policy/policy-hooks.js';
import { iso, isActive } from './core/model/project.js';
import { evaluateQueueBreaker } from './core/policy/queue-breaker.js';
import { launchHoldView, summariseQueue, type LaunchHoldView, type QueueSummary } from './core/views/queue-summary.js';
import { keepPaneReads, observeCycleActivity, readCyclePanes } from './cycle-activity.js';
import type { CycleActivity, PaneReadStates } from './cycle-activity.js';
import { evidenceCandidates, reconcile } from './core/rules/reconcile.js';
import type { RegistryDocument } from './core/model/registry-document.js';
import { planRetries } from './core/policy/retry.js';
import { watchedServers } from './core/policy/tmux-servers.js';
import { scanIsClear, type Snapshot, type SourceReport } from './core/model/snapshot.js';
import { messageOf } from './errors.js';
import { gatherEvidence } from './evidence/gather.js';
import type { GitLogCache } from './evidence/git.js';
import { executeActions, type ActionOutcome } from './heal/execute.js';
import { agentKillSafety } from './heal/kill-tree.js';
import type { Logger } from './log.js';
import { keepLeased, type ProjectLeases } from './registry/leases.js';
import type { RegistryStore } from './registry/store.js';
import { scan } from './scan/scanner.js';
import { commitOutcomes, commitPlan, type CommitContext } from './cycle/commit.js';
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
  /** Each project's last git log, kept between cycles by the daemon (evidence/git.ts); else git runs each time. */
  gitLogs?: GitLogCache | null;
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

/** The servers a cycle scans (see core/policy/tmux-servers). */
export const socketsToScan = watchedServers;

function sessionKey(socket: string | null, session: string | null): string {
  return JSON.stringify([socket, session]);
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
  const recovery = recoverIntents(
    doc.intents.filter((i) => i.by === `agent@${hostId}`),
    doc.projects,
    snapshot,
  );
  for (const note of recovery.notes) options.log.info(note);
  const memories = activity.observation.memories;
  const plan = reconcile({ projects: doc.projects, snapshot, evidence, config, now, hostId, activity: memories });
  // A project settled by intent recovery is not planned twice in one cycle.
  const recovered = new Map(recovery.transitions.map((t) => [t.project, t]));
  // An adopted launch owns its session already, though the registry does not say so yet: it is no orphan.
  const adopted = new Set(
    recovery.transitions
      .filter((t) => t.to === 'processing')
      .map((t) => sessionKey(t.patch?.tmuxSocket ?? null, t.patch?.session ?? null)),
  );
  const adoptedOrphan = (socket: string | null, session: string | null): boolean =>
    session !== null && adopted.has(sessionKey(socket, session));
  plan.transitions = [...recovery.transitions, ...plan.transitions.filter((t) => !recovered.has(t.project))];
  plan.actions = plan.actions.filter(
    (a) =>
      (a.project === null || !recovered.has(a.project)) &&
      !(a.kind === 'kill_session' && adoptedOrphan(a.tmuxSocket, a.session)),
  );
  plan.detections = plan.detections.filter(
    (d) => !(d.kind === 'orphan_session' && adoptedOrphan(d.tmuxSocket, d.session)),
  );
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

  const trackedTrees = doc.projects
    .filter((p) => isActive(p.state) && p.pid !== null)
    .map((p) => ({ project: p.id, pid: p.pid as number, pidStartTime: p.pidStartTime }));
  const snapshot = await scan({
    sockets: socketsToScan(options.config, doc.projects),
    tmuxTimeoutMs: options.config.tmuxTimeoutMs,
    trackedTrees,
    // Any recorded process may be a kill target (a zombie, a finished project's leftover): the guard checks its owner.
    owners: doc.projects
      .filter((p) => p.pid !== null)
      .map((p) => ({ pid: p.pid as number, pidStartTime: p.pidStartTime })),
    ...(options.procRoot ? { procRoot: options.procRoot } : {}),
    ...(options.tmuxPath ? { tmuxPath: options.tmuxPath } : {}),
  });
  result.sources = snapshot.sources;
  for (const s of snapshot.sources) {
    if (!s.ok && s.source !== 'usage') {
      result.errors.push({ source: s.source, message: s.error ?? 'failed' });
      log.warn('scan source failed; destructive actions are held back this cycle', {
        source: s.source,
        error: s.error,
      });
    }
  }
  for (const server of snapshot.tmux)
    if (server.ok) result.tmuxSessions[server.socket ?? 'default'] = server.sessions.size;
  for (const [project, u] of snapshot.usage) result.usage[project] = { cpuRatio: u.cpuRatio, rssBytes: u.rssBytes };

  const now = clock();
  const candidates = evidenceCandidates(
    doc.projects,
    snapshot,
    options.config,
    now,
    options.lastFullSyncAt ?? null,
    options.hostId,
  );
  result.fullSync = candidates.fullSync;
  const wanted = new Set(candidates.ids);
  const evidenceProjects = doc.projects.filter((p) => wanted.has(p.id));
  // Agent detection (cycle-activity.ts): one bulk pane read for it and the evidence step.
  const paneReads = options.paneReads ?? null;
  const paneRead = await readCyclePanes({
    projects: doc.projects,
    candidates: evidenceProjects,
    snapshot,
    config: options.config,
    states: paneReads,
    fullSync: candidates.fullSync,
    hostId: options.hostId,
    ...(options.tmuxPath ? { tmuxPath: options.tmuxPath } : {}),
  });
  const evidence = await gatherEvidence(evidenceProjects, {
    config: options.config,
    now,
    ...(options.tmuxPath ? { tmuxPath: options.tmuxPath } : {}),
    ...(paneRead.captures ? { paneCaptures: paneRead.captures } : {}),
    ...(options.gitLogs ? { gitLogs: options.gitLogs } : {}),
    onNote: (n) => log.debug('evidence note', { ...n }),
  });
  const activity = observeCycleActivity({
    projects: doc.projects,
    snapshot,
    read: paneRead,
    states: paneReads,
    config: options.config,
    hostId: options.hostId,
    now,
    log,
  });
  if (!dryRun) keepPaneReads(paneReads, activity.observation);
  result.launchHold = launchHoldView(activity.holds);
  for (const [project, report] of evidence) {
    for (const u of report.unavailable) {
      result.errors.push({
        source: 'evidence',
        message: `project ${project}: ${u.method} evidence unavailable: ${u.error}`,
      });
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
  result.blocked = guarded.blocked.map((b) => ({
    project: b.action.project,
    action: b.action.kind,
    reason: b.reason,
    detail: b.detail,
  }));
  for (const b of result.blocked) log.warn('action held back by the guard', { ...b });

  if (dryRun) {
    result.transitions = plan.transitions.map(({ project, from, to, reason }) => ({ project, from, to, reason }));
    result.actions = plan.actions.map((a) => {
      return { project: a.project, action: a.kind, outcome: 'planned', detail: describeAction(a), reason: a.reason };
    });
    result.queue = summariseQueue(doc, options.config, now, { scanOk: scanIsClear(snapshot), hostId: options.hostId });
    registry = doc;
    return finish();
  }

  plan.actions = await keepLeased(plan.actions, options.projectLeases, log);
  const leader = options.leader !== false;
  const commit: CommitContext = {
    store: options.store,
    config: options.config,
    log,
    by,
    onEnter: policyEnterHook(options.config, random),
    leader,
    fence: options.fence ?? null,
  };
  let runnable: HealAction[];
  let intentIds: ReadonlyMap<HealAction, string>;
  try {
    const { activityUpdates, recoveredIntents, queue, queueEvent } = cyclePlan;
    const committed = await commitPlan(
      { doc, plan, activityUpdates, recoveredIntents, queue, queueEvent },
      commit,
      now,
    );
    result.transitions.push(...committed.transitions);
    result.counts = { ...result.counts, ...committed.counts };
    ({ runnable, intentIds } = committed);
  } catch (err) {
    result.errors.push({ source: 'registry', message: messageOf(err) });
    log.error('registry write failed; no action taken', { error: messageOf(err) });
    return finish();
  }

  const outcomes = await heal(runnable, options, clock, result);

  try {
    const committed = await commitOutcomes(outcomes, intentIds, commit, clock);
    result.transitions.push(...committed.transitions);
    result.counts.launches = committed.launches;
  } catch (err) {
    // The intents stay in the registry: the next cycle finishes them from what it sees.
    result.errors.push({ source: 'registry', message: messageOf(err) });
    const error = messageOf(err);
    log.error('registry write of action outcomes failed; the next cycle finishes the recorded intents', { error });
  }
  registry = await observe(options, snapshot, clock, result);
  // Sources: the agent's terminal decisions go back to the queues they came from.
  if (sources && registry) registry = await sources.writeBack(registry, sourceStep());
  return finish();
}

/** Run the committed actions (concurrently: one grace per cycle) and report each outcome. */
async function heal(
  runnable: HealAction[],
  options: CycleOptions,
  clock: () => number,
  result: CycleResult,
): Promise<ActionOutcome[]> {
  const where = {
    ...(options.procRoot ? { procRoot: options.procRoot } : {}),
    ...(options.tmuxPath ? { tmuxPath: options.tmuxPath } : {}),
  };
  const outcomes = await executeActions(runnable, { config: options.config, now: clock, ...where });
  for (const o of outcomes) {
    const { project, kind, reason } = o.action;
    result.actions.push({ project, action: kind, outcome: o.outcome, detail: o.detail, reason });
    const level = o.outcome === 'failure' ? 'error' : 'info';
    options.log[level](`${kind} ${o.outcome}`, { project, detail: o.detail, reason });
  }
  return outcomes;
}

/** The registry as committed, and what the cycle's report says about it; null when it cannot be read. */
async function observe(
  options: CycleOptions,
  snapshot: Snapshot,
  clock: () => number,
  result: CycleResult,
): Promise<RegistryDocument | null> {
  try {
    const committed = await options.store.load();
    const view = { scanOk: scanIsClear(snapshot), hostId: options.hostId };
    result.queue = summariseQueue(committed, options.config, clock(), view);
    result.counts.breakerTrips = breakerTrips(committed, result.transitions);
    return committed;
  } catch (err) {
    result.errors.push({ source: 'registry', message: messageOf(err) });
    return null;
  }
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
