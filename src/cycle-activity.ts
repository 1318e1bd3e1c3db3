/**
 * The agent-detection step of a cycle (docs/agent-detection.md): which panes
 * to capture, one bulk read shared with the completion evidence, and each
 * project's memory after it. The decisions are in src/core/rules/agent-activity/;
 * this file only does the reading and the logging around them.
 *
 * No tmux call of its own in a steady cycle: a project's panes are captured
 * only when tmux's window activity (read by the scan every cycle) moved since
 * the last capture, at the first look at an attempt, or on the full sync; and
 * then in the same bulk read as the evidence step's captures.
 */
import type { AgentConfig } from './config/keys.js';
import {
  configuredCatalogue,
  hostLaunchHolds,
  needsCapture,
  observeActivity,
  readSession,
  type ActivityObservation,
  type CompiledCatalogue,
  type LaunchHolds,
  type PaneReading,
  type PaneReadState,
} from './core/rules/agent-activity/index.js';
import type { Project } from './core/model/project.js';
import { isLocal } from './core/rules/reconcile.js';
import type { Snapshot } from './core/model/snapshot.js';
import { outputPatternsOrNone } from './evidence/pane-output.js';
import { PaneReadRequest, readPanes, type PaneCaptures, type PaneListings } from './evidence/pane-read.js';
import type { Logger } from './log.js';
import { normaliseSocket } from './scan/tmux-command.js';

/** Each project's last pane read, kept by the daemon between cycles (a one-shot command has none). */
export type PaneReadStates = Map<string, PaneReadState>;

export interface CyclePaneRead {
  /** The bulk read, when one was needed this cycle. */
  captures: PaneCaptures | undefined;
  /** Projects whose panes agent detection wanted read. */
  watched: readonly Project[];
}

interface PaneReadInput {
  projects: readonly Project[];
  /** Projects whose completion evidence the cycle gathers. */
  candidates: readonly Project[];
  snapshot: Snapshot;
  config: AgentConfig;
  states: PaneReadStates | null;
  fullSync: boolean;
  hostId: string;
  tmuxPath?: string;
}

/** The panes the scan listed, per server read cleanly: the bulk read needs no `list-panes` of its own. */
function listingsOf(snapshot: Snapshot): PaneListings {
  return new Map(snapshot.tmux.filter((t) => t.ok).map((t) => [t.socket, t.sessions]));
}

/**
 * One bulk read for the cycle: the evidence candidates' panes (their live
 * panes only when completion output patterns are set) and the panes agent
 * detection needs.
 */
export async function readCyclePanes(input: PaneReadInput): Promise<CyclePaneRead> {
  const { config } = input;
  const request = new PaneReadRequest();
  const live = outputPatternsOrNone({ config }).length > 0;
  for (const p of input.candidates) {
    if (p.session !== null && p.session !== '') request.add(normaliseSocket(p.tmuxSocket), p.session, live);
  }
  const watched = input.projects.filter(
    (p) => isLocal(p, input.hostId) && needsCapture(p, input.snapshot, input.states?.get(p.id), input.fullSync),
  );
  for (const p of watched) request.add(normaliseSocket(p.tmuxSocket), p.session as string, true);
  if (request.size === 0) return { captures: undefined, watched };
  const timeoutMs = Math.min(config.tmuxTimeoutMs, config.evidenceTimeoutMs);
  const options = { timeoutMs, ...(input.tmuxPath ? { tmuxPath: input.tmuxPath } : {}) };
  return { captures: await readPanes(request, options, listingsOf(input.snapshot)), watched };
}

const catalogues = new WeakMap<AgentConfig, CompiledCatalogue>();

/** The configured catalogue, compiled once per configuration (validated at start-up). */
function catalogueOf(config: AgentConfig): CompiledCatalogue {
  let catalogue = catalogues.get(config);
  if (catalogue === undefined) {
    catalogue = configuredCatalogue(config);
    catalogues.set(config, catalogue);
  }
  return catalogue;
}

/** The zone of reset times printed without one: the host's, which is normally the agents' too. */
export function hostTimeZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone;
}

export interface CycleActivity {
  observation: ActivityObservation;
  holds: LaunchHolds;
}

/**
 * Every local project's memory after this cycle's read, logged as it changes,
 * and the launch holds it makes. A project whose panes were not read (not
 * needed, or the read failed) keeps what it had.
 */
export function observeCycleActivity(input: {
  projects: readonly Project[];
  snapshot: Snapshot;
  read: CyclePaneRead;
  states: PaneReadStates | null;
  config: AgentConfig;
  hostId: string;
  now: number;
  log: Logger;
}): CycleActivity {
  const { config, now, log } = input;
  const readings = new Map<string, PaneReading>();
  for (const p of input.read.watched) {
    const panes = input.read.captures?.of(normaliseSocket(p.tmuxSocket), p.session as string);
    const raw = panes?.map((pane) => pane.raw).filter((r): r is string => r !== undefined);
    if (raw !== undefined && raw.length > 0) readings.set(p.id, readSession(raw, catalogueOf(config)));
  }
  const local = (p: Project): boolean => isLocal(p, input.hostId);
  const observation = observeActivity({
    projects: input.projects,
    snapshot: input.snapshot,
    readings,
    states: input.states,
    now,
    settings: {
      awaitingInputMaxSec: config.awaitingInputMaxSec,
      rateLimitDefaultHoldSec: config.rateLimitDefaultHoldSec,
      noProgressSec: config.noProgressSec,
      defaultTimeZone: hostTimeZone(),
    },
    isLocal: local,
  });
  for (const e of observation.events) {
    for (const note of e.notes) log.warn(`agent activity: ${note}`, { project: e.project });
    if (e.ended) {
      const what = e.ended.kind === 'awaiting_input' ? 'waits on a prompt' : 'held by a usage limit';
      log.info(`agent no longer ${what}`, { project: e.project, line: e.ended.line });
    }
    if (e.started) {
      const s = e.started;
      const until = s.resetAt === null ? {} : { until: new Date(s.resetAt).toISOString() };
      const what = s.kind === 'awaiting_input' ? 'waits on a prompt' : 'hit a usage limit';
      log.warn(`agent ${what}`, { project: e.project, agent: s.agent, line: s.line, ...until });
    }
  }
  const holds = hostLaunchHolds(input.projects, now, config.rateLimitScope, local, observation.memories);
  return { observation, holds };
}

/** Keep the states for the next cycle (the daemon's map is replaced in place). */
export function keepPaneReads(states: PaneReadStates | null, observation: ActivityObservation): void {
  if (states === null) return;
  states.clear();
  for (const [id, state] of observation.states) states.set(id, state);
}
