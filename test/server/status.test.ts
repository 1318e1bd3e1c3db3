import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { aCycleResult, get, post, startServer, type Harness } from './harness.js';

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
    const accept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
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
    h.status.lastCycle = aCycleResult({ errors: [{ source: 'evidence', message: 'project q1: git evidence unavailable: timeout' }] });
    const r = await get(h, '/');
    expect(r.status).to.equal(200);
    expect(r.headers.get('content-type')).to.match(/^text\/html/);
    expect(r.headers.get('content-security-policy')).to.include("default-src 'none'");
    for (const text of ['>1</span><span class="label">queued', 'took 42 ms', 'git evidence unavailable: timeout', 'registry_watch', 'tmux not running']) {
      expect(r.text).to.include(text);
    }
    for (const link of ['/metrics', '/api/projects', '/api/stuck', '/readyz']) expect(r.text).to.include(`href="${link}"`);
    expect(r.text).not.to.match(/<script|<link|src=/i);
  });

  it('escapes project names, sessions and reasons', async () => {
    await post(h, '/api/projects', { id: 'p1', name: '<script>alert(1)</script>' });
    h.status.lastCycle = aCycleResult({
      detections: [{ kind: 'orphan_session', project: null, session: 'x', tmuxSocket: null, pid: null, reason: 'session "<img src=x onerror=alert(1)>" & co' }],
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

  it('shows paused and open breakers with their reasons', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    const doc = JSON.parse(String(h.bytes()));
    doc.queue = { paused: true, pausedAt: '2026-11-26T09:50:00.000Z', resumeAt: '2026-11-26T10:20:00.000Z', opens: 1, trippedBy: ['f1', 'f2'] };
    doc.projects[0].breaker = { state: 'open', consecutiveFailures: 3, openedAt: '2026-11-26T09:59:00.000Z', opens: 1 };
    writeFileSync(h.registry, JSON.stringify(doc));
    const r = await get(h, '/');
    expect(r.text).to.include('until 2026-11-26T10:20:00.000Z; tripped by f1, f2');
    expect(r.text).to.include('open (paused)');
    expect(r.text).to.match(/<td>p1<\/td><td><span class="badge bad">open<\/span><\/td><td>3<\/td>/);
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
      ['application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1', true],
      ['text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0', false],
      ['application/openmetrics-text;q=0.5,text/plain;q=0.1,*/*;q=0.9', true],
      ['application/openmetrics-text;q=0.5,*/*', false],
    ];
    for (const [accept, expected] of cases) expect(wantsOpenMetrics(accept), String(accept)).to.equal(expected);
  });
});
