/**
 * The status page at `/`: one self-contained HTML document (inline CSS, no
 * script, no external asset) that answers "why did X fail and when will it
 * run again" at a glance, on a desk or a phone. Every value from the registry
 * or the last cycle (ids, names, sessions, reasons, output, error messages) is
 * user data and goes through `escapeHtml`. An unreadable registry is shown
 * once, as the error it is, and what depends on it says "unknown", never
 * "none"; the rest of the page still renders.
 */
import type { AgentConfig } from '../config/keys.js';
import { scheduleIntervalSec } from '../config/schedule.js';
import { PROJECT_STATES, ms } from '../core/model/project.js';
import { summariseQueue, type QueueSummary } from '../core/views/queue-summary.js';
import { PAUSED_BY_BREAKER, type RegistryDocument } from '../core/model/registry-document.js';
import { countOf } from '../core/views/wording.js';
import { messageOf } from '../errors.js';
import type { AgentStatus, ServerDeps } from './app.js';
import { absolute, badge, command, escapeHtml, table, timeAgo, timeBoth, type Tone } from './html.js';
import { detectionBadge, detectionText } from './project-why.js';
import { completedSection, projectsSection } from './status-projects.js';
import { STATUS_STYLE } from './status-style.js';

export { escapeHtml } from './html.js';

export interface StatusPageData {
  now: number;
  hostId: string;
  version: string;
  registryLocation: string;
  doc: RegistryDocument | null;
  registryError: string | null;
  summary: QueueSummary | null;
  status: AgentStatus;
  config: ServerDeps['config'];
}

export async function statusPageData(deps: ServerDeps): Promise<StatusPageData> {
  const now = deps.now();
  const status = deps.status();
  let doc: RegistryDocument | null = null;
  let registryError: string | null = null;
  let summary: QueueSummary | null = null;
  try {
    doc = await deps.store.load();
    summary = summariseQueue(doc, deps.config, now, { scanOk: status.lastCycle?.ok ?? true, hostId: deps.hostId });
  } catch (err) {
    registryError = messageOf(err);
  }
  const { hostId, version, config } = deps;
  return { now, hostId, version, registryLocation: deps.store.location, doc, registryError, summary, status, config };
}

const e = escapeHtml;

/** Refresh bounds: at least 5 s (a `* * * * * *` schedule would reload all the time), at most 5 min. */
const REFRESH_MIN_SEC = 5;
const REFRESH_MAX_SEC = 300;
/** When the schedule cannot be read (it was validated at start, so this is a safety net). */
const REFRESH_FALLBACK_SEC = 30;

/** How often the page reloads itself: the cycle interval of the scan schedule, within bounds. */
export function refreshSec(config: Pick<AgentConfig, 'scanSchedule'>): number {
  const interval = scheduleIntervalSec(config.scanSchedule) ?? REFRESH_FALLBACK_SEC;
  return Math.min(REFRESH_MAX_SEC, Math.max(REFRESH_MIN_SEC, interval));
}

interface Problem {
  what: string;
  message: string;
  tone: Tone;
  hint: string;
}

const REPAIR_HINT =
  'Nothing is changed while the registry is unreadable. ' +
  `${command('agent registry check')} names the problem; ` +
  `${command('agent registry repair')} restores the last good version.`;

/** Said wherever a value depends on the registry while it cannot be read. */
const UNKNOWN = '<p class="muted">Unknown: the registry cannot be read (see Problems).</p>';

/**
 * Every error the page knows, each once: the registry as read now, the last
 * cycle's errors and failed sources, and why the agent is not ready. One
 * fault reaches the page by several roads (the registry error is also the
 * cycle's error and the readiness reason): a message that contains or is
 * contained in one already listed is the same fault.
 */
export function problems(d: StatusPageData): Problem[] {
  const list: Problem[] = [];
  const add = (what: string, message: string, tone: Tone, hint = ''): void => {
    if (message === '' || list.some((p) => p.message.includes(message) || message.includes(p.message))) return;
    list.push({ what, message, tone, hint });
  };
  if (d.registryError !== null) add('Registry unreadable', d.registryError, 'bad', REPAIR_HINT);
  const cycle = d.status.lastCycle;
  for (const x of cycle?.errors ?? []) {
    add(x.source === 'registry' ? 'Registry' : x.source, x.message, x.source === 'evidence' ? 'warn' : 'bad');
  }
  for (const s of cycle?.sourceSync ?? []) if (!s.ok && s.error !== null) add(`source ${s.source}`, s.error, 'warn');
  // Before the first cycle "not ready" is the normal start, said by the cycle section.
  if (!d.status.ready && d.status.reason !== null && cycle !== null) add('Not ready', d.status.reason, 'bad');
  return list;
}

function problemsSection(list: readonly Problem[]): string {
  if (list.length === 0) return '';
  const items = list.map((p) => {
    const hint = p.hint === '' ? '' : `<br><small>${p.hint}</small>`;
    return `<li class="${p.tone === 'bad' ? 'error' : 'warn'}"><b>${e(p.what)}</b>: ${e(p.message)}${hint}</li>`;
  });
  return `<section class="problems"><h2>Problems</h2><ul class="errors">${items.join('')}</ul></section>`;
}

/** Who paused the queue, since and until when, which projects tripped the breaker, and how to resume. */
function pauseBox(d: StatusPageData, s: QueueSummary): string {
  if (!s.paused) return '';
  const byBreaker = s.pausedBy === PAUSED_BY_BREAKER;
  const who = byBreaker ? 'the queue breaker' : (s.pausedBy ?? 'someone');
  const ids = s.trippedBy.map((id) => `<b>${e(id)}</b>`).join(', ');
  const tripped = byBreaker && s.trippedBy.length > 0 ? `; tripped by ${ids}` : '';
  const resume = ms(s.resumeAt);
  const until = resume === null ? 'until resumed' : `until ${timeBoth(resume, d.now)}`;
  const pausedAt = ms(d.doc?.queue.pausedAt ?? null);
  const since = pausedAt === null ? '' : ` ${timeAgo(pausedAt, d.now)}`;
  return `<div class="pause"><p><b>Queue paused</b> by <b>${e(who)}</b>${since}, ${until}${tripped}. \
No launches and no retries meanwhile.</p>
<p>Resume now: ${command('agent queue resume')}</p></div>`;
}

/** What a usage limit holds (every launch of this host, or one project's next attempt), until its reset. */
function launchHoldLine(s: QueueSummary, now: number): string {
  const hold = s.launchHold;
  if (hold === null) return '';
  const what = hold.scope === 'host' ? 'No launch on this host' : `No new attempt of <b>${e(hold.project)}</b>`;
  const reset = ms(hold.until);
  const until = reset === null ? 'until its reset' : `until ${timeBoth(reset, now)}`;
  return `<div class="pause"><p><b>${what}</b> ${until}: a usage limit of <b>${e(hold.project)}</b> \
(<q>${e(hold.line)}</q>). It ends by itself at the reset.</p></div>`;
}

function healthTone(status: QueueSummary['health']['status']): Tone {
  if (status === 'blocked' || status === 'error') return 'bad';
  return status === 'paused' || status === 'waiting' || status === 'held' ? 'warn' : 'ok';
}

function queueSection(d: StatusPageData): string {
  const s = d.summary;
  if (s === null) return `<section><h2>Queue ${badge('unknown', 'muted')}</h2>${UNKNOWN}</section>`;
  const count = (state: (typeof PROJECT_STATES)[number]): string =>
    `<div class="count"><span class="n">${s.counts[state]}</span><span class="label">${e(state)}</span></div>`;
  const counts = PROJECT_STATES.map(count).join('');
  // A pause and a usage limit's hold are said by their own boxes, with who or what and until when.
  let reason = `<p>${e(s.health.reason)}</p>`;
  if (s.paused || (s.health.status === 'held' && s.launchHold !== null)) reason = '';
  else if (s.health.blocked) reason = `<p class="error">Queue blocked: ${e(s.health.reason)}</p>`;
  const b = s.breakers;
  const oldestAt = ms(s.oldestQueuedAt);
  const oldest = oldestAt === null ? '' : ` Oldest queued: enqueued ${timeAgo(oldestAt, d.now)}.`;
  const breakers = `Project breakers: closed ${b.closed}, open ${b.open}, half-open ${b.half_open}.`;
  return `<section><h2>Queue ${badge(s.health.status, healthTone(s.health.status))}</h2>
${reason}${pauseBox(d, s)}${launchHoldLine(s, d.now)}
<div class="counts">${counts}</div>
<p class="muted">${breakers}${oldest}</p></section>`;
}

function stuckSection(d: StatusPageData): string {
  const cycle = d.status.lastCycle;
  if (cycle === null) return '<section><h2>Stuck</h2><p class="muted">No cycle has completed yet.</p></section>';
  // "None" is only an answer when the last cycle saw everything and the registry reads now.
  const clear = cycle.ok && d.registryError === null;
  const unclear = 'the last cycle did not see everything (see Problems).';
  const rows = cycle.detections.map((x) => [
    detectionBadge(x.kind),
    e(x.project ?? '-'),
    e(x.session ?? '-'),
    e(x.pid ?? '-'),
    detectionText(x, d.now),
  ]);
  const partial = !clear && rows.length > 0 ? `<p class="warn">At least these: ${unclear}</p>` : '';
  const found = table(['Kind', 'Project', 'Session', 'PID', 'Reason'], rows, clear ? 'None.' : `Unknown: ${unclear}`);
  const heldBack = cycle.blocked.map((b) => [e(b.project ?? '-'), e(b.action), e(b.reason), e(b.detail)]);
  const guard = table(['Project', 'Action', 'Reason', 'Detail'], heldBack, '');
  const blocked = heldBack.length === 0 ? '' : `<h3>Held back by the guard</h3>${guard}`;
  return `<section><h2>Stuck (last cycle)</h2>${partial}${found}${blocked}</section>`;
}

function leaseLine(l: AgentStatus['leadership']): string {
  if (!l?.shared) return '';
  if (l.leader) return `<p>Leader lease: ${badge('leader', 'ok')} token ${e(l.token ?? '-')}</p>`;
  return `<p>Leader lease: ${badge('follower', 'warn')} held by ${e(l.holder ?? 'nobody')}</p>`;
}

function cycleSection(d: StatusPageData, problemCount: number): string {
  const c = d.status.lastCycle;
  const ready = d.status.ready ? badge('ready', 'ok') : badge('not ready', 'bad');
  const why = d.status.ready || problemCount === 0 ? '' : ' <span class="muted">(why: see Problems)</span>';
  const head = `<p>${ready}${why}</p>${leaseLine(d.status.leadership)}`;
  if (c === null) {
    return `<section><h2>Last cycle</h2>${head}<p class="muted">None yet (${e(d.status.cycles)} run).</p></section>`;
  }
  const errors = c.errors.length === 0 ? 'no errors' : `${countOf(c.errors.length, 'error')} (under Problems)`;
  const work = `${c.transitions.length} transitions, ${c.actions.length} actions, ${c.blocked.length} held back`;
  const took = `Started ${timeAgo(ms(c.startedAt), d.now)}, took ${e(c.durationMs)} ms`;
  return `<section><h2>Last cycle</h2>${head}
<p>${took}: ${work}, ${errors}; ${e(countOf(d.status.cycles, 'cycle'))} since start.</p></section>`;
}

function eventsSection(d: StatusPageData): string {
  const rows = Object.entries(d.status.events).map(([name, s]) => [
    e(name),
    s.up ? badge('up', 'ok') : badge('down', 'warn'),
    e(s.detail),
  ]);
  return `<section><h2>Event sources</h2>${table(['Source', 'State', 'Detail'], rows, 'None.')}</section>`;
}

function registrySections(d: StatusPageData): string {
  if (d.doc === null) return `<section><h2>Projects</h2>${UNKNOWN}</section>`;
  const view = { now: d.now, config: d.config, doc: d.doc, cycle: d.status.lastCycle, hostId: d.hostId };
  return `${projectsSection(view)}\n${stuckSection(d)}\n${completedSection(view)}`;
}

const NAV = ['/metrics', '/api/projects', '/api/stuck', '/readyz']
  .map((href) => `<a href="${href}">${href}</a>`)
  .join('');

export function renderStatusPage(d: StatusPageData): string {
  const refresh = refreshSec(d.config);
  const found = problems(d);
  const about = [`host ${e(d.hostId)}`, `version ${e(d.version)}`, `registry ${e(d.registryLocation)}`];
  const schedule = `scan schedule <code>${e(d.config.scanSchedule)}</code>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="${refresh}">
<title>tmux-orchestrator-agent on ${e(d.hostId)}</title>
<style>${STATUS_STYLE}</style>
</head>
<body>
<header><h1>tmux-orchestrator-agent</h1>${about.map((x) => `<span>${x}</span>`).join('')}
<nav>${NAV}</nav></header>
<main>
${problemsSection(found)}
${queueSection(d)}
${registrySections(d)}
${cycleSection(d, found.length)}
${eventsSection(d)}
<p class="muted">Rendered ${absolute(d.now)}; refreshes every ${refresh} s (${schedule}). \
Times are relative; hover one for the exact time.</p>
</main>
</body>
</html>
`;
}
