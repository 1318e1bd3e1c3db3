/**
 * The queue breaker counts finished projects, not attempts, and the queue
 * can be paused and resumed by hand (`agent queue pause [--until T]`,
 * `agent queue resume`, `POST /api/queue/{pause,resume}`), audited with who
 * did it; `status` and `reset` say when the queue is paused and how to resume.
 */
import { expect } from 'chai';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { isActive, ms } from '../../src/core/model/project.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { sleep } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

const TOKEN = 'queue-pause-token-0123456789abcdef';

interface StatusJson {
  queue: { paused: boolean; pausedBy: string | null; resumeAt: string | null; trippedBy: string[] };
}

describe('e2e: queue breaker and manual pauses', function () {
  this.timeout(90_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  beforeEach(() => {
    q = new TestQueue({ PHANTOM_GRACE_PERIOD_SEC: '0' });
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  function cwd(id: string): string {
    const dir = join(q.dir.path, 'work', id);
    mkdirSync(dir, { recursive: true });
    return dir;
  }

  async function ok(args: string[], env: Record<string, string> = {}): Promise<string> {
    const r = await q.agent(args, env);
    expect(r.code, `agent ${args.join(' ')}: ${r.stdout}${r.stderr}`).to.equal(0);
    return r.stdout;
  }

  async function enqueue(id: string, command: string[]): Promise<void> {
    await ok(['enqueue', '--id', id, '--tmux-socket', q.tmux.socket, '--cwd', cwd(id), '--', ...command]);
  }

  async function heal(): Promise<{ project: string | null; action: string; outcome: string }[]> {
    const { result } = await q.heal();
    for (const p of q.read().projects) if (p.pid !== null && isActive(p.state)) q.processes.track(p.pid);
    return result.actions;
  }

  async function status(): Promise<StatusJson> {
    return JSON.parse(await ok(['status', '--json'])) as StatusJson;
  }

  it('one flaky project failing three times does not pause a queue that three failed projects would pause', async () => {
    q.env = {
      ...q.env,
      AGENT_RETRY_MAX_ATTEMPTS: '3',
      AGENT_RETRY_BASE_SEC: '1',
      AGENT_RETRY_MAX_DELAY_SEC: '1',
      AGENT_BREAKER_FAILURE_THRESHOLD: '10',
      AGENT_QUEUE_BREAKER_MIN_FINISHED: '3',
    };
    await enqueue('flaky', ['sh', '-c', 'sleep 0.2; exit 3']);
    const failures = () => q.get('flaky').history.filter((h) => h.to === 'failed' && h.from !== 'failed').length;
    const deadline = Date.now() + 60_000;
    while (failures() < 3) {
      expect(Date.now(), `three failures of flaky: ${JSON.stringify(q.get('flaky').history)}`).to.be.below(deadline);
      await heal();
      await sleep(100);
    }
    expect(q.get('flaky')).to.include({ state: 'failed', attempts: 3 });
    await heal();
    expect((await status()).queue).to.include({ paused: false, pausedBy: null });
    expect(q.read().queue.paused).to.equal(false);

    await enqueue('next', ['sh', '-c', 'touch COMPLETED']);
    const actions = await heal();
    expect(actions.map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal(['next:launch:success']);
  });

  it('five different failed projects trip it: status says the breaker paused the queue and how to resume it', async () => {
    for (const id of ['f1', 'f2', 'f3', 'f4', 'f5']) {
      const pid = await q.processes.sleeper({ detached: true });
      await ok(['enqueue', '--id', id]);
      await ok(['start', id, '--pid', String(pid)]);
      await ok(['fail', id, '--no-retry']);
    }
    await heal();
    const queue = q.read().queue;
    expect(queue).to.include({ paused: true, pausedBy: 'breaker' });
    expect([...queue.trippedBy].sort()).to.deep.equal(['f1', 'f2', 'f3', 'f4', 'f5']);
    const text = await ok(['status']);
    expect(text).to.match(
      /^paused {4}by the queue breaker until \S+ \(in \d+m \d+s\), tripped by f\d, f\d, f\d, f\d, f\d; resume now with: agent queue resume$/m,
    );
    expect((await status()).queue).to.include({ paused: true, pausedBy: 'breaker' });
  });

  it('agent queue pause holds every launch until agent queue resume; both are audited with who did it', async () => {
    q.write([]);
    const paused = await ok(['queue', 'pause']);
    expect(paused.trim()).to.equal('queue paused by cli@test-host until resumed; resume now with: agent queue resume');
    expect(q.read().queue).to.include({ paused: true, pausedBy: 'cli@test-host', resumeAt: null });

    await enqueue('p1', ['sleep', '300']);
    expect(await heal(), 'nothing launched while paused').to.deep.equal([]);
    expect(q.get('p1').state).to.equal('queued');
    expect(await ok(['status'])).to.contain(
      'paused    by cli@test-host until resumed; resume now with: agent queue resume',
    );
    expect((await status()).queue).to.include({ paused: true, pausedBy: 'cli@test-host', resumeAt: null });
    const reset = await ok(['reset', 'p1']);
    expect(reset).to.contain(
      'queue paused by cli@test-host until resumed: p1 waits until then; resume now with: agent queue resume',
    );

    const resumed = await ok(['queue', 'resume']);
    expect(resumed.trim()).to.equal('queue resumed by cli@test-host (was paused by cli@test-host until resumed)');
    expect(q.read().queue).to.include({ paused: false, pausedBy: null });
    expect((await heal()).map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal(['p1:launch:success']);
    expect((await ok(['queue', 'resume'])).trim()).to.equal('queue is not paused; nothing to do');

    const notes = q.audit().filter((a) => a['type'] === 'note' && String(a['reason']).startsWith('queue '));
    expect(notes.map((a) => `${String(a['reason'])} by ${a.by}`)).to.deep.equal([
      'queue paused by operator by cli@test-host',
      'queue resumed by operator by cli@test-host',
    ]);
  });

  it('agent queue pause --until 5s ends by itself', async () => {
    await enqueue('p1', ['sleep', '300']);
    const out = await ok(['queue', 'pause', '--until', '5s']);
    expect(out).to.match(
      /^queue paused by cli@test-host until \S+ \(in [45]s\); resume now with: agent queue resume$/m,
    );
    const resumeAt = ms(q.read().queue.resumeAt) as number;
    expect(await heal()).to.deep.equal([]);
    expect(Date.now(), 'the machine is too slow for this check: the pause ended during the cycle').to.be.below(
      resumeAt,
    );
    while (Date.now() < resumeAt) await sleep(100);
    expect((await heal()).map((a) => `${a.project}:${a.action}:${a.outcome}`)).to.deep.equal(['p1:launch:success']);
    expect(q.read().queue).to.include({ paused: false, pausedBy: null });
  });

  it('agent queue pause --until refuses anything but an ISO time or a duration, with exit 2, and writes nothing', async () => {
    q.write([]);
    const before = q.bytes();
    for (const until of ['tomorrow', '30', '2026-12-04', '1w']) {
      const r = await q.agent(['queue', 'pause', '--until', until]);
      expect(r.code, until).to.equal(2);
      expect(r.stderr).to.contain(
        `invalid until "${until}": must be an ISO-8601 time with its zone (e.g. 2026-12-04T18:00:00Z) or a duration (e.g. 30m, 2h; units s, m, h, d)`,
      );
    }
    expect(q.bytes()).to.equal(before);
  });

  it('POST /api/queue/pause and /resume behind the token: the daemon launches nothing while paused and keeps the pause', async () => {
    q.write([]);
    agent = await startAgent({ ...q.env, AGENT_API_TOKEN: TOKEN, AGENT_SCAN_SCHEDULE: '0 0 * * * *' }, q.dir.path);
    await eventually(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, 10_000, 'the first cycle');
    const post = (path: string, body: unknown, token: string | null = TOKEN) =>
      fetch(`${agent!.url}${path}`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(token === null ? {} : { Authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify(body),
      });
    expect((await post('/api/queue/pause', {}, null)).status).to.equal(401);
    const bad = await post('/api/queue/pause', { until: 'soon' });
    expect(bad.status).to.equal(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).to.contain('invalid until "soon"');
    expect(q.read().queue.paused).to.equal(false);

    const started = Date.now();
    const paused = await post('/api/queue/pause', { until: '30m' });
    expect(paused.status).to.equal(200);
    const record = ((await paused.json()) as { queue: { pausedBy: string; resumeAt: string } }).queue;
    expect(record.pausedBy).to.equal('api@test-host');
    expect((ms(record.resumeAt) as number) - started).to.be.within(29 * 60_000, 31 * 60_000);

    await enqueue('p1', ['sleep', '300']);
    const healed = await post('/api/heal', {});
    expect(healed.status).to.equal(200);
    expect(q.get('p1').state, 'no launch while paused').to.equal('queued');
    expect(q.read().queue).to.include({ paused: true, pausedBy: 'api@test-host' });

    const resumed = await post('/api/queue/resume', {});
    expect(resumed.status).to.equal(200);
    expect(((await resumed.json()) as { changed: boolean }).changed).to.equal(true);
    const running = await eventually(
      () => (q.get('p1').state === 'processing' ? q.get('p1') : null),
      10_000,
      'the launch after the resume',
    );
    q.processes.track(running.pid as number);
    const notes = q.audit().filter((a) => a['type'] === 'note' && String(a['reason']).startsWith('queue '));
    expect(notes.map((a) => `${String(a['reason'])} by ${a.by}`)).to.deep.equal([
      'queue paused by operator by api@test-host',
      'queue resumed by operator by api@test-host',
    ]);
  });
});
