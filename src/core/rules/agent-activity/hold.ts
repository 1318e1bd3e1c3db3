/**
 * What the agents' activity means for the queue at `now`, from the memories
 * the tracker keeps: each project's finding, whether its timeout clock is
 * paused, and whether launches are held. Nothing here kills or types into a
 * pane: a prompt and a limit are waited out, never treated as failures.
 *
 * - awaiting_input pauses the project's timeout clock for at most
 *   `awaitingInputMaxSec`; after that it is still reported, and the normal
 *   timeout applies.
 * - rate_limited pauses the clock until the reset and holds launches until
 *   then: every launch on this host (`rateLimitScope: host`, since one account
 *   usually serves every agent of a host), or only the limited project's own
 *   next attempt (`project`). At the reset the hold ends by itself.
 * - no_progress (pane unchanged, no heartbeat for `noProgressSec`) is only
 *   reported; the normal timeout handles it. A project waiting on a prompt or
 *   a limit is reported as that instead.
 */
import { isNoProgress } from './progress.js';
import { pauseEnd, pausedBy, type AgentActivityMemory } from './tracker.js';

export const RATE_LIMIT_SCOPES = ['host', 'project'] as const;
export type RateLimitScope = (typeof RATE_LIMIT_SCOPES)[number];

export interface HoldSettings {
  awaitingInputMaxSec: number;
  noProgressSec: number;
  rateLimitScope: RateLimitScope;
}

export type ActivityFinding =
  | {
      kind: 'awaiting_input' | 'rate_limited';
      agent: string;
      line: string;
      since: number;
      /** When the pause of the timeout clock ends (a prompt's maximum wait, a limit's reset). */
      until: number;
      /** Whether the timeout clock is paused at `now`. */
      clockPaused: boolean;
    }
  | { kind: 'no_progress'; since: number };

/** The project's finding at `now`, or null. A limit past its reset is over and reported no more. */
export function activityFinding(
  memory: AgentActivityMemory,
  heartbeatAt: number | null,
  now: number,
  settings: Omit<HoldSettings, 'rateLimitScope'>,
): ActivityFinding | null {
  const f = memory.finding;
  if (f !== null) {
    const until = pauseEnd(f, settings);
    if (f.kind === 'awaiting_input' || now < until) {
      return { kind: f.kind, agent: f.agent, line: f.line, since: f.since, until, clockPaused: now < until };
    }
  }
  if (isNoProgress(memory.progress, heartbeatAt, now, settings.noProgressSec)) {
    return { kind: 'no_progress', since: (memory.progress as { since: number }).since };
  }
  return null;
}

/**
 * The project's timeout clock at `now`: whether it is paused, until when, and
 * the milliseconds paused this attempt in all (to add to the deadline).
 */
export function timeoutClock(
  memory: AgentActivityMemory,
  now: number,
  settings: Pick<HoldSettings, 'awaitingInputMaxSec'>,
): { paused: boolean; until: number | null; pausedMs: number } {
  const f = memory.finding;
  if (f === null) return { paused: false, until: null, pausedMs: memory.pausedMs };
  const until = pauseEnd(f, settings);
  const paused = now < until;
  return { paused, until: paused ? until : null, pausedMs: memory.pausedMs + pausedBy(f, now, settings) };
}

export interface LaunchHold {
  /** Epoch ms the hold ends. */
  until: number;
  scope: RateLimitScope;
  /** The limited project that holds launches, and its line. */
  project: string;
  line: string;
}

export interface LaunchHolds {
  /** Every launch on this host waits until then (scope host), or null. */
  host: LaunchHold | null;
  /** Per project: its next attempt waits until then (scope project). */
  projects: Map<string, LaunchHold>;
}

/** The launch holds at `now` from every project's memory on this host; the latest reset wins. */
export function launchHolds(
  projects: Iterable<{ id: string; memory: AgentActivityMemory }>,
  now: number,
  scope: RateLimitScope,
): LaunchHolds {
  const holds: LaunchHolds = { host: null, projects: new Map() };
  for (const { id, memory } of projects) {
    const limit = activeLimit(memory, now);
    if (limit === null) continue;
    const hold: LaunchHold = { until: limit.until, scope, project: id, line: limit.line };
    if (scope === 'project') holds.projects.set(id, hold);
    else if (holds.host === null || hold.until > holds.host.until) holds.host = hold;
  }
  return holds;
}

/** Whether `projectId` may be launched at `now` under `holds`. */
export function mayLaunch(projectId: string, holds: LaunchHolds, now: number): boolean {
  if (holds.host !== null && now < holds.host.until) return false;
  const own = holds.projects.get(projectId);
  return own === undefined || now >= own.until;
}

/** The usage limit that holds at `now` in this memory (a limit that has reset holds nothing), or null. */
export function activeLimit(memory: AgentActivityMemory, now: number): { until: number; line: string } | null {
  const f = memory.finding;
  if (f === null || f.kind !== 'rate_limited' || f.resetAt === null || f.resetAt <= now) return null;
  return { until: f.resetAt, line: f.line };
}
