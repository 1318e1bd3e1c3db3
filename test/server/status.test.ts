import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/config/keys.js';
import { scheduleIntervalSec } from '../../src/config/schedule.js';
import { iso, newProject, type Project } from '../../src/core/model/project.js';
import { summariseQueue } from '../../src/core/views/queue-summary.js';
import { emptyDocument, type QueueBreakerRecord } from '../../src/core/model/registry-document.js';
import type { AgentStatus } from '../../src/server/app.js';
import { refreshSec, renderStatusPage } from '../../src/server/status-page.js';
import { COMPLETED_ROWS, PROJECT_ROWS } from '../../src/server/status-projects.js';
import { aCycleResult, aStatus, get, NOW, post, startServer, type Harness } from './harness.js';

describe('server: health, readiness and metrics', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startServer();
  });
  afterEach(() => h.close());

  it('answers /healthz with 200 ok', async () => {
    const r = await get(h, '/healthz');
    expect(r.status).to.equal(200);
    expect(r.text).to.equal('ok\n');
  });

  it('answers /readyz with 200 when ready', async () => {
    const r = await get(h, '/readyz');
    expect(r.status).to.equal(200);
    expect(r.json).to.include({ ready: true, reason: null });
  });

  it("answers /readyz with 503 and the status' reason when not ready", async () => {
    h.status.ready = false;
    h.status.reason = 'last cycle failed: tmux: tmux timed out after 5000 ms';
    const r = await get(h, '/readyz');
    expect(r.status).to.equal(503);
    expect(r.json).to.include({ ready: false, reason: 'last cycle failed: tmux: tmux timed out after 5000 ms' });
  });

  it('answers /readyz with 503 naming the registry error when the file broke since the last cycle', async () => {
    writeFileSync(h.registry, '{"version": 1, "projects": [{"id": "p1"}]}');
    const r = await get(h, '/readyz');
    expect(r.status).to.equal(503);
    expect(r.json.reason).to.match(/^registry unreadable: .*field "state"/);
  });

  it('passes the Prometheus text exposition through with its content type', async () => {
    const r = await get(h, '/metrics');
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.equal('text/plain; version=0.0.4; charset=utf-8');
    expect(r.text).to.equal(h.metrics.body);
    expect(h.metrics.asked).to.deep.equal([false]);
  });

  it('serves OpenMetrics when the Accept header asks for it (as Prometheus does)', async () => {
    const accept =
      'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const r = await get(h, '/metrics', { accept });
    expect(r.headers.get('content-type')).to.equal('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(h.metrics.asked).to.deep.equal([true]);
    await get(h, '/metrics', { accept: 'text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0' });
    expect(h.metrics.asked).to.deep.equal([true, false]);
  });

  it('answers 500 without the error or a stack when metrics cannot be rendered', async () => {
    h.metrics.fail = new Error('collector exploded at /secret/path');
    const r = await get(h, '/metrics');
    expect(r.status).to.equal(500);
    expect(r.json.error.message).to.equal('internal error; the agent log has the details');
    expect(r.text).not.to.include('/secret/path');
    expect(r.text).not.to.match(/\bat .*:\d+:\d+/);
    expect(h.logs.join('')).to.include('collector exploded');
  });
});

describe('server: status page', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startServer();
  });
  afterEach(() => h.close());

  it('shows counts, the last cycle, event sources and links', async () => {
    await post(h, '/api/projects', { id: 'q1' });
    h.status.lastCycle = aCycleResult({
      errors: [{ source: 'evidence', message: 'project q1: git evidence unavailable: timeout' }],
    });
    const r = await get(h, '/');
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.match(/^text\/html/);
    expect(r.headers.get('content-security-policy')).to.include("default-src 'none'");
    for (const text of [
      '>1</span><span class="label">queued',
      'took 42 ms',
      'git evidence unavailable: timeout',
      'registry_watch',
      'tmux not running',
    ]) {
      expect(r.text).to.include(text);
    }
    for (const link of ['/metrics', '/api/projects', '/api/stuck', '/readyz'])
      expect(r.text).to.include(`href="${link}"`);
    expect(r.text).not.to.match(/<script|<link|src=/i);
  });

  it('escapes project names, sessions and reasons', async () => {
    await post(h, '/api/projects', { id: 'p1', name: '<script>alert(1)</script>' });
    h.status.lastCycle = aCycleResult({
      detections: [
        {
          kind: 'orphan_session',
          project: null,
          session: 'x',
          tmuxSocket: null,
          pid: null,
          reason: 'session "<img src=x onerror=alert(1)>" & co',
        },
      ],
    });
    h.status.events['pid_probe'] = { up: false, detail: '<b>down</b>' };
    const r = await get(h, '/');
    expect(r.status).to.equal(200);
    expect(r.text).not.to.include('<script>alert(1)</script>');
    expect(r.text).to.include('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(r.text).not.to.include('<img');
    expect(r.text).to.include('&quot;&lt;img src=x onerror=alert(1)&gt;&quot; &amp; co');
    expect(r.text).to.include('&lt;b&gt;down&lt;/b&gt;');
  });

  it('shows a paused queue and an open breaker read from the registry file', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    const doc = JSON.parse(String(h.bytes()));
    doc.queue = {
      paused: true,
      pausedAt: '2026-11-26T09:50:00.000Z',
      resumeAt: '2026-11-26T10:20:00.000Z',
      opens: 1,
      trippedBy: ['f1', 'f2'],
      pausedBy: 'breaker',
    };
    doc.projects[0].breaker = { state: 'open', consecutiveFailures: 3, openedAt: '2026-11-26T09:59:00.000Z', opens: 1 };
    writeFileSync(h.registry, JSON.stringify(doc));
    const r = await get(h, '/');
    expect(text(r.text)).to.include('until in 20m 0s 2026-11-26 10:20:00 UTC; tripped by f1, f2');
    expect(text(cellOf(rowOf(r.text, 'p1'), 'Breaker'))).to.equal(
      'open 3 failures in a row half-opens in 29m 0s 2026-11-26 10:29:00 UTC',
    );
  });

  it('shows the registry error instead of crashing when the file is corrupt', async () => {
    writeFileSync(h.registry, '{"version": 1, "projects": [');
    h.status.ready = false;
    h.status.reason = 'registry unreadable: not valid JSON';
    const r = await get(h, '/');
    expect(r.status).to.equal(200);
    expect(r.text).to.include('Registry unreadable');
    expect(r.text).to.include('not valid JSON');
    expect(r.text).to.include('agent registry repair');
    expect((await get(h, '/healthz')).status).to.equal(200);
    expect((await get(h, '/readyz')).status).to.equal(503);
  });

  it('renders before the first cycle', async () => {
    h.status.lastCycle = null;
    h.status.lastCycleAt = null;
    const r = await get(h, '/');
    expect(r.status).to.equal(200);
    expect(r.text).to.include('No cycle has completed yet');
  });
});

describe('server: metrics content negotiation', () => {
  it('asks for OpenMetrics only when it is named with at least the weight of text', async () => {
    const { wantsOpenMetrics } = await import('../../src/server/app.js');
    const cases: [string | undefined, boolean][] = [
      [undefined, false],
      ['*/*', false],
      ['text/html,application/xhtml+xml,*/*;q=0.8', false],
      ['application/openmetrics-text', true],
      [
        'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1',
        true,
      ],
      ['text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0', false],
      ['application/openmetrics-text;q=0.5,text/plain;q=0.1,*/*;q=0.9', true],
      ['application/openmetrics-text;q=0.5,*/*', false],
    ];
    for (const [accept, expected] of cases) expect(wantsOpenMetrics(accept), String(accept)).to.equal(expected);
  });
});

/** The page rendered from plain values, at NOW (2026-11-26T10:00:00Z). */
function page(
  fields: {
    projects?: Project[];
    queue?: Partial<QueueBreakerRecord>;
    status?: Partial<AgentStatus>;
    registryError?: string;
    config?: Partial<AgentConfig>;
  } = {},
): string {
  const config: AgentConfig = { ...DEFAULT_CONFIG, ...fields.config };
  const doc = { ...emptyDocument(), projects: fields.projects ?? [] };
  doc.queue = { ...doc.queue, ...fields.queue };
  const unreadable = fields.registryError !== undefined;
  return renderStatusPage({
    now: NOW,
    hostId: 'h1',
    version: '0.0.0-test',
    registryLocation: '/srv/registry.json',
    doc: unreadable ? null : doc,
    registryError: fields.registryError ?? null,
    summary: unreadable ? null : summariseQueue(doc, config, NOW),
    status: aStatus(fields.status),
    config,
  });
}

/** A project `minAgo` minutes into its state at NOW, with history saying so. */
function aListed(fields: Partial<Project> & { id: string }, minAgo = 10): Project {
  const since = iso(NOW - minAgo * 60_000);
  const state = fields.state ?? 'processing';
  return newProject({
    enqueuedAt: iso(NOW - 3_600_000),
    attempts: 1,
    history: [
      {
        at: since,
        from: state === 'processing' ? 'queued' : state === 'queued' ? 'failed' : 'processing',
        to: state,
        reason: `moved to ${state}`,
        by: 'agent@h1',
      },
    ],
    ...fields,
    state,
  });
}

/** The table row of project `id` (its cells up to the next row). */
function rowOf(html: string, id: string): string {
  const row = html
    .split('<tr>')
    .slice(1)
    .find((r) => r.includes(`<b>${id}</b>`));
  if (row === undefined) throw new Error(`no row for ${id} in the page`);
  return row.split('</tr>')[0] ?? '';
}

/** The content of a row's cell under `header`. */
function cellOf(row: string, header: string): string {
  const start = row.indexOf(`<td data-label="${header}"><div>`);
  if (start < 0) throw new Error(`no ${header} cell in ${row}`);
  return row.slice(start, row.indexOf('</td>', start));
}

/** The text of some HTML: its head left out, tags dropped (block ones as a blank), entities of escaping undone, blanks squeezed. */
function text(html: string): string {
  return html
    .replace(/<head>[\s\S]*<\/head>/, '')
    .replace(/<\/?(br|p|div|li|ul|td|th|tr|h\d|section|pre|summary|details|header|main|title)\b[^>]*>/g, ' ')
    .replace(/<[^>]*>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
}

describe('status page: why a project is where it is', () => {
  it("shows a failed command's reason, exit status and last output lines", () => {
    const crash = aListed({
      id: 'crash',
      state: 'failed',
      failureReason: 'exit_status',
      exitStatus: 3,
      lastOutput: ['loading', 'fatal: API key expired'],
      endedAt: iso(NOW - 600_000),
    });
    const row = rowOf(page({ projects: [crash] }), 'crash');
    expect(text(row)).to.include('exit_status exit status 3');
    expect(row).to.match(
      /<summary>last 2 output lines: <code>fatal: API key expired<\/code><\/summary><pre>loading\nfatal: API key expired<\/pre>/,
    );
  });

  it("shows the reason sentence of a failure without an exit status, and a requeued project's previous failure", () => {
    const history = [
      {
        at: iso(NOW - 60_000),
        from: 'processing' as const,
        to: 'failed' as const,
        reason: 'phantom: neither pid 1000 nor session w-1 alive for 900s',
        by: 'agent@h1',
      },
    ];
    const gone = aListed({ id: 'gone', state: 'failed', failureReason: 'phantom', history });
    const again = aListed({
      id: 'again',
      state: 'queued',
      failureReason: 'exit_status',
      exitStatus: 2,
      command: ['x'],
    });
    const html = page({ projects: [gone, again] });
    expect(text(rowOf(html, 'gone'))).to.include('phantom neither pid 1000 nor session w-1 alive for 900s');
    expect(text(rowOf(html, 'again'))).to.include('previous attempt: exit_status exit status 2');
  });

  it('shows since when a project is in its state and its runtime, the absolute time on hover', () => {
    const p = aListed({ id: 'p1', startedAt: iso(NOW - 125_000) }, 2);
    const row = rowOf(page({ projects: [p] }), 'p1');
    expect(row).to.include(
      'since <time datetime="2026-11-26T09:58:00.000Z" title="2026-11-26 09:58:00 UTC">2m 0s ago</time>',
    );
    expect(row).to.match(
      /<span class="nowrap" title="running since 2026-11-26 09:57:55 UTC – 2026-11-26 10:00:00 UTC">2m 5s<\/span>/,
    );
  });

  it('shows attempts against the maximum', () => {
    const row = rowOf(page({ projects: [aListed({ id: 'p1', attempts: 2, maxAttempts: 4 })] }), 'p1');
    expect(row).to.include('<div>2/4</div>');
  });

  it('shows a scheduled retry relative and absolute', () => {
    const p = aListed({ id: 'p1', state: 'failed', failureReason: 'phantom', nextAttemptAt: iso(NOW + 12_000) });
    const row = rowOf(page({ projects: [p] }), 'p1');
    expect(row).to.include(
      '<time datetime="2026-11-26T10:00:12.000Z" title="2026-11-26 10:00:12 UTC">in 12s</time> <small class="abs">2026-11-26 10:00:12 UTC</small>',
    );
  });

  it('shows a retry held by the open breaker, until it half-opens, and the breaker with its failures', () => {
    const breaker = { state: 'open' as const, consecutiveFailures: 3, openedAt: iso(NOW - 60_000), opens: 1 };
    const p = aListed({
      id: 'p1',
      state: 'failed',
      failureReason: 'phantom',
      attempts: 3,
      nextAttemptAt: iso(NOW - 30_000),
      breaker,
    });
    const t = text(rowOf(page({ projects: [p] }), 'p1'));
    expect(t).to.include('held breaker open until the breaker half-opens in 29m 0s 2026-11-26 10:29:00 UTC');
    expect(t).to.include('open 3 failures in a row half-opens in 29m 0s');
    // The retry fell due 30 s ago, but it is held: never "30s ago" as the next attempt.
    expect(cellOf(rowOf(page({ projects: [p] }), 'p1'), 'Next attempt')).not.to.include('ago');
  });

  it('shows a retry held by the paused queue, until when, and one that will never come', () => {
    const held = aListed({ id: 'held', state: 'failed', failureReason: 'phantom', nextAttemptAt: iso(NOW - 1000) });
    const spent = aListed({ id: 'spent', state: 'failed', failureReason: 'phantom', attempts: 5 });
    const html = page({
      projects: [held, spent],
      queue: { paused: true, pausedAt: iso(NOW - 60_000), resumeAt: iso(NOW + 1_800_000), pausedBy: 'breaker' },
    });
    expect(text(rowOf(html, 'held'))).to.include('held queue paused until in 30m 0s 2026-11-26 10:30:00 UTC');
    expect(text(rowOf(html, 'spent'))).to.include('never attempts exhausted (5 of 5)');
  });

  it('says what a queued project waits for', () => {
    const html = page({
      projects: [
        aListed({ id: 'cmd', state: 'queued', command: ['sleep', '1'] }),
        aListed({ id: 'ext', state: 'queued' }),
      ],
    });
    expect(text(rowOf(html, 'cmd'))).to.include('at the next free launch slot');
    expect(text(rowOf(html, 'ext'))).to.include('when its orchestrator reports a start');
  });

  it('shows stale markers as never evidence', () => {
    const p = aListed({
      id: 'p1',
      staleMarkers: [{ method: 'marker', file: 'COMPLETED', modifiedAt: iso(NOW - 7_200_000) }],
    });
    expect(text(rowOf(page({ projects: [p] }), 'p1'))).to.include(
      'stale marker COMPLETED modified 2h 0m ago, before this attempt started: never evidence',
    );
  });

  it('shows a reported heartbeat with its age, else when the agent last saw the project alive, and says which', () => {
    const beat = aListed({ id: 'beat', heartbeatAt: iso(NOW - 30_000), lastSeenAliveAt: iso(NOW - 5000) });
    const seen = aListed({ id: 'seen', lastSeenAliveAt: iso(NOW - 45_000) });
    const html = page({
      projects: [beat, seen],
      status: { lastCycle: aCycleResult({ usage: { beat: { cpuRatio: 0.25, rssBytes: 64 * 1_048_576 } } }) },
    });
    expect(text(rowOf(html, 'beat'))).to.include('30s ago reported heartbeat cpu 25% · 64 MiB (last cycle)');
    expect(text(rowOf(html, 'seen'))).to.include('45s ago seen alive by the agent (no heartbeat reported)');
  });

  it('shows what the last cycle detected about a project, a kind it does not know by its name', () => {
    const detections = [
      {
        kind: 'heartbeat_stale' as const,
        project: 'p1',
        session: 'w-1',
        tmuxSocket: null,
        pid: 1,
        reason: 'last heartbeat or pane activity 700s ago',
      },
      {
        kind: 'future_kind' as never,
        project: 'p1',
        session: 'w-1',
        tmuxSocket: null,
        pid: 1,
        reason: 'something new',
      },
    ];
    const row = rowOf(
      page({
        projects: [aListed({ id: 'p1', heartbeatAt: iso(NOW - 700_000) })],
        status: { lastCycle: aCycleResult({ detections }) },
      }),
      'p1',
    );
    expect(text(row)).to.include('heartbeat stale last heartbeat or pane activity 700s ago');
    expect(text(row)).to.include('future kind something new');
    expect(row).to.include('<span class="warn">');
  });

  it("shows an agent's prompt with the line, since when, and until when the timeout clock is paused", () => {
    const prompt = {
      kind: 'awaiting_input' as const,
      project: 'p1',
      session: 'w-1',
      tmuxSocket: null,
      pid: 1,
      reason: '│ Do you want to proceed? <b>',
      agent: 'claude-code',
      since: iso(NOW - 120_000),
      until: iso(NOW + 3_600_000),
    };
    const html = page({
      projects: [aListed({ id: 'p1' })],
      status: { lastCycle: aCycleResult({ detections: [prompt] }) },
    });
    const row = text(rowOf(html, 'p1'));
    expect(row).to.include('waiting on a prompt │ Do you want to proceed? <b>');
    expect(row).to.include(
      'claude-code asks since 2m 0s ago; never killed for it; timeout clock paused until in 1h 0m',
    );
    expect(html).to.include('<span class="badge bad">waiting on a prompt</span>');
    expect(text(html.slice(html.indexOf('<h2>Stuck')))).to.include('claude-code asks since 2m 0s ago');
  });

  it('shows a usage limit with its reset, holds launches in the queue section until then, and says so for a queued project', () => {
    const resetAt = iso(NOW + 5_400_000);
    const agentActivity = {
      finding: {
        kind: 'rate_limited' as const,
        agent: 'claude-code',
        line: "You've hit your session limit · resets 5:40pm (Europe/Berlin)",
        since: iso(NOW - 60_000),
        resetAt,
        resetFrom: 'text' as const,
      },
      progress: null,
      pausedMs: 0,
    };
    const limited = aListed({ id: 'lim', host: 'h1', agentActivity, session: 'w-lim' });
    const waiting = aListed({ id: 'next', state: 'queued', command: ['true'] });
    const detection = {
      kind: 'rate_limited' as const,
      project: 'lim',
      session: 'w-lim',
      tmuxSocket: null,
      pid: 1,
      reason: agentActivity.finding.line,
      agent: 'claude-code',
      since: agentActivity.finding.since,
      until: resetAt,
    };
    const html = page({
      projects: [limited, waiting],
      status: { lastCycle: aCycleResult({ detections: [detection] }) },
    });
    expect(text(html)).to.include('Queue held No launch on this host until in 1h 30m 2026-11-26 11:30:00 UTC');
    expect(html).to.include('<h2>Queue <span class="badge warn">held</span></h2>');
    expect(text(html)).to.include(
      "a usage limit of lim (You've hit your session limit · resets 5:40pm (Europe/Berlin)). It ends by itself at the reset.",
    );
    expect(text(rowOf(html, 'lim'))).to.include(
      "usage limit You've hit your session limit · resets 5:40pm (Europe/Berlin) claude-code usage limit since 1m 0s ago; resets in 1h 30m",
    );
    expect(text(rowOf(html, 'next'))).to.include('held usage limit (project lim) until the reset in 1h 30m');
  });

  it('shows the source of an imported project', () => {
    const source = {
      kind: 'tmux-orchestrator' as const,
      name: 'main',
      ref: '12',
      status: 'credit_paused',
      heal: false,
    };
    expect(text(rowOf(page({ projects: [aListed({ id: 'to-12', source })] }), 'to-12'))).to.include(
      'imported from tmux-orchestrator source main (12), status credit_paused',
    );
  });

  it('lists the last completed projects newest first behind a collapsed summary', () => {
    const done = Array.from({ length: COMPLETED_ROWS + 5 }, (_, i) =>
      aListed({ id: `d${i}`, state: 'completed', endedAt: iso(NOW - (i + 1) * 60_000) }),
    );
    const html = page({ projects: done });
    const completed = html.slice(html.indexOf('<details><summary><h2>Completed'));
    expect(completed).to.match(
      new RegExp(
        `^<details><summary><h2>Completed \\(the last ${COMPLETED_ROWS} of ${COMPLETED_ROWS + 5}\\)</h2></summary>`,
      ),
    );
    expect(completed.indexOf('<b>d0</b>')).to.be.below(completed.indexOf('<b>d1</b>'));
    expect(completed).to.include(`<b>d${COMPLETED_ROWS - 1}</b>`);
    expect(completed).not.to.include(`<b>d${COMPLETED_ROWS}</b>`);
    expect(text(rowOf(html, 'd0'))).to.include('1m 0s ago');
    expect(html).to.include('Projects (not completed)');
  });

  it(`lists at most ${PROJECT_ROWS} projects and says how many more of each state are where`, () => {
    const many = Array.from({ length: PROJECT_ROWS + 30 }, (_, i) =>
      aListed({ id: `q${String(i).padStart(3, '0')}`, state: i < 20 ? 'failed' : 'queued' }),
    );
    const html = page({ projects: many });
    expect((html.match(/<tr><td data-label="Project">/g) ?? []).length).to.equal(PROJECT_ROWS);
    expect(html).to.include(`Projects (${PROJECT_ROWS} of ${PROJECT_ROWS + 30} not completed)`);
    expect(html).to.include('30 more projects not shown (<a href="/api/projects?state=queued">30 queued</a>)');
    expect(html).to.include('<code class="cmd">agent status</code> lists them all');
    // Failed projects come before the queue, so a long queue does not hide them.
    expect(html).to.include('<b>q000</b>');
  });
});

describe('status page: queue, errors and refresh', () => {
  it('shows who tripped a breaker pause, until when, and a copyable resume command', () => {
    const html = page({
      queue: {
        paused: true,
        pausedAt: iso(NOW - 300_000),
        resumeAt: iso(NOW + 1_500_000),
        trippedBy: ['f1', 'f2'],
        pausedBy: 'breaker',
      },
    });
    expect(text(html)).to.include(
      'Queue paused by the queue breaker 5m 0s ago, until in 25m 0s 2026-11-26 10:25:00 UTC; tripped by f1, f2.',
    );
    expect(html).to.include('Resume now: <code class="cmd">agent queue resume</code>');
    expect(html).to.include('user-select:all');
  });

  it('shows who paused the queue by hand, until resumed', () => {
    const html = page({
      queue: { paused: true, pausedAt: iso(NOW - 60_000), resumeAt: null, trippedBy: ['old'], pausedBy: 'cli@ops-1' },
    });
    expect(text(html)).to.include('Queue paused by cli@ops-1 1m 0s ago, until resumed.');
    expect(text(html)).not.to.include('tripped by');
    expect(html).to.include('<code class="cmd">agent queue resume</code>');
  });

  it('says "unknown", never "none", when the registry cannot be read, and shows each error once', () => {
    const error = 'registry /srv/registry.json is not valid JSON: Unexpected end of JSON input';
    const html = page({
      registryError: error,
      status: {
        ready: false,
        reason: `registry unreadable: ${error}`,
        lastCycle: aCycleResult({
          ok: false,
          errors: [
            { source: 'registry', message: error },
            { source: 'tmux', message: 'tmux timed out after 5000 ms' },
          ],
        }),
      },
    });
    expect(html.split('Unexpected end of JSON input').length - 1).to.equal(1);
    expect(html.split('tmux timed out after 5000 ms').length - 1).to.equal(1);
    expect(text(html)).to.include('Registry unreadable: registry /srv/registry.json is not valid JSON');
    expect(html).to.include('agent registry repair');
    expect(text(html)).to.include('Queue unknown Unknown: the registry cannot be read');
    expect(text(html)).to.include('Projects Unknown: the registry cannot be read');
    expect(text(html)).not.to.match(/\bnone\b/i);
  });

  it('says the stuck list is unknown when the last cycle did not see everything', () => {
    const html = page({
      status: {
        ready: false,
        reason: 'last cycle failed: tmux: no such socket',
        lastCycle: aCycleResult({ ok: false, errors: [{ source: 'tmux', message: 'no such socket' }] }),
      },
    });
    expect(text(html)).to.include('Stuck (last cycle) Unknown: the last cycle did not see everything');
    expect(html.split('no such socket').length - 1).to.equal(1);
  });

  it('refreshes at the interval of the scan schedule, within bounds', () => {
    expect(page()).to.include('<meta http-equiv="refresh" content="15">');
    expect(page({ config: { scanSchedule: '0 */2 * * * *' } })).to.include('<meta http-equiv="refresh" content="120">');
    expect(refreshSec({ scanSchedule: '* * * * * *' })).to.equal(5);
    expect(refreshSec({ scanSchedule: '0 0 * * * *' })).to.equal(300);
    expect(refreshSec({ scanSchedule: 'not a schedule' })).to.equal(30);
  });

  it('escapes every value from the registry and the cycle', () => {
    const x = '<img src=x onerror=alert(1)>';
    const p = aListed({
      id: 'p1',
      name: x,
      state: 'failed',
      failureReason: x,
      exitStatus: 1,
      lastOutput: [x],
      session: 'w-1',
      staleMarkers: [{ method: 'marker', file: x, modifiedAt: iso(NOW - 1000) }],
      source: { kind: 'tmux-sessions', name: x, ref: x, status: x, heal: false },
    });
    const html = page({
      projects: [
        p,
        aListed({
          id: 'c1',
          state: 'completed',
          name: x,
          completion: {
            decision: 'completed',
            at: iso(NOW),
            score: 1,
            evidence: [{ method: 'exit', weight: 1, detail: x }],
          },
        }),
      ],
      queue: { paused: true, pausedAt: iso(NOW), resumeAt: null, pausedBy: x },
      status: {
        lastCycle: aCycleResult({
          errors: [{ source: 'evidence', message: x }],
          detections: [{ kind: 'zombie', project: 'p1', session: x, tmuxSocket: null, pid: 1, reason: x }],
        }),
      },
    });
    expect(html).not.to.match(/<img|<script|<link/i);
    expect(html).to.include('&lt;img src=x onerror=alert(1)&gt;');
  });
});

describe('scheduleIntervalSec', () => {
  it('is the longest gap between two runs of the schedule over a day', () => {
    expect(scheduleIntervalSec('*/15 * * * * *')).to.equal(15);
    expect(scheduleIntervalSec('0 */5 * * * *')).to.equal(300);
    expect(scheduleIntervalSec('*/5 * * * *')).to.equal(300);
    expect(scheduleIntervalSec('5,20,50 * * * * *')).to.equal(30);
    expect(scheduleIntervalSec('0 0 * * * *')).to.equal(3600);
    expect(scheduleIntervalSec('0 30 2 * * *')).to.equal(86_400);
    expect(scheduleIntervalSec('nonsense')).to.equal(null);
  });
});
