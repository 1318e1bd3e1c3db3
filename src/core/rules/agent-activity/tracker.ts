/**
 * What the agent has been doing, across cycles: per project, the finding
 * (prompt or limit) and since when, the pane's progress, and the timeout clock
 * already paused. All plain, JSON-safe data the caller keeps (in memory, or on
 * the project so it survives a restart) and passes back each cycle; a new
 * attempt starts from `NO_ACTIVITY_MEMORY`.
 *
 * A finding is the same while the same kind and line stay the bottom-most
 * match; another line, or none, ends it and credits its paused time. A limit's
 * reset time is read once, against the time its line was first seen, so a
 * "resets 5pm" still on screen at 5:10pm is not taken for tomorrow's.
 */
import { matchCatalogue, type AgentActivityKind, type CompiledCatalogue, type PaneMatch } from './catalogue.js';
import { paneTail, PANE_TAIL_LIMITS, type PaneTailLimits } from './pane-text.js';
import { paneSignature, trackProgress, type PaneProgress } from './progress.js';
import { parseResetTime } from './reset-time.js';

export interface TrackedFinding {
  kind: AgentActivityKind;
  agent: string;
  /** The matched line (cleaned, capped): the reason. */
  line: string;
  /** Epoch ms the line was first seen at the bottom of the pane. */
  since: number;
  /** rate_limited: epoch ms the limit ends; null for awaiting_input. */
  resetAt: number | null;
  /** rate_limited: `text` when read from the agent's words, `default` when the default hold applied. */
  resetFrom: 'text' | 'default' | null;
}

export interface AgentActivityMemory {
  finding: TrackedFinding | null;
  progress: PaneProgress | null;
  /** Timeout-clock milliseconds paused by findings that already ended, this attempt. */
  pausedMs: number;
}

export const NO_ACTIVITY_MEMORY: Readonly<AgentActivityMemory> = Object.freeze({
  finding: null,
  progress: null,
  pausedMs: 0,
});

/** One reading of a pane: the catalogue's match at its bottom and the bottom's signature. */
export interface PaneReading {
  match: PaneMatch | null;
  signature: string;
}

export interface ActivitySettings {
  awaitingInputMaxSec: number;
  rateLimitDefaultHoldSec: number;
  /** IANA zone of reset times printed without one (the agents' zone, normally the host's). */
  defaultTimeZone: string;
}

export interface Observation {
  memory: AgentActivityMemory;
  /** The finding this reading started, if any (to report, to alert on). */
  started: TrackedFinding | null;
  /** The finding this reading ended, if any. */
  ended: TrackedFinding | null;
  /** What the caller should log: a reset time it could not read, or one already past. */
  notes: string[];
}

/** Read a raw capture once: its cleaned bottom lines give both the match and the signature. */
export function readPane(
  capture: string,
  catalogue: CompiledCatalogue,
  limits: Readonly<PaneTailLimits> = PANE_TAIL_LIMITS,
): PaneReading {
  const lines = paneTail(capture, limits);
  return { match: matchCatalogue(lines, catalogue), signature: paneSignature(lines) };
}

/** When a finding's pause of the timeout clock ends: a prompt's after the maximum wait, a limit's at its reset. */
export function pauseEnd(finding: TrackedFinding, settings: Pick<ActivitySettings, 'awaitingInputMaxSec'>): number {
  if (finding.kind === 'awaiting_input') return finding.since + settings.awaitingInputMaxSec * 1000;
  return finding.resetAt ?? finding.since;
}

/** Milliseconds a finding has paused the clock by `now`. */
export function pausedBy(
  finding: TrackedFinding,
  now: number,
  settings: Pick<ActivitySettings, 'awaitingInputMaxSec'>,
): number {
  return Math.max(0, Math.min(now, pauseEnd(finding, settings)) - finding.since);
}

/**
 * The memory after one reading at `now`. A pane that was not read this cycle
 * (`reading` null) changes nothing: unknown is not "gone".
 */
export function observeAgentActivity(
  previous: AgentActivityMemory | null,
  reading: PaneReading | null,
  now: number,
  settings: ActivitySettings,
): Observation {
  const memory = previous ?? NO_ACTIVITY_MEMORY;
  if (reading === null) return { memory, started: null, ended: null, notes: [] };
  const progress = trackProgress(memory.progress, reading.signature, now);
  const old = memory.finding;
  const match = reading.match;
  if (old !== null && match !== null && old.kind === match.kind && old.line === match.line) {
    return { memory: { ...memory, progress }, started: null, ended: null, notes: [] };
  }
  const notes: string[] = [];
  const started = match === null ? null : startFinding(match, now, settings, notes);
  const pausedMs = memory.pausedMs + (old === null ? 0 : pausedBy(old, now, settings));
  return { memory: { finding: started, progress, pausedMs }, started, ended: old, notes };
}

function startFinding(match: PaneMatch, now: number, settings: ActivitySettings, notes: string[]): TrackedFinding {
  const base = { kind: match.kind, agent: match.agent, line: match.line, since: now };
  if (match.kind === 'awaiting_input') return { ...base, resetAt: null, resetFrom: null };
  const resetAt = parseResetTime(match.context, now, { defaultTimeZone: settings.defaultTimeZone });
  if (resetAt === null) {
    notes.push(
      `${match.agent} usage limit without a reset time this agent can read (none printed, or an unknown time zone): ` +
        `holding for the default ${settings.rateLimitDefaultHoldSec}s; line: "${match.line}"`,
    );
    return { ...base, resetAt: now + settings.rateLimitDefaultHoldSec * 1000, resetFrom: 'default' };
  }
  if (resetAt <= now) {
    notes.push(`${match.agent} usage limit whose reset time has already passed: nothing held; line: "${match.line}"`);
  }
  return { ...base, resetAt, resetFrom: 'text' };
}
