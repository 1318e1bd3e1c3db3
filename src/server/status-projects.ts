/**
 * The project tables of the status page: every project not completed (the
 * ones that need a look first), one row each with its state and since when,
 * runtime, attempts, next attempt or what holds it, breaker, heartbeat and
 * why; then the last completed ones behind a `<details>`. Both are capped so
 * a queue of hundreds stays one readable page; the rest is named with where
 * to find it.
 */
import type { AgentConfig } from '../config/keys.js';
import { currentState, halfOpensAt } from '../core/policy/breaker.js';
import type { Detection } from '../core/model/plan.js';
import { PROJECT_STATES, isActive, isTerminal, ms, type Project, type ProjectState } from '../core/model/project.js';
import { hostLaunchHolds } from '../core/rules/agent-activity/observe.js';
import type { LaunchHolds } from '../core/rules/agent-activity/hold.js';
import { nextAttempt, stateSince } from '../core/views/project-view.js';
import { isLocal } from '../core/rules/reconcile.js';
import type { QueueBreakerRecord, RegistryDocument } from '../core/model/registry-document.js';
import { countOf } from '../core/views/wording.js';
import type { CycleResult } from '../cycle.js';
import { badge, command, escapeHtml as e, span, table, timeAgo, timeBoth, type Tone } from './html.js';
import { whyCell } from './project-why.js';

/** Projects listed in the main table; the rest are counted and linked. */
export const PROJECT_ROWS = 100;
/** Completed projects listed (the most recent). */
export const COMPLETED_ROWS = 20;

/** CPU (share of one core) and resident memory of a project's tree, as the last cycle measured them. */
type TreeUsage = CycleResult['usage'][string];

export interface ProjectsView {
  now: number;
  config: AgentConfig;
  doc: RegistryDocument;
  cycle: CycleResult | null;
  /** This agent's host: usage limits of its projects hold its launches. */
  hostId: string;
}

export const STATE_TONES: Record<ProjectState, Tone> = {
  queued: 'muted',
  processing: 'ok',
  timing_out: 'warn',
  zombie: 'bad',
  failed: 'bad',
  completed: 'ok',
};

/** Page order: what needs a look first (stuck, running, failed with the newest failure first), then the queue. */
const PAGE_RANK: Record<ProjectState, number> = {
  zombie: 0,
  timing_out: 1,
  processing: 2,
  failed: 3,
  queued: 4,
  completed: 5,
};

function pageOrder(projects: readonly Project[]): Project[] {
  const since = new Map(projects.map((p) => [p.id, stateSince(p)]));
  return [...projects].sort(
    (a, b) =>
      PAGE_RANK[a.state] - PAGE_RANK[b.state] ||
      (a.state === 'failed' ? (since.get(b.id) ?? '').localeCompare(since.get(a.id) ?? '') : 0) ||
      b.priority - a.priority ||
      a.enqueuedAt.localeCompare(b.enqueuedAt),
  );
}

function projectCell(p: Project): string {
  const name = p.name === null || p.name === p.id ? '' : ` <span class="muted">${e(p.name)}</span>`;
  // A finished attempt's PID is history (it may belong to another process by now); its session name helps find logs.
  const done = isTerminal(p.state);
  const where = [
    p.session === null ? null : `${done ? 'last session' : 'session'} ${e(p.session)}`,
    p.pid === null || done ? null : `pid ${e(p.pid)}`,
    p.host === null ? null : `host ${e(p.host)}`,
  ].filter((x) => x !== null);
  const located = where.length === 0 ? '' : `<br><small class="muted">${where.join(' · ')}</small>`;
  return `<b>${e(p.id)}</b>${name}${located}${sourceLine(p)}`;
}

/** Where an imported project comes from: its source's kind, name and key, and the status the source gave it. */
function sourceLine(p: Project): string {
  const s = p.source;
  if (s === undefined || s === null) return '';
  const status = s.status === null ? '' : `, status ${e(s.status)}`;
  return `<br><small>imported from ${e(s.kind)} source <b>${e(s.name)}</b> (${e(s.ref)})${status}</small>`;
}

function stateCell(p: Project, now: number): string {
  return `${badge(p.state, STATE_TONES[p.state])}<br><small>since ${timeAgo(ms(stateSince(p)), now)}</small>`;
}

/** From start to end (or now while it runs); nothing for a project that has not started. */
function runtimeCell(p: Project, now: number): string {
  const started = ms(p.startedAt);
  if (started === null) return '<span class="muted">-</span>';
  const ended = isActive(p.state) ? now : (ms(p.endedAt) ?? now);
  return span(started, ended, isActive(p.state) ? 'running since ' : '');
}

function nextAttemptCell(
  p: Project,
  queue: QueueBreakerRecord,
  config: AgentConfig,
  now: number,
  holds: LaunchHolds,
): string {
  const next = nextAttempt(p, queue, config, now, holds);
  const at = ms(next.at);
  switch (next.status) {
    case 'scheduled':
      return at === null ? 'scheduled' : timeBoth(at, now);
    case 'due':
      return p.state === 'queued' ? 'at the next free launch slot' : 'due now (next cycle)';
    case 'held': {
      let until = '';
      if (next.reason === 'breaker open') {
        const half = halfOpensAt(p.breaker, config);
        if (half !== null && Number.isFinite(half)) {
          until = `<br><small>until the breaker half-opens ${timeBoth(half, now)}</small>`;
        }
      } else if (next.reason === 'queue paused') {
        const resume = ms(queue.resumeAt);
        const when = resume === null ? 'until the queue is resumed' : `until ${timeBoth(resume, now)}`;
        until = `<br><small>${when}</small>`;
      } else if (next.until !== undefined) {
        until = `<br><small>until the reset ${timeBoth(ms(next.until) ?? Number.NaN, now)}</small>`;
      }
      return `${badge('held', 'warn')} ${e(next.reason ?? '')}${until}`;
    }
    case 'never':
      return `${badge('never', 'muted')} ${e(next.reason ?? '')}`;
    case 'none':
      if (p.state !== 'queued') return '<span class="muted">-</span>';
      return p.source === undefined || p.source === null
        ? '<span class="muted">when its orchestrator reports a start</span>'
        : '<span class="muted">when its source starts it</span>';
  }
}

function breakerCell(p: Project, config: AgentConfig, now: number): string {
  const state = currentState(p.breaker, now, config);
  const n = p.breaker.consecutiveFailures;
  const failures = n === 0 ? '' : `<br><small>${countOf(n, 'failure')} in a row</small>`;
  if (state === 'closed') return `<span class="muted">closed</span>${failures}`;
  if (state === 'half_open') return `${badge('half-open', 'warn')}<br><small>the next attempt decides</small>`;
  const half = halfOpensAt(p.breaker, config);
  const known = half !== null && Number.isFinite(half);
  const halfOpens = known ? `<br><small>half-opens ${timeBoth(half, now)}</small>` : '';
  return `${badge('open', 'bad')}${failures}${halfOpens}`;
}

/**
 * The latest sign of activity and where it comes from: a heartbeat the
 * project reported, else when the agent last saw its process or session alive
 * (tmux pane activity is weighed by each cycle, which reports a stale one as a
 * detection); with the CPU and memory of its tree in the last cycle.
 */
function heartbeatCell(p: Project, now: number, usage: TreeUsage | undefined, stale: boolean): string {
  const beat = ms(p.heartbeatAt);
  const seen = ms(p.lastSeenAliveAt);
  const parts: string[] = [];
  if (beat !== null) parts.push(`${timeAgo(beat, now)} <small>reported heartbeat</small>`);
  else if (seen !== null && isActive(p.state)) {
    parts.push(`${timeAgo(seen, now)} <small>seen alive by the agent (no heartbeat reported)</small>`);
  } else if (isActive(p.state)) parts.push('<span class="muted">none yet</span>');
  if (usage !== undefined) {
    const mib = Math.round(usage.rssBytes / 1_048_576);
    parts.push(`<small>cpu ${Math.round(usage.cpuRatio * 100)}% · ${mib} MiB (last cycle)</small>`);
  }
  if (parts.length === 0) return '<span class="muted">-</span>';
  return `<span class="${stale ? 'warn' : ''}">${parts.join('<br>')}</span>`;
}

/** "380 queued, 20 failed" of the projects left out, each linked to its API listing. */
function notShown(left: readonly Project[]): string {
  if (left.length === 0) return '';
  const links = PROJECT_STATES.map((s) => [s, left.filter((p) => p.state === s).length] as const)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `<a href="/api/projects?state=${s}">${n} ${e(s)}</a>`)
    .join(', ');
  const more = countOf(left.length, 'more project');
  return `<p class="muted">${more} not shown (${links}): ${command('agent status')} lists them all.</p>`;
}

export function projectsSection(v: ProjectsView): string {
  const open = pageOrder(v.doc.projects.filter((p) => p.state !== 'completed'));
  const shown = open.slice(0, PROJECT_ROWS);
  const byProject = new Map<string, Detection[]>();
  for (const d of v.cycle?.detections ?? []) {
    if (d.project !== null) byProject.set(d.project, [...(byProject.get(d.project) ?? []), d]);
  }
  const holds = hostLaunchHolds(v.doc.projects, v.now, v.config.rateLimitScope, (p) => isLocal(p, v.hostId));
  const rows = shown.map((p) => {
    const found = byProject.get(p.id) ?? [];
    const stale = found.some((d) => d.kind === 'heartbeat_stale');
    return [
      projectCell(p),
      stateCell(p, v.now),
      runtimeCell(p, v.now),
      e(`${p.attempts}/${p.maxAttempts ?? v.config.retryMaxAttempts}`),
      nextAttemptCell(p, v.doc.queue, v.config, v.now, holds),
      breakerCell(p, v.config, v.now),
      heartbeatCell(p, v.now, v.cycle?.usage[p.id], stale),
      whyCell(p, { now: v.now, detections: found }),
    ];
  });
  const headers = ['Project', 'State', 'Runtime', 'Attempts', 'Next attempt', 'Breaker', 'Heartbeat', 'Why'];
  const cut = shown.length < open.length;
  const title = cut ? `Projects (${shown.length} of ${open.length} not completed)` : 'Projects (not completed)';
  const list = table(headers, rows, 'None: every project has completed.', 'projects');
  return `<section><h2>${e(title)}</h2>${list}${notShown(open.slice(PROJECT_ROWS))}</section>`;
}

function evidenceText(p: Project): string {
  const c = p.completion;
  if (c === null) return '<span class="muted">-</span>';
  return e(c.evidence.map((x) => `${x.method} ${x.weight}`).join(', ') || c.decision);
}

/** The last completed projects, newest first, collapsed: they answer "did it finish", rarely "why". */
export function completedSection(v: ProjectsView): string {
  const done = v.doc.projects
    .filter((p) => p.state === 'completed')
    .map((p) => ({ p, at: ms(p.endedAt) ?? ms(stateSince(p)) ?? 0 }))
    .sort((a, b) => b.at - a.at || a.p.id.localeCompare(b.p.id));
  if (done.length === 0) return '<section><h2>Completed</h2><p class="muted">None yet.</p></section>';
  const shown = done.slice(0, COMPLETED_ROWS);
  const rows = shown.map(({ p, at }) => [
    projectCell(p),
    timeAgo(at, v.now),
    runtimeCell(p, v.now),
    e(p.attempts),
    evidenceText(p),
  ]);
  const cut = shown.length < done.length;
  const which = cut ? `the last ${shown.length} of ${done.length}` : `${done.length}`;
  const link = '<a href="/api/projects?state=completed">/api/projects?state=completed</a>';
  const more = cut ? `<p class="muted">The others: ${link}.</p>` : '';
  const list = table(['Project', 'Completed', 'Runtime', 'Attempts', 'Evidence'], rows, 'None yet.', 'projects');
  return `<section><details><summary><h2>Completed (${which})</h2></summary>\n${list}${more}</details></section>`;
}
