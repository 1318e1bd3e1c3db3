import { expect } from 'chai';
import { aCycleResult, get, post, startServer, type Harness } from './harness.js';

describe('server: read API', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await startServer();
    await post(h, '/api/projects', { id: 'q1', name: 'first', priority: 1 });
    await post(h, '/api/projects', { id: 'q2' });
    await post(h, '/api/projects', { id: 'p1' });
    await post(h, '/api/projects/p1/start', { pid: h.pid, session: 'w-1' });
  });
  afterEach(() => h.close());

  it('lists projects without a token, in display order', async () => {
    const r = await get(h, '/api/projects');
    expect(r.status).to.equal(200);
    expect(r.json.count).to.equal(3);
    expect(r.json.projects.map((p: { id: string }) => p.id)).to.deep.equal(['q1', 'q2', 'p1']);
    expect(r.json.projects[2]).to.include({
      id: 'p1',
      state: 'processing',
      session: 'w-1',
      pid: h.pid,
      breaker: 'closed',
    });
  });

  it('filters by state', async () => {
    const r = await get(h, '/api/projects?state=processing');
    expect(r.status).to.equal(200);
    expect(r.json.projects.map((p: { id: string }) => p.id)).to.deep.equal(['p1']);
  });

  it('refuses an unknown state or query parameter with 400 naming it', async () => {
    const bad = await get(h, '/api/projects?state=running');
    expect(bad.status).to.equal(400);
    expect(bad.json.error).to.include({ field: 'state' });
    expect(bad.json.error.message).to.include('queued, processing, timing_out, zombie, failed, completed');
    expect((await get(h, '/api/projects?state=queued&state=failed')).status).to.equal(400);
    const unknown = await get(h, '/api/projects?limit=2');
    expect(unknown.status).to.equal(400);
    expect(unknown.json.error.field).to.equal('limit');
  });

  it('returns one project in full', async () => {
    const r = await get(h, '/api/projects/p1');
    expect(r.status).to.equal(200);
    expect(r.json).to.include({ id: 'p1', state: 'processing' });
    expect(r.json.history).to.have.length(1);
  });

  it('answers 404 JSON for an unknown project and 400 for an invalid id', async () => {
    const missing = await get(h, '/api/projects/nope');
    expect(missing.status).to.equal(404);
    expect(missing.json.error.message).to.include('no project with id "nope"');
    const invalid = await get(h, `/api/projects/${encodeURIComponent('a b')}`);
    expect(invalid.status).to.equal(400);
    expect(invalid.json.error.field).to.equal('id');
  });

  it('answers 400 for a malformed escape in the path', async () => {
    const r = await get(h, '/api/projects/%E0%A4%A');
    expect(r.status).to.equal(400);
    expect(r.json.error.message).to.be.a('string');
  });

  it("reports the last cycle's detections and the queue's health", async () => {
    h.status.lastCycle = aCycleResult({
      detections: [
        {
          kind: 'zombie',
          project: 'p1',
          session: 'w-1',
          tmuxSocket: null,
          pid: 1000,
          reason: 'session w-1 gone, pid 1000 alive',
        },
      ],
    });
    const r = await get(h, '/api/stuck');
    expect(r.status).to.equal(200);
    expect(r.json.ok).to.equal(true);
    expect(r.json.stuck).to.deep.equal([
      {
        kind: 'zombie',
        project: 'p1',
        session: 'w-1',
        tmuxSocket: null,
        pid: 1000,
        reason: 'session w-1 gone, pid 1000 alive',
      },
    ]);
    expect(r.json.queue).to.include({ status: 'running', queued: 2, processing: 1, blocked: false });
  });

  it('says the answer is incomplete before the first cycle and when the registry is unreadable', async () => {
    h.status.lastCycle = null;
    const early = await get(h, '/api/stuck');
    expect(early.json).to.include({ ok: false, reason: 'no cycle has completed yet' });
    h.status.lastCycle = aCycleResult();
    const { writeFileSync } = await import('node:fs');
    writeFileSync(h.registry, 'garbage');
    const broken = await get(h, '/api/stuck');
    expect(broken.status).to.equal(200);
    expect(broken.json.ok).to.equal(false);
    expect(broken.json.queue).to.equal(null);
    expect(broken.json.errors[0].source).to.equal('registry');
  });

  it('answers unknown routes with 404 JSON and wrong methods with 405', async () => {
    const r = await get(h, '/nope');
    expect(r.status).to.equal(404);
    expect(r.headers.get('content-type')).to.include('application/json');
    expect(r.json.error.message).to.include('no such route');
    expect((await get(h, '/api/projects/p1/launch')).status).to.equal(404);
    const heal = await get(h, '/api/heal');
    expect(heal.status).to.equal(405);
    expect(heal.headers.get('allow')).to.equal('POST');
    expect((await get(h, '/api/projects/p1/start')).status).to.equal(405);
  });

  it('sends no x-powered-by header', async () => {
    const r = await get(h, '/api/projects');
    expect(r.headers.get('x-powered-by')).to.equal(null);
    expect(r.headers.get('x-content-type-options')).to.equal('nosniff');
  });
});
