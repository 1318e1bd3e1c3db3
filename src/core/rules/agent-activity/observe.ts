/**
 * One cycle of agent detection over the registry: which projects' panes to
 * capture, and what each project's memory becomes once the captures are read.
 * Pure: the snapshot, the captures and `now` are arguments.
 *
 * Captures cost tmux calls, so a project's panes are read only when they may
 * show something new: at the first look at an attempt, on the full sync, or
 * when the window activity tmux reports in every scan has moved since the last
 * read. A pane that shows a prompt does not change, so it is read once. The
 * caller keeps each project's last read (`PaneReadState`) between cycles; a
 * one-shot command has none and reads every active project once.
 *
 * Each project's memory is kept on the project in the registry
 * (`agentActivity`). It is written when the finding or the paused time
 * changes, and the pane's progress when it has held still for a tenth of
 * `noProgressSec`: a pane that keeps changing is not written every cycle, and
 * a restarted daemon still knows since when a quiet pane has not moved.
 */
import type { PlannedUpdate } from '../../model/plan.js';
import { isActive, type Project } from '../../model/project.js';
import { sessionStatusOf } from '../liveness.js';
import type { Snapshot, TmuxPane } from '../../model/snapshot.js';
import { matchCatalogue, type CompiledCatalogue, type PaneMatch } from './catalogue.js';
import { paneTail } from './pane-text.js';
import { paneSignature } from './progress.js';
import { activeLimit, launchHolds, type LaunchHolds, type RateLimitScope } from './hold.js';
import { memoryOf, recordOf } from './record.js';
import {
  NO_ACTIVITY_MEMORY,
  observeAgentActivity,
  type ActivitySettings,
  type AgentActivityMemory,
  type PaneReading,
  type TrackedFinding,
} from './tracker.js';

/** What the caller keeps per project between cycles. */
export interface PaneReadState {
  /** The attempt this is about (its `startedAt`): a new attempt starts afresh. */
  attempt: string | null;
  memory: AgentActivityMemory;
  /** When its panes were last captured (epoch ms), and their window activity as the scan before it saw it. */
  readAt: number | null;
  windowActivityAt: number | null;
}

export type PaneReadStates = ReadonlyMap<string, PaneReadState>;

/** The agent of findings that come from a source's status rather than from a pane. */
export const SOURCE_AGENT = 'tmux-orchestrator';
/** Tmux-Orchestrator's status for a project its credit backoff holds. */
export const CREDIT_PAUSED = 'credit_paused';

/** The latest window activity among `panes` (epoch ms), or null when tmux gave none. */
function latestActivity(panes: readonly TmuxPane[]): number | null {
  let latest: number | null = null;
  for (const { windowActivityAt: at } of panes) if (at !== null && (latest === null || at > latest)) latest = at;
  return latest;
}

function panesOf(project: Project, snapshot: Snapshot): TmuxPane[] {
  return sessionStatusOf(project, snapshot).panes;
}

/** The agent may run in this project's panes: it is active here and its session exists. */
function watchable(project: Project): boolean {
  return (project.state === 'processing' || project.state === 'timing_out') && project.session !== null;
}

/**
 * Whether the project's panes need a capture this cycle. tmux gives window
 * activity in whole seconds, so output in the same second as the last read
 * (after it) shows no move: such a pane is read once more.
 */
export function needsCapture(
  project: Project,
  snapshot: Snapshot,
  last: PaneReadState | undefined,
  fullSync: boolean,
): boolean {
  if (!watchable(project)) return false;
  const { status, panes } = sessionStatusOf(project, snapshot);
  if (status !== 'live' && status !== 'dead') return false;
  if (fullSync || last === undefined || last.attempt !== project.startedAt || last.readAt === null) return true;
  const activity = latestActivity(panes);
  if (activity === null || last.windowActivityAt === null) return activity !== last.windowActivityAt;
  return activity > last.windowActivityAt || activity >= Math.floor(last.readAt / 1000) * 1000;
}

/** One reading of a session's panes: the first pane (in tmux's order) with a match names it; every pane signs. */
export function readSession(captures: readonly string[], catalogue: CompiledCatalogue): PaneReading {
  let match: PaneMatch | null = null;
  const signatures: string[] = [];
  for (const capture of captures) {
    const lines = paneTail(capture);
    match ??= matchCatalogue(lines, catalogue);
    signatures.push(paneSignature(lines));
  }
  return { match, signature: signatures.join(',') };
}

/** The finding a source's status stands for: Tmux-Orchestrator's `credit_paused` is a usage limit. */
export function sourceMatch(project: Project): PaneMatch | null {
  const status = project.source?.status;
  if (typeof status !== 'string' || status.trim().toLowerCase() !== CREDIT_PAUSED) return null;
  const line = `${project.source?.name ?? 'source'}: status ${CREDIT_PAUSED}`;
  return { kind: 'rate_limited', agent: SOURCE_AGENT, line, context: '', pattern: `source.status=${CREDIT_PAUSED}` };
}

export interface ObserveSettings extends ActivitySettings {
  noProgressSec: number;
}

export interface ProjectObservation {
  project: string;
  started: TrackedFinding | null;
  ended: TrackedFinding | null;
  notes: string[];
}

export interface ActivityObservation {
  /** The memory of every local project that has one, after this cycle's readings. */
  memories: Map<string, AgentActivityMemory>;
  /** The registry writes of memories that changed enough to keep (see the header). */
  updates: PlannedUpdate[];
  /** What the caller keeps for the next cycle: one entry per active local project. */
  states: Map<string, PaneReadState>;
  /** Findings started and ended, and notes for the log (a reset time that could not be read...). */
  events: ProjectObservation[];
}

/**
 * Memories after this cycle. `readings` holds the projects whose panes were
 * captured this cycle; a project not read keeps its memory (a source's status
 * still applies to it). Projects of other hosts are left out.
 */
export function observeActivity(input: {
  projects: readonly Project[];
  snapshot: Snapshot;
  readings: ReadonlyMap<string, PaneReading>;
  states: PaneReadStates | null;
  now: number;
  settings: ObserveSettings;
  isLocal: (project: Project) => boolean;
}): ActivityObservation {
  const { snapshot, readings, now, settings } = input;
  const out: ActivityObservation = { memories: new Map(), updates: [], states: new Map(), events: [] };
  for (const project of input.projects) {
    if (!input.isLocal(project)) continue;
    const kept = input.states?.get(project.id);
    const known = kept !== undefined && kept.attempt === project.startedAt ? kept : undefined;
    const previous = known?.memory ?? memoryOf(project.agentActivity);
    if (!isActive(project.state) || !watchable(project)) {
      if (previous !== NO_ACTIVITY_MEMORY) out.memories.set(project.id, previous);
      continue;
    }
    const reading = readings.get(project.id) ?? null;
    const event: ProjectObservation = { project: project.id, started: null, ended: null, notes: [] };
    const memory = observeOne(previous, reading, sourceMatch(project), now, settings, event);
    out.memories.set(project.id, memory);
    if (event.started !== null || event.ended !== null || event.notes.length > 0) out.events.push(event);
    const read = reading !== null;
    out.states.set(project.id, {
      attempt: project.startedAt,
      memory,
      readAt: read ? now : (known?.readAt ?? null),
      windowActivityAt: read ? latestActivity(panesOf(project, snapshot)) : (known?.windowActivityAt ?? null),
    });
    if (worthWriting(project, memory, now, settings)) {
      out.updates.push({ project: project.id, patch: { agentActivity: recordOf(memory) } });
    }
  }
  return out;
}

/**
 * One project's memory after a reading (or none) and its source's status. A
 * source's limit stands while the status says so: past its default hold it
 * starts again; once the status changes, it ends.
 */
function observeOne(
  previous: AgentActivityMemory,
  reading: PaneReading | null,
  fromSource: PaneMatch | null,
  now: number,
  settings: ObserveSettings,
  event: ProjectObservation,
): AgentActivityMemory {
  const held = previous.finding;
  const sourceHeld = held !== null && held.agent === SOURCE_AGENT;
  let effective = reading;
  if (fromSource !== null && reading?.match?.kind !== 'rate_limited') {
    effective = { match: fromSource, signature: reading?.signature ?? '' };
    if (sourceHeld && held.resetAt !== null && now >= held.resetAt) {
      const ended = { match: null, signature: effective.signature };
      previous = step(previous, ended, reading !== null, now, settings, event);
    }
  } else if (fromSource === null && sourceHeld && reading === null) {
    effective = { match: null, signature: '' };
  }
  if (effective === null) return previous;
  return step(previous, effective, reading !== null, now, settings, event);
}

/** observeAgentActivity, keeping the pane's progress untouched when the panes were not read. */
function step(
  previous: AgentActivityMemory,
  reading: PaneReading,
  read: boolean,
  now: number,
  settings: ObserveSettings,
  event: ProjectObservation,
): AgentActivityMemory {
  const o = observeAgentActivity(previous, reading, now, settings);
  event.started = o.started ?? event.started;
  event.ended = o.ended ?? event.ended;
  event.notes.push(...o.notes);
  return read ? o.memory : { ...o.memory, progress: previous.progress };
}

/** Whether the memory differs from the project's record by more than a pane that keeps moving. */
function worthWriting(project: Project, memory: AgentActivityMemory, now: number, settings: ObserveSettings): boolean {
  const stored = memoryOf(project.agentActivity);
  if (JSON.stringify(stored.finding) !== JSON.stringify(memory.finding)) return true;
  if (stored.pausedMs !== memory.pausedMs) return true;
  const p = memory.progress;
  const kept = stored.progress;
  if (p === null || (kept !== null && kept.signature === p.signature && kept.since === p.since)) return false;
  return now - p.since >= (settings.noProgressSec * 1000) / 10;
}

/**
 * The launch holds at `now` of the projects `isLocal` picks (those of this
 * host), from this cycle's memories where there are some, else from each
 * project's record: a project that failed or was requeued under a limit still
 * holds launches until the reset.
 */
export function hostLaunchHolds(
  projects: readonly Project[],
  now: number,
  scope: RateLimitScope,
  isLocal: (project: Project) => boolean,
  memories?: ReadonlyMap<string, AgentActivityMemory>,
): LaunchHolds {
  const memoryOfProject = (p: Project): AgentActivityMemory => memories?.get(p.id) ?? memoryOf(p.agentActivity);
  const local = projects.filter(isLocal).map((p) => ({ id: p.id, memory: memoryOfProject(p) }));
  return launchHolds(local, now, scope);
}

/**
 * Whether a project that fails at `now` failed under a usage limit: its
 * record shows a limit that has not reset. Such a failure is never counted by
 * either breaker: the limit covers the account, not the project.
 */
export function limitedFailure(project: Pick<Project, 'agentActivity'>, now: number): boolean {
  return activeLimit(memoryOf(project.agentActivity), now) !== null;
}
