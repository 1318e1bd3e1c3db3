/**
 * The status page at `/`: one self-contained HTML document (inline CSS, no
 * script, no external asset) for a person glancing at the queue. Every value
 * from the registry or the last cycle (ids, names, sessions, reasons, error
 * messages) is user data and goes through `escapeHtml`. An unreadable
 * registry is shown as the error it is; the rest of the page still renders.
 */
import { currentState, halfOpensAt } from '../core/breaker.js';
import { PROJECT_STATES, type Project } from '../core/project.js';
import { summariseQueue, type QueueSummary } from '../core/queue-summary.js';
import type { RegistryDocument } from '../core/registry-document.js';
import { messageOf } from '../errors.js';
import { displayOrder } from '../core/project-view.js';
import type { AgentStatus, ServerDeps } from './app.js';
import { agentActivitySection, launchHoldLine } from './status-page-activity.js';

/** Projects listed on the page; the rest are at /api/projects. */
const PROJECT_ROWS = 100;

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

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
  return { now, hostId: deps.hostId, version: deps.version, registryLocation: deps.store.location, doc, registryError, summary, status, config: deps.config };
}

const e = escapeHtml;

function table(headers: string[], rows: string[][]): string {
  if (rows.length === 0) return '<p class="muted">none</p>';
  const head = headers.map((h) => `<th>${e(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function badge(text: string, tone: 'ok' | 'warn' | 'bad' | 'muted'): string {
  return `<span class="badge ${tone}">${e(text)}</span>`;
}

function queueSection(d: StatusPageData): string {
  if (d.registryError !== null || d.summary === null) {
    return `<section><h2>Queue</h2><p class="error">Registry unreadable: ${e(d.registryError)}</p>
<p class="muted">Nothing is changed while the registry is unreadable. <code>agent registry check</code> names the problem; <code>agent registry repair</code> restores the last good version.</p></section>`;
  }
  const s = d.summary;
  const tone = s.health.status === 'blocked' || s.health.status === 'error' ? 'bad' : s.health.status === 'paused' || s.health.status === 'waiting' ? 'warn' : 'ok';
  const counts = PROJECT_STATES.map((state) => `<div class="count"><span class="n">${s.counts[state]}</span><span class="label">${e(state)}</span></div>`).join('');
  const paused = s.paused
    ? `<p class="warn">Queue paused by the queue breaker until ${e(s.resumeAt ?? '?')}; tripped by ${e(s.trippedBy.join(', ') || '-')}.</p>`
    : '';
  const blocked = s.health.blocked ? `<p class="error">Queue blocked: ${e(s.health.reason)}</p>` : '';
  return `<section><h2>Queue ${badge(s.health.status, tone)}</h2>
<p>${e(s.health.reason)}</p>${paused}${launchHoldLine(s)}${blocked}
<div class="counts">${counts}</div>
<p class="muted">Oldest queued: ${e(s.oldestQueuedAt ?? '-')}</p></section>`;
}

function stuckSection(d: StatusPageData): string {
  const cycle = d.status.lastCycle;
  if (cycle === null) return '<section><h2>Stuck</h2><p class="muted">No cycle has completed yet.</p></section>';
  const rows = cycle.detections.map((x) => [e(x.kind), e(x.project ?? '-'), e(x.session ?? '-'), e(x.pid ?? '-'), e(x.reason)]);
  const blocked = cycle.blocked.length === 0 ? '' : `<h3>Held back by the guard</h3>${table(['Project', 'Action', 'Reason', 'Detail'], cycle.blocked.map((b) => [e(b.project ?? '-'), e(b.action), e(b.reason), e(b.detail)]))}`;
  return `<section><h2>Stuck (last cycle)</h2>${table(['Kind', 'Project', 'Session', 'PID', 'Reason'], rows)}${blocked}</section>`;
}

function breakerSection(d: StatusPageData): string {
  if (d.doc === null || d.summary === null) return '';
  const b = d.summary.breakers;
  const notClosed = d.doc.projects
    .map((p) => ({ p, state: currentState(p.breaker, d.now, d.config) }))
    .filter((x) => x.state !== 'closed')
    .map(({ p, state }) => {
      const at = halfOpensAt(p.breaker, d.config);
      return [e(p.id), badge(state, state === 'open' ? 'bad' : 'warn'), e(p.breaker.consecutiveFailures), e(state === 'open' && at !== null ? new Date(at).toISOString() : '-')];
    });
  return `<section><h2>Circuit breakers</h2>
<p>closed ${b.closed}, open ${b.open}, half-open ${b.half_open}; queue breaker ${d.summary.paused ? badge('open (paused)', 'bad') : badge('closed', 'ok')}</p>
${notClosed.length === 0 ? '' : table(['Project', 'Breaker', 'Consecutive failures', 'Half-opens at'], notClosed)}</section>`;
}

function projectsSection(d: StatusPageData): string {
  if (d.doc === null) return '';
  const shown = displayOrder(d.doc.projects.filter((p) => p.state !== 'completed'));
  const rows = shown.slice(0, PROJECT_ROWS).map((p: Project) => [
    e(p.id),
    e(p.name ?? ''),
    e(p.state),
    e(`${p.attempts}/${p.maxAttempts ?? d.config.retryMaxAttempts}`),
    e(p.session ?? '-'),
    e(p.pid ?? '-'),
    e(p.heartbeatAt ?? '-'),
    e(p.failureReason ?? ''),
  ]);
  const more = shown.length > PROJECT_ROWS ? `<p class="muted">${shown.length - PROJECT_ROWS} more at <a href="/api/projects">/api/projects</a>.</p>` : '';
  return `<section><h2>Projects (not completed)</h2>${table(['ID', 'Name', 'State', 'Attempts', 'Session', 'PID', 'Heartbeat', 'Failure'], rows)}${more}</section>`;
}

function cycleSection(d: StatusPageData): string {
  const c = d.status.lastCycle;
  const l = d.status.leadership;
  const lease = l?.shared ? `<p>Leader lease: ${l.leader ? badge('leader', 'ok') : badge('follower', 'warn')} ${l.leader ? `token ${e(l.token ?? '-')}` : `held by ${e(l.holder ?? 'nobody')}`}</p>` : '';
  const head = `<p>${d.status.ready ? badge('ready', 'ok') : badge('not ready', 'bad')} ${d.status.reason === null ? '' : e(d.status.reason)}</p>${lease}`;
  if (c === null) return `<section><h2>Last cycle</h2>${head}<p class="muted">None yet (${e(d.status.cycles)} run).</p></section>`;
  const errors = c.errors.length === 0 ? '<p class="muted">No errors.</p>' : `<ul class="errors">${c.errors.map((x) => `<li><b>${e(x.source)}</b>: ${e(x.message)}</li>`).join('')}</ul>`;
  return `<section><h2>Last cycle</h2>${head}
<p>Started ${e(c.startedAt)}, took ${e(c.durationMs)} ms; ${e(c.transitions.length)} transitions, ${e(c.actions.length)} actions, ${e(c.blocked.length)} held back; ${e(d.status.cycles)} cycles since start.</p>
${errors}</section>`;
}

function eventsSection(d: StatusPageData): string {
  const rows = Object.entries(d.status.events).map(([name, s]) => [e(name), s.up ? badge('up', 'ok') : badge('down', 'warn'), e(s.detail)]);
  return `<section><h2>Event sources</h2>${table(['Source', 'State', 'Detail'], rows)}</section>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:12px 24px;display:flex;flex-wrap:wrap;gap:16px;align-items:baseline}
header h1{font-size:18px;margin:0}header span{opacity:.75}header nav{margin-left:auto}header a{color:#9cc4ff;margin-left:12px}
main{max-width:1100px;margin:0 auto;padding:16px 24px}
section{background:#fff;border:1px solid #e1e4ea;border-radius:6px;padding:12px 16px;margin:12px 0}
h2{font-size:16px;margin:0 0 8px}h3{font-size:14px;margin:12px 0 6px}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top;word-break:break-word}
th{color:#5b6372;font-weight:600}
.counts{display:flex;flex-wrap:wrap;gap:8px}.count{border:1px solid #e1e4ea;border-radius:6px;padding:6px 12px;min-width:80px}
.count .n{display:block;font-size:20px;font-weight:600}.count .label{color:#5b6372;font-size:12px}
.badge{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600}
.badge.ok{background:#dff3e4;color:#1a7f37}.badge.warn{background:#fff1d6;color:#9a6700}.badge.bad{background:#ffe0e0;color:#b42318}.badge.muted{background:#eef0f3;color:#5b6372}
.error{color:#b42318}.warn{color:#9a6700}.muted{color:#5b6372}code{background:#eef0f3;padding:0 4px;border-radius:3px}
ul.errors{margin:4px 0;padding-left:20px;color:#b42318}
`;

export function renderStatusPage(d: StatusPageData): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="30">
<title>tmux-orchestrator-agent on ${e(d.hostId)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><h1>tmux-orchestrator-agent</h1><span>host ${e(d.hostId)}</span><span>version ${e(d.version)}</span><span>registry ${e(d.registryLocation)}</span>
<nav><a href="/metrics">/metrics</a><a href="/api/projects">/api/projects</a><a href="/api/stuck">/api/stuck</a><a href="/readyz">/readyz</a></nav></header>
<main>
${queueSection(d)}
${stuckSection(d)}
${agentActivitySection(d.status.lastCycle?.detections ?? null)}
${breakerSection(d)}
${cycleSection(d)}
${eventsSection(d)}
${projectsSection(d)}
<p class="muted">Rendered ${e(new Date(d.now).toISOString())}; refreshes every 30 s.</p>
</main>
</body>
</html>
`;
}
