/**
 * The rules for one active project (docs/design.md#liveness-and-detection): completion first, then a
 * launched command's failing exit status, zombie, phantom, timeout with
 * extensions, the timing-out grace, and stale heartbeats. Pure: everything arrives in the context, `now` included.
 *
 * A rule that ends in "failed" (phantom, zombie kill, timing-out kill) is held
 * back while the completion verdict is unknown, so a finished project whose
 * evidence could not be gathered is never failed; it stays reported.
 *
 * What the agent in the pane waits on (docs/agent-detection.md) pauses the
 * timeout clock: a prompt for at most AWAITING_INPUT_MAX_SEC, a usage limit
 * until its reset. The paused time is added to the deadline, and a kill is
 * held while the clock is paused. Prompts, limits and no progress are
 * reported; none of them is ever a reason to kill.
 */
import type { AgentConfig } from '../../config/keys.js';
import {
  decideCompletion,
  describeStaleMarkers,
  describeVerdict,
  type CompletionVerdict,
  type EvidenceReport,
} from './completion.js';
import {
  describePid,
  describeSession,
  lastActivityAt,
  lastSignOfLife,
  livenessOf,
  sessionExists,
  type Liveness,
} from './liveness.js';
import { commandExit, describeExit, exitEvidence, lastOutputOf, type CommandExit } from './exit.js';
import type { Detection, FollowUp, KillTreeAction, Plan, PlannedUpdate, StuckKind } from '../model/plan.js';
import { iso, ms, type Project } from '../model/project.js';
import type { Snapshot } from '../model/snapshot.js';
import { activityFinding, timeoutClock } from './agent-activity/hold.js';
import type { AgentActivityMemory } from './agent-activity/tracker.js';

export interface DetectContext {
  snapshot: Snapshot;
  config: AgentConfig;
  now: number;
  evidence: ReadonlyMap<string, EvidenceReport>;
  /** Each project's agent-activity memory after this cycle's pane readings; absent: nothing pauses or is reported. */
  activity?: ReadonlyMap<string, AgentActivityMemory>;
}

/** Seconds for reasons: "900s", "900.001s". */
export function secs(milliseconds: number): string {
  return `${Number((milliseconds / 1000).toFixed(3))}s`;
}

/**
 * When the project's runtime budget (with its extensions) ends, or null
 * without a start time; `pausedMs` (the time its timeout clock was paused)
 * moves it later.
 */
export function deadlineOf(project: Project, config: AgentConfig, pausedMs = 0): number | null {
  const started = ms(project.startedAt);
  if (started === null) return null;
  const budgetSec = config.maxProcessRuntimeSec + project.timeoutExtensions * config.extensionDurationSec;
  return started + budgetSec * 1000 + pausedMs;
}

/** The project's timeout clock at `now`: paused while its agent waits on a prompt or a limit, and the time paused. */
export function clockOf(
  memory: AgentActivityMemory | undefined,
  config: AgentConfig,
  now: number,
): { paused: boolean; until: number | null; pausedMs: number } {
  return memory === undefined ? { paused: false, until: null, pausedMs: 0 } : timeoutClock(memory, now, config);
}

/**
 * Report what the agent in the pane waits on (the matched line as the
 * reason), or that its pane shows no progress. Never an action.
 */
function reportActivity(project: Project, l: Liveness, ctx: DetectContext, plan: Plan): void {
  const memory = ctx.activity?.get(project.id);
  if (memory === undefined) return;
  const finding = activityFinding(memory, lastActivityAt(project, l), ctx.now, ctx.config);
  if (finding === null) return;
  if (finding.kind === 'no_progress') {
    const quiet = ctx.now - Math.max(finding.since, lastActivityAt(project, l) ?? finding.since);
    const reason =
      `pane unchanged since ${iso(finding.since)} and no heartbeat or pane activity for ${secs(quiet)} ` +
      `(no-progress limit ${ctx.config.noProgressSec}s); the normal timeout applies`;
    plan.detections.push({ ...detection('no_progress', project, reason), since: iso(finding.since) });
    return;
  }
  plan.detections.push({
    ...detection(finding.kind, project, finding.line),
    agent: finding.agent,
    since: iso(finding.since),
    until: iso(finding.until),
  });
}

export function detection(
  kind: StuckKind,
  project: Project,
  reason: string,
  pid: number | null = project.pid,
): Detection {
  return { kind, project: project.id, session: project.session, tmuxSocket: project.tmuxSocket, pid, reason };
}

/** The session a tree kill should take along: any that may still exist. */
function sessionToKill(project: Project, l: Liveness): string | null {
  return l.session === 'live' || l.session === 'dead' || l.session === 'unknown' ? project.session : null;
}

function killTree(project: Project, l: Liveness, reason: string, then: FollowUp): KillTreeAction | null {
  if (project.pid === null || project.pidStartTime === null) return null;
  return {
    kind: 'kill_tree',
    project: project.id,
    pid: project.pid,
    pidStartTime: project.pidStartTime,
    session: sessionToKill(project, l),
    tmuxSocket: project.tmuxSocket,
    reason,
    then,
  };
}

/** Completed or failed by evidence: plan the move (with `patch`, how the command ended) and return true. */
function settle(project: Project, verdict: CompletionVerdict, plan: Plan, patch: Partial<Project> = {}): boolean {
  if (verdict.outcome === 'completed') {
    const evidence = verdict.record.evidence.map((e) => `${e.method} (${e.weight}): ${e.detail}`).join('; ');
    plan.transitions.push({
      project: project.id,
      from: project.state,
      to: 'completed',
      reason: `completion decided, score ${verdict.record.score}: ${evidence}`,
      patch: { ...patch, completion: verdict.record },
    });
    plan.completions.set(project.id, verdict.record);
    return true;
  }
  if (verdict.outcome === 'failed') {
    const marker = verdict.record.evidence.find((e) => e.method === 'failure_marker');
    plan.transitions.push({
      project: project.id,
      from: project.state,
      to: 'failed',
      reason: `failure marker found: ${marker?.detail ?? 'failure_marker'}`,
      patch: { ...patch, failureReason: 'failure_marker', completion: verdict.record },
    });
    plan.completions.set(project.id, verdict.record);
    return true;
  }
  return false;
}

/** The completion verdict of this cycle: the record's phases, the gathered evidence and an exit with status 0. */
function verdictOf(project: Project, exit: CommandExit | null, ctx: DetectContext): CompletionVerdict {
  const zero = exitEvidence(exit, ctx.config.completionExitZeroWeight);
  return decideCompletion(project, ctx.evidence.get(project.id), ctx.now, zero ? [zero] : []);
}

/** What the record keeps of an exit: the status and the command's last lines (null when they were not read). */
function exitPatch(project: Project, exit: CommandExit | null, ctx: DetectContext): Partial<Project> {
  if (exit === null) return {};
  const read = ctx.evidence.get(project.id)?.deadPaneLines?.find((p) => p.paneId === exit.paneId);
  return { exitStatus: exit.status, lastOutput: read ? lastOutputOf(read.lines) : null };
}

/** Close the session of a command that ended, once read, when nothing else runs in it. */
function closeEnded(project: Project, exit: CommandExit | null, plan: Plan): void {
  if (exit === null || !exit.sessionDead || project.session === null) return;
  const reason = `its command ${describeExit(exit)}; the session is closed once its status and output are read`;
  plan.actions.push({
    kind: 'kill_session',
    project: project.id,
    session: project.session,
    tmuxSocket: project.tmuxSocket,
    reason,
  });
}

/**
 * A launched command that exited with a status other than 0 fails its attempt
 * at once (no phantom grace): completion was checked first and said no.
 */
function failOnExit(
  project: Project,
  exit: CommandExit,
  ctx: DetectContext,
  plan: Plan,
  verdict: CompletionVerdict,
): void {
  const patch = exitPatch(project, exit, ctx);
  const last = patch.lastOutput?.at(-1);
  plan.transitions.push({
    project: project.id,
    from: project.state,
    to: 'failed',
    reason:
      `exit_status: the launched command ${describeExit(exit)}` +
      (last === undefined ? '' : `; last output: ${JSON.stringify(last)}`),
    patch: { ...patch, failureReason: 'exit_status' },
    details: { exitStatus: exit.status, completion: describeVerdict(verdict) },
  });
  closeEnded(project, exit, plan);
}

/**
 * Completion first (an exit with status 0 is evidence), then a failing exit
 * status. True when the project was settled this way.
 */
function settleEnded(
  project: Project,
  l: Liveness,
  ctx: DetectContext,
  plan: Plan,
): { settled: boolean; verdict: CompletionVerdict } {
  const exit = commandExit(project, l);
  const verdict = verdictOf(project, exit, ctx);
  if (settle(project, verdict, plan, exitPatch(project, exit, ctx))) {
    closeEnded(project, exit, plan);
    return { settled: true, verdict };
  }
  if (exit !== null && exit.status !== 0 && heldBy(verdict) === null) {
    failOnExit(project, exit, ctx, plan, verdict);
    return { settled: true, verdict };
  }
  return { settled: false, verdict };
}

/** Why a failure must wait, or null when the completion check answered "not complete". */
function heldBy(verdict: CompletionVerdict): string | null {
  return verdict.outcome === 'unknown' ? verdict.why : null;
}

/** The most lastSeenAliveAt may lag behind a live project's last sighting: 10 % of the phantom grace. */
export function lastSeenRefreshMs(config: AgentConfig): number {
  return (config.phantomGracePeriodSec * 1000) / 10;
}

/**
 * Whether a live project's lastSeenAliveAt is due: it lags by the refresh
 * interval or more. Refreshing it every cycle would rewrite the registry every
 * cycle; refreshed this way, a phantom's grace still runs at least 90 % of its
 * length (the lag is at most a tenth of it).
 */
function seenAliveDue(project: Project, ctx: DetectContext): boolean {
  const seen = ms(project.lastSeenAliveAt);
  return seen === null || ctx.now - seen >= lastSeenRefreshMs(ctx.config);
}

/**
 * Markers the evidence step found older than this attempt: reported in the
 * plan, and kept on the record (so `status` shows them) while the marker
 * gatherers answered; a marker that could not be checked changes nothing.
 */
function noteStaleMarkers(
  project: Project,
  report: EvidenceReport | undefined,
  plan: Plan,
  update: PlannedUpdate,
): void {
  if (report === undefined || report.unavailable.some((u) => u.method === 'marker' || u.method === 'failure_marker'))
    return;
  const stale = report.staleMarkers ?? [];
  if (stale.length > 0) {
    plan.staleMarkers.push({
      project: project.id,
      startedAt: project.startedAt,
      markers: stale,
      reason: describeStaleMarkers(stale, project.startedAt),
    });
  }
  if (JSON.stringify(stale) !== JSON.stringify(project.staleMarkers)) update.patch.staleMarkers = stale;
}

export function detectActive(project: Project, ctx: DetectContext, plan: Plan): void {
  const l = livenessOf(project, ctx.snapshot);
  const update: PlannedUpdate = { project: project.id, patch: {} };
  noteStaleMarkers(project, ctx.evidence.get(project.id), plan, update);
  if (project.state === 'processing') detectProcessing(project, l, ctx, plan, update);
  else if (project.state === 'timing_out') detectTimingOut(project, l, ctx, plan);
  else if (project.state === 'zombie') detectZombie(project, l, plan);
  const written = Object.keys(update.patch).length > 0 || update.note !== undefined;
  // A record written anyway carries the fresh sighting for free.
  if (l.alive && (written || seenAliveDue(project, ctx)))
    update.patch = { lastSeenAliveAt: iso(ctx.now), ...update.patch };
  if (Object.keys(update.patch).length > 0 || update.note !== undefined) plan.updates.push(update);
}

function detectProcessing(project: Project, l: Liveness, ctx: DetectContext, plan: Plan, update: PlannedUpdate): void {
  const { settled, verdict } = settleEnded(project, l, ctx, plan);
  if (settled) return;
  const held = heldBy(verdict);

  if (l.zombie) {
    const reason = `${describePid(project, l)} but ${describeSession(project, l)}`;
    if (held !== null) {
      plan.detections.push(detection('zombie', project, `${reason}; kill held: ${held}`));
      return;
    }
    const kill = killTree(project, l, reason, {
      to: 'failed',
      reason: `zombie: process tree of pid ${project.pid} killed (${describeSession(project, l)})`,
      patch: { failureReason: 'zombie' },
    });
    plan.transitions.push({ project: project.id, from: 'processing', to: 'zombie', reason });
    if (kill) plan.actions.push(kill);
    plan.detections.push(detection('zombie', project, reason));
    return;
  }

  if (l.dead) {
    detectPhantom(project, l, ctx, plan, verdict);
    return;
  }

  // Alive, or one side unknown: the clock runs, unless the agent waits on a prompt or a limit.
  if (l.alive) reportActivity(project, l, ctx, plan);
  const clock = clockOf(ctx.activity?.get(project.id), ctx.config, ctx.now);
  const deadline = deadlineOf(project, ctx.config, clock.pausedMs);
  if (!clock.paused && deadline !== null && ctx.now > deadline) {
    detectTimeout(project, l, ctx, plan, update, deadline);
    return;
  }
  // A prompt or a limit explains the silence: it is reported as that.
  if (l.alive && !clock.paused) detectStaleHeartbeat(project, l, ctx, plan);
}

function detectPhantom(
  project: Project,
  l: Liveness,
  ctx: DetectContext,
  plan: Plan,
  verdict: CompletionVerdict,
): void {
  const held = heldBy(verdict);
  const since = lastSignOfLife(project);
  const graceMs = ctx.config.phantomGracePeriodSec * 1000;
  // Inside the grace a launch may still be settling: nothing to report yet.
  if (since === null || ctx.now - since <= graceMs) return;
  const reason =
    `neither alive: ${describePid(project, l)}, ${describeSession(project, l)}; ` +
    `last sign of life ${secs(ctx.now - since)} ago (phantom grace ${ctx.config.phantomGracePeriodSec}s)`;
  if (held !== null) {
    plan.detections.push(detection('phantom', project, `${reason}; failure held: ${held}`));
    return;
  }
  plan.transitions.push({
    project: project.id,
    from: 'processing',
    to: 'failed',
    reason: `phantom: ${reason}`,
    patch: { failureReason: 'phantom' },
    details: { completion: describeVerdict(verdict) },
  });
  plan.detections.push(detection('phantom', project, reason));
}

function detectTimeout(
  project: Project,
  l: Liveness,
  ctx: DetectContext,
  plan: Plan,
  update: PlannedUpdate,
  deadline: number,
): void {
  const { config, now } = ctx;
  const last = lastActivityAt(project, l);
  const fresh = last !== null && now - last <= config.heartbeatTimeoutSec * 1000;
  const paused = deadline - (deadlineOf(project, config) ?? deadline);
  const budget =
    `${config.maxProcessRuntimeSec}s + ${project.timeoutExtensions} × ${config.extensionDurationSec}s` +
    (paused > 0 ? ` + ${secs(paused)} paused while its agent waited` : '');
  if (fresh && project.timeoutExtensions < config.maxTimeoutExtensions) {
    const n = project.timeoutExtensions + 1;
    update.patch.timeoutExtensions = n;
    update.note = 'extended';
    update.details = {
      timeoutExtensions: n,
      deadlineAt: iso(deadline + config.extensionDurationSec * 1000),
      lastActivityAt: iso(last),
      detail:
        `runtime past its deadline (${budget}) but active ${secs(now - last)} ago: ` +
        `extension ${n} of ${config.maxTimeoutExtensions}`,
    };
    return;
  }
  const extensions =
    config.maxTimeoutExtensions === 1 ? 'its one extension' : `all ${config.maxTimeoutExtensions} extensions`;
  const why = fresh
    ? `${extensions} used`
    : last === null
      ? 'no heartbeat or pane activity ever seen'
      : `last heartbeat or pane activity ${secs(now - last)} ago (heartbeat timeout ${config.heartbeatTimeoutSec}s)`;
  const reason = `runtime past its deadline ${iso(deadline)} (${budget}) by ${secs(now - deadline)}; ${why}`;
  plan.transitions.push({ project: project.id, from: 'processing', to: 'timing_out', reason });
  plan.detections.push(detection('timing_out', project, reason));
}

function detectStaleHeartbeat(project: Project, l: Liveness, ctx: DetectContext, plan: Plan): void {
  const last = lastActivityAt(project, l);
  const reference = last ?? ms(project.startedAt);
  const timeoutMs = ctx.config.heartbeatTimeoutSec * 1000;
  if (reference === null || ctx.now - reference <= timeoutMs) return;
  const limit = `(heartbeat timeout ${ctx.config.heartbeatTimeoutSec}s)`;
  const reason =
    last === null
      ? `no heartbeat or pane activity since it started ${secs(ctx.now - reference)} ago ${limit}`
      : `last heartbeat or pane activity ${secs(ctx.now - reference)} ago ${limit}`;
  plan.detections.push(detection('heartbeat_stale', project, reason));
}

function detectTimingOut(project: Project, l: Liveness, ctx: DetectContext, plan: Plan): void {
  const { settled, verdict } = settleEnded(project, l, ctx, plan);
  if (settled) return;
  const held = heldBy(verdict);
  const { config, now } = ctx;
  if (l.alive) reportActivity(project, l, ctx, plan);
  const clock = clockOf(ctx.activity?.get(project.id), config, now);
  const state = `${describePid(project, l)}, ${describeSession(project, l)}`;
  const since = ms(project.timingOutSince) ?? deadlineOf(project, config);
  if (since === null) {
    plan.detections.push(detection('timing_out', project, `timing out since an unknown time; ${state}`));
    return;
  }
  const graceMs = config.timingOutGraceSec * 1000;
  if (now - since <= graceMs) {
    plan.detections.push(
      detection(
        'timing_out',
        project,
        `timing out since ${iso(since)}, grace ends in ${secs(since + graceMs - now)}; ${state}`,
      ),
    );
    return;
  }
  const over = `timing-out grace of ${config.timingOutGraceSec}s over (since ${iso(since)})`;
  const hold = (why: string): void => {
    plan.detections.push(detection('timing_out', project, `${over}; ${state}; kill held: ${why}`));
  };
  if (held !== null) return hold(held);
  // Never killed while its agent waits on a human or a usage limit (the clock paused after it timed out).
  if (clock.paused && clock.until !== null) {
    return hold(`its agent waits on a prompt or a usage limit until ${iso(clock.until)}`);
  }
  const then: FollowUp = { to: 'failed', reason: `timeout: ${over}, killed`, patch: { failureReason: 'timeout' } };
  if (l.pid === 'alive') {
    const reason = `${over}; ${state}`;
    const kill = killTree(project, l, reason, then);
    if (kill) plan.actions.push(kill);
    plan.detections.push(detection('timing_out', project, reason));
    return;
  }
  if (l.pid === 'unknown' || l.pid === 'unverified') return hold('the process cannot be verified');
  if (sessionExists(l) && project.session !== null) {
    const reason = `${over}; ${state}`;
    plan.actions.push({
      kind: 'kill_session',
      project: project.id,
      session: project.session,
      tmuxSocket: project.tmuxSocket,
      reason,
      then,
    });
    plan.detections.push(detection('timing_out', project, reason));
    return;
  }
  if (l.session === 'unknown') return hold('its tmux server could not be read');
  const reason = `${over}; nothing left to kill (${state})`;
  plan.transitions.push({
    project: project.id,
    from: 'timing_out',
    to: 'failed',
    reason: `timeout: ${reason}`,
    patch: { failureReason: 'timeout' },
  });
  plan.detections.push(detection('timing_out', project, reason));
}

function detectZombie(project: Project, l: Liveness, plan: Plan): void {
  const state = `${describePid(project, l)}, ${describeSession(project, l)}`;
  if (l.pid === 'alive') {
    // Re-planned every cycle until the kill lands (a held-back kill, a crash between intent and kill).
    const reason = `zombie: ${state}`;
    const kill = killTree(project, l, reason, {
      to: 'failed',
      reason: `zombie: process tree of pid ${project.pid} killed`,
      patch: { failureReason: 'zombie' },
    });
    if (kill) plan.actions.push(kill);
    plan.detections.push(detection('zombie', project, reason));
    return;
  }
  if (l.pid === 'unknown' || l.pid === 'unverified') {
    plan.detections.push(detection('zombie', project, `zombie: ${state}; kill held: the process cannot be verified`));
    return;
  }
  const reason = `zombie: nothing left to kill (${state})`;
  plan.transitions.push({
    project: project.id,
    from: 'zombie',
    to: 'failed',
    reason,
    patch: { failureReason: 'zombie' },
  });
  plan.detections.push(detection('zombie', project, reason));
}
