/**
 * Builders for the metrics tests: cycle results, registries and audit
 * entries as plain values, plus a small parser of the text exposition and a
 * promtool runner that feeds the exposition on stdin.
 */
import { execFile } from 'node:child_process';
import type { AgentConfig } from '../../src/config/keys.js';
import { emptyCycleResult, type CycleOutcome, type CycleResult } from '../../src/cycle.js';
import type { Detection, StuckKind } from '../../src/core/model/plan.js';
import { newProject, type Project, type ProjectState } from '../../src/core/model/project.js';
import { summariseQueue } from '../../src/core/views/queue-summary.js';
import { emptyDocument, type RegistryDocument } from '../../src/core/model/registry-document.js';
import { AgentMetrics } from '../../src/metrics/metrics.js';
import type { AuditEntry } from '../../src/registry/store.js';
import type { SourceSyncReport } from '../../src/sources/source.js';

import { aConfig, at, HOUR, MIN, T0 } from '../helpers/builders.js';

export { aConfig, at, HOUR, MIN, SEC, T0 } from '../helpers/builders.js';

export function someMetrics(config: Partial<AgentConfig> = {}): AgentMetrics {
  return new AgentMetrics({ config: aConfig(config), hostId: 'build-01', version: '0.1.0', backend: 'json' });
}

/** A project in `state`, enqueued `enqueuedAgoMs` before T0; active states get a start, pid and session. */
export function aProjectIn(id: string, state: ProjectState, fields: Partial<Project> = {}): Project {
  const active = state === 'processing' || state === 'timing_out' || state === 'zombie';
  const ended = state === 'failed' || state === 'completed';
  return newProject({
    id,
    state,
    enqueuedAt: at(-2 * HOUR),
    session: `${id}-session`,
    ...(active || ended ? { startedAt: at(-HOUR), attempts: 1 } : {}),
    ...(active ? { pid: 4000, pidStartTime: 9000, heartbeatAt: at(-MIN), lastSeenAliveAt: at(0) } : {}),
    ...(ended ? { endedAt: at(-30 * MIN) } : {}),
    ...fields,
  });
}

export function aRegistry(projects: Project[], fields: Partial<RegistryDocument> = {}): RegistryDocument {
  return { ...emptyDocument(), projects, ...fields };
}

/** `count` terminal projects, alternating completed and failed. */
export function terminalProjects(count: number): Project[] {
  return Array.from({ length: count }, (_, i) => aProjectIn(`done-${i}`, i % 2 === 0 ? 'completed' : 'failed'));
}

export function aDetection(kind: StuckKind, project: string | null, fields: Partial<Detection> = {}): Detection {
  return {
    kind,
    project,
    session: project ? `${project}-session` : 'orphan-1',
    tmuxSocket: null,
    pid: null,
    reason: `${kind} seen`,
    ...fields,
  };
}

/** A clean cycle report: nothing happened. Override any field. */
export function aResult(fields: Partial<CycleResult> = {}): CycleResult {
  return {
    ...emptyCycleResult(T0, false),
    durationMs: 120,
    sources: [
      { source: 'processes', ok: true, durationMs: 20, error: null },
      { source: 'tmux', ok: true, durationMs: 30, error: null },
      { source: 'usage', ok: true, durationMs: 10, error: null },
    ],
    tmuxSessions: { default: 0 },
    ...fields,
  };
}

/** A cycle outcome over `registry`, with the queue summary the cycle computes from it. */
export function anOutcome(
  registry: RegistryDocument | null,
  fields: Partial<CycleResult> = {},
  now = T0,
): CycleOutcome {
  const queue = registry ? summariseQueue(registry, aConfig(), now) : null;
  return { result: aResult({ queue, ...fields }), registry };
}

/** The outcome of a cycle that could not read the registry: no scan, no plan. */
export function anUnreadableRegistryOutcome(): CycleOutcome {
  return {
    result: aResult({
      ok: false,
      sources: [],
      tmuxSessions: {},
      errors: [{ source: 'registry', message: 'registry.json: unexpected token' }],
    }),
    registry: null,
  };
}

/** A busy, realistic queue: every state, breakers open and half-open, two tmux servers, a paused queue. */
export function aBusyRegistry(): RegistryDocument {
  return aRegistry(
    [
      aProjectIn('q-1', 'queued', { enqueuedAt: at(-3 * HOUR), session: null }),
      aProjectIn('q-2', 'queued', { enqueuedAt: at(-HOUR) }),
      aProjectIn('run-1', 'processing', { tmuxSocket: 'agents' }),
      aProjectIn('slow-1', 'timing_out', { timingOutSince: at(-MIN) }),
      aProjectIn('zed-1', 'zombie'),
      aProjectIn('bad-1', 'failed', {
        breaker: { state: 'open', consecutiveFailures: 3, openedAt: at(-5 * MIN), opens: 1 },
      }),
      aProjectIn('bad-2', 'failed', {
        breaker: { state: 'open', consecutiveFailures: 3, openedAt: at(-2 * HOUR), opens: 1 },
      }),
      aProjectIn('ok-1', 'completed'),
    ],
    {
      queue: {
        paused: true,
        pausedAt: at(-MIN),
        resumeAt: at(29 * MIN),
        opens: 1,
        trippedBy: ['bad-1', 'bad-2'],
        pausedBy: 'breaker',
      },
    },
  );
}

/** A cycle that did a bit of everything over `aBusyRegistry()`. */
export function aBusyOutcome(): CycleOutcome {
  const registry = aBusyRegistry();
  return anOutcome(registry, {
    ok: false,
    durationMs: 2300,
    sources: [
      { source: 'processes', ok: true, durationMs: 20, error: null },
      { source: 'tmux', ok: false, durationMs: 900, error: 'tmux -L agents: permission denied' },
      { source: 'usage', ok: true, durationMs: 10, error: null },
    ],
    errors: [
      { source: 'evidence', message: 'project run-1: git evidence unavailable: timeout' },
      { source: 'evidence', message: 'project slow-1: output evidence unavailable: timeout' },
      { source: 'tmux', message: 'tmux -L agents: permission denied' },
    ],
    actions: [
      { project: 'zed-1', action: 'kill_tree', outcome: 'success', detail: 'killed 3 processes', reason: 'zombie' },
      { project: null, action: 'kill_session', outcome: 'skipped', detail: 'session gone', reason: 'orphan session' },
      { project: 'q-2', action: 'launch', outcome: 'failure', detail: 'tmux new-session failed', reason: 'launch' },
    ],
    blocked: [{ project: 'slow-1', action: 'kill_tree', reason: 'scan_failed', detail: 'tmux scan failed' }],
    detections: [
      aDetection('zombie', 'zed-1'),
      aDetection('timing_out', 'slow-1'),
      aDetection('orphan_session', null),
      aDetection('heartbeat_stale', 'run-1'),
      aDetection('awaiting_input', 'run-1', {
        agent: 'claude-code',
        reason: 'Do you want to proceed? "日本語" \\ ❯',
        since: at(-2 * MIN),
        until: at(4 * HOUR),
      }),
    ],
    launchHold: {
      until: at(30 * MIN),
      scope: 'host',
      project: 'run-1',
      line: "You've hit your session limit · resets 10:30am (UTC)",
    },
    counts: { retries: 2, breakerTrips: 1, launches: 0, queueTrips: 1, extensions: 0 },
    tmuxSessions: { default: 3 },
    usage: {
      'run-1': { cpuRatio: 0.75, rssBytes: 512 * 1024 * 1024 },
      'zed-1': { cpuRatio: 0.01, rssBytes: 4096 * 1024 },
    },
    sourceSync: [
      aSourceReport(),
      aSourceReport({
        source: 'squad',
        kind: 'tmux-sessions',
        location: 'sessions matching ^claudesquad_',
        ok: false,
        error: 'tmux list-panes failed',
        durationMs: 4,
      }),
    ],
  });
}

/** One source pass as the cycle reports it: a Tmux-Orchestrator database read fine. Override any field. */
export function aSourceReport(fields: Partial<SourceSyncReport> = {}): SourceSyncReport {
  return {
    source: 'tmux-orchestrator',
    kind: 'tmux-orchestrator',
    location: '/home/u/Tmux-Orchestrator/task_queue.db',
    ok: true,
    error: null,
    durationMs: 12,
    skipped: false,
    rows: 40,
    created: 1,
    updated: 2,
    moved: 0,
    dropped: 0,
    conflicts: [],
    moves: [],
    unknownStatuses: [],
    writtenBack: 1,
    writeBackConflicts: 0,
    withheld: 0,
    ...fields,
  };
}

export function aTransition(
  project: string,
  from: ProjectState | null,
  to: ProjectState,
  atIso: string,
  fields: Partial<AuditEntry> = {},
): AuditEntry {
  return { at: atIso, type: 'transition', project, by: 'agent@build-01', from, to, reason: 'test', ...fields };
}

// ---------------------------------------------------------------------------
// Reading the exposition

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Exposition {
  text: string;
  /** Family name -> type, from the `# TYPE` lines. */
  types: Map<string, string>;
  samples: Sample[];
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      if (name && type) types.set(name, type);
      continue;
    }
    if (line.startsWith('#')) continue;
    const match = SAMPLE_LINE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(LABEL_PAIR)) labels[pair[1] as string] = pair[2] as string;
    samples.push({ name: match[1] as string, labels, value: Number(match[3]) });
  }
  return { text, types, samples };
}

export async function scrape(metrics: AgentMetrics): Promise<Exposition> {
  return parseExposition((await metrics.render(false)).body);
}

export function samplesOf(e: Exposition, name: string): Sample[] {
  return e.samples.filter((s) => s.name === name);
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is not exactly one. */
export function valueOf(e: Exposition, name: string, labels: Record<string, string> = {}): number {
  const found = samplesOf(e, name).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length !== 1) throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}`);
  return (found[0] as Sample).value;
}

/** Label values of `label` among the samples of `name`, sorted. */
export function labelValues(e: Exposition, name: string, label: string): string[] {
  return samplesOf(e, name)
    .map((s) => s.labels[label] ?? '')
    .sort();
}

export interface ToolRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a tool with execFile (no shell), `input` on stdin. A non-zero exit resolves; a missing tool rejects. */
export function runWithStdin(tool: string, args: string[], input: string): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      tool,
      args,
      { timeout: 60_000, maxBuffer: 16 * 1024 * 1024, env: { ...process.env, LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(new Error(`${tool} is not installed (apt-get install prometheus): ${error.message}`));
          return;
        }
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    child.stdin?.end(input);
  });
}
