import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import type { Project } from '../../src/core/model/project.js';
import { readStartTime } from '../../src/scan/proc-table.js';
import { Processes, isRunning, waitUntil } from '../helpers/processes.js';
import { HOST, NOW, post, startServer, type Harness } from './harness.js';

describe('server: write API changes the registry', () => {
  let h: Harness;
  const processes = new Processes();
  beforeEach(async () => {
    h = await startServer({ config: { killGraceSec: 1 } });
  });
  afterEach(async () => {
    await h.close();
    await processes.cleanup();
  });

  async function project(id: string): Promise<Project> {
    const found = (await h.store.load()).projects.find((p) => p.id === id);
    if (!found) throw new Error(`project ${id} not in the registry`);
    return found;
  }

  it('enqueues a project with every field, recorded by api@host', async () => {
    const r = await post(h, '/api/projects', {
      id: 'mobile-app.29',
      name: 'mobile app',
      session: 'mobile-app-1',
      tmuxSocket: 'agents',
      cwd: h.dir,
      projectDir: '/home/u/app/src',
      priority: 5,
      maxAttempts: 2,
      command: ['python3', 'auto_orchestrate.py', '--spec', 'spec.md'],
    });
    expect(r.status).to.equal(201);
    expect(r.headers.get('location')).to.equal('/api/projects/mobile-app.29');
    expect(r.json.project).to.include({ id: 'mobile-app.29', state: 'queued', priority: 5 });
    const p = await project('mobile-app.29');
    expect(p).to.include({
      name: 'mobile app',
      session: null,
      sessionBase: 'mobile-app-1',
      tmuxSocket: 'agents',
      cwd: h.dir,
      projectDir: '/home/u/app/src',
      maxAttempts: 2,
    });
    expect(p.command).to.deep.equal(['python3', 'auto_orchestrate.py', '--spec', 'spec.md']);
    expect(p.enqueuedAt).to.equal(new Date(NOW).toISOString());
    const audit = await h.store.readAudit(10);
    expect(audit.at(-1)).to.include({ project: 'mobile-app.29', to: 'queued', by: `api@${HOST}` });
  });

  it('accepts null for an optional field as leaving it out', async () => {
    const r = await post(h, '/api/projects', { id: 'p1', session: null, command: null });
    expect(r.status).to.equal(201);
    expect((await project('p1')).session).to.equal(null);
  });

  it('refuses a duplicate id with 409 and changes nothing', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    const before = h.bytes() as Buffer;
    const r = await post(h, '/api/projects', { id: 'p1' });
    expect(r.status).to.equal(409);
    expect(r.json.error.message).to.include('already exists');
    expect(h.bytes()?.equals(before)).to.equal(true);
  });

  it('records a start with the PID start time read from /proc', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    const r = await post(h, '/api/projects/p1/start', { pid: h.pid, session: 'w-1' });
    expect(r.status).to.equal(200);
    const p = await project('p1');
    expect(p).to.include({ state: 'processing', pid: h.pid, session: 'w-1', host: HOST });
    expect(p.pidStartTime).to.equal(await readStartTime(h.pid));
    expect(p.history.at(-1)).to.include({ from: 'queued', to: 'processing', by: `api@${HOST}` });
  });

  it('records a heartbeat on a processing project and refuses one on a queued project with 409', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    expect((await post(h, '/api/projects/p1/heartbeat')).status).to.equal(409);
    await post(h, '/api/projects/p1/start', { pid: h.pid });
    const r = await post(h, '/api/projects/p1/heartbeat', {});
    expect(r.status).to.equal(200);
    expect((await project('p1')).heartbeatAt).to.equal(new Date(NOW).toISOString());
  });

  it('records a completion', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    await post(h, '/api/projects/p1/start', { pid: h.pid });
    const r = await post(h, '/api/projects/p1/complete');
    expect(r.status).to.equal(200);
    const p = await project('p1');
    expect(p.state).to.equal('completed');
    expect(p.completion?.evidence[0]).to.include({ method: 'reported' });
  });

  it('refuses an illegal move with 409 naming the states', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    const r = await post(h, '/api/projects/p1/complete');
    expect(r.status).to.equal(409);
    expect(r.json.error.message).to.match(/queued/);
    expect((await project('p1')).state).to.equal('queued');
  });

  it('records a failure with its reason, and noRetry', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    await post(h, '/api/projects/p1/start', { pid: h.pid });
    const r = await post(h, '/api/projects/p1/fail', { reason: 'tests failed: 3', noRetry: true });
    expect(r.status).to.equal(200);
    const p = await project('p1');
    expect(p).to.include({ state: 'failed', failureReason: 'tests failed: 3', retry: false });
  });

  it('resets a failed project to queued with attempts and breaker reset', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    await post(h, '/api/projects/p1/start', { pid: h.pid });
    await post(h, '/api/projects/p1/fail', {});
    const r = await post(h, '/api/projects/p1/reset', {});
    expect(r.status).to.equal(200);
    expect(r.json.actions).to.deep.equal([]);
    const p = await project('p1');
    expect(p).to.include({ state: 'queued', attempts: 0, failureReason: null });
    expect(p.breaker.state).to.equal('closed');
  });

  it('re-runs a completed project only with force', async () => {
    await post(h, '/api/projects', { id: 'p1' });
    await post(h, '/api/projects/p1/start', { pid: h.pid });
    await post(h, '/api/projects/p1/complete');
    expect((await post(h, '/api/projects/p1/reset')).status).to.equal(409);
    expect((await project('p1')).state).to.equal('completed');
    expect((await post(h, '/api/projects/p1/reset', { force: true })).status).to.equal(200);
    expect((await project('p1')).state).to.equal('queued');
  });

  it('refuses to reset a live project without force, and kills it first with force', async () => {
    const pid = await processes.sleeper();
    await post(h, '/api/projects', { id: 'p1' });
    await post(h, '/api/projects/p1/start', { pid });
    const refused = await post(h, '/api/projects/p1/reset', {});
    expect(refused.status).to.equal(409);
    expect(refused.json.error.message).to.include('--force');
    expect(isRunning(pid)).to.equal(true);

    const r = await post(h, '/api/projects/p1/reset', { force: true });
    expect(r.status).to.equal(200);
    expect(r.json.actions.map((a: { action: string; outcome: string }) => `${a.action}:${a.outcome}`)).to.deep.equal([
      'kill_tree:success',
    ]);
    await waitUntil(() => !isRunning(pid), 15_000, 'the sleeper to die');
    const p = await project('p1');
    expect(p).to.include({ state: 'queued', attempts: 0 });
    expect(p.history.map((e) => `${e.from}->${e.to}`).slice(-2)).to.deep.equal([
      'processing->failed',
      'failed->queued',
    ]);
  });

  it('answers 404 for an unknown project', async () => {
    for (const action of ['start', 'heartbeat', 'complete', 'fail', 'reset']) {
      const r = await post(h, `/api/projects/nope/${action}`, action === 'start' ? { pid: h.pid } : {});
      expect(r.status, action).to.equal(404);
      expect(r.json.error.message).to.include('no project with id "nope"');
    }
  });

  it('runs a cycle on POST /api/heal and returns its result', async () => {
    const r = await post(h, '/api/heal');
    expect(r.status).to.equal(200);
    expect(h.cycleRequests).to.deep.equal(['api']);
    expect(r.json.transitions).to.deep.equal([{ project: 'p1', from: 'failed', to: 'queued', reason: 'retry due' }]);
  });

  it('answers 503 when the registry is unreadable, and leaves it as it is', async () => {
    writeFileSync(h.registry, '{"version": 1, "projects": [');
    const before = h.bytes() as Buffer;
    const r = await post(h, '/api/projects', { id: 'p1' });
    expect(r.status).to.equal(503);
    expect(r.json.error.message).to.include('not valid JSON');
    expect(h.bytes()?.equals(before)).to.equal(true);
  });
});
