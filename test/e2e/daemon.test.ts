/**
 * `agent serve` end to end: event-driven detection with polling set to once an
 * hour, coalesced cycles, readiness, shutdown, and a real Prometheus scraping it.
 */
import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent } from '../../src/agent.js';
import { loadConfig } from '../../src/config/load.js';
import { runCycle, type CycleOptions, type CycleOutcome } from '../../src/cycle.js';
import { createLogger } from '../../src/log.js';
import { JsonStore } from '../../src/registry/json-store.js';
import { PROJECT_STATES } from '../../src/core/model/project.js';
import { eventually, freePort, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { isRunning } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

const HOURLY = '0 0 * * * *';
const HUP_IMMUNE = "process.on('SIGHUP', () => {}); setInterval(() => {}, 1000);";

describe('e2e: agent serve', function () {
  this.timeout(60_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  beforeEach(() => {
    q = new TestQueue({ AGENT_SCAN_SCHEDULE: HOURLY, LOG_LEVEL: 'info' });
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  it('a killed tmux session makes its project a zombie through the tmux hooks, with polling once an hour', async () => {
    const keep = q.tmux.newSession('keep', ['sleep', '300']);
    q.processes.track(keep);
    const pane = q.tmux.newSession('w-1', [process.execPath, '-e', HUP_IMMUNE]);
    q.processes.track(pane);
    q.write([q.project({ id: 'p1', session: 'w-1', ...q.identity(pane), heartbeatAt: new Date().toISOString() })]);
    agent = await startAgent(q.env, q.dir.path);
    await eventually(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, 10_000, 'the first cycle');
    await eventually(
      () => /wait-for -S toa-/.test(q.tmux.run(['show-hooks', '-g'])),
      10_000,
      'the tmux hooks to be installed',
    );
    const killedAt = Date.now();
    q.tmux.killSession('w-1');
    const entry = await eventually(
      () => q.get('p1').history.find((h) => h.to === 'zombie'),
      15_000,
      'the zombie transition',
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}\nproject: ${JSON.stringify(q.get('p1'))}\nhooks: ${q.tmux.run(['show-hooks', '-g'])}\n${agent!.stderr().slice(-4000)}`,
      );
    });
    // Polling would take an hour: a prompt transition is the hooks'. Generous for a busy machine.
    expect(Date.parse(entry.at) - killedAt).to.be.below(10_000);
    await eventually(() => q.get('p1').state === 'failed', 15_000, 'the zombie to be healed');
    expect(isRunning(pane)).to.equal(false);
  });

  it('a tracked PID exiting is noticed through the PID probe, with polling once an hour', async () => {
    const pid = await q.processes.sleeper({ detached: true });
    q.write([q.project({ id: 'p2', session: null, ...q.identity(pid), heartbeatAt: new Date().toISOString() })]);
    agent = await startAgent({ ...q.env, PHANTOM_GRACE_PERIOD_SEC: '0' }, q.dir.path);
    await eventually(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, 10_000, 'the first cycle');
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    const entry = await eventually(
      () => q.get('p2').history.find((h) => h.to === 'failed'),
      15_000,
      'the phantom transition',
    );
    expect(Date.parse(entry.at) - killedAt).to.be.below(10_000);
    expect(q.get('p2').failureReason).to.equal('phantom');
  });

  it('/readyz fails with a corrupt registry, naming it, and recovers after repair', async () => {
    q.write([]);
    await q.agent(['enqueue', '--id', 'p1']);
    agent = await startAgent(q.env, q.dir.path);
    await eventually(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, 10_000, 'ready');
    writeFileSync(q.registry, '{"version": 1, "projects": [');
    const body = await eventually(
      async () => {
        const r = await fetch(`${agent!.url}/readyz`);
        return r.status === 503 ? r.text() : null;
      },
      15_000,
      '/readyz to fail',
    );
    expect(body).to.match(/registry/);
    expect(readFileSync(q.registry, 'utf8')).to.equal('{"version": 1, "projects": [');
    const repaired = await q.agent(['registry', 'repair']);
    expect(repaired.code, repaired.stderr).to.equal(0);
    await eventually(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, 15_000, '/readyz to recover');
  });

  it('SIGTERM during a cycle: the cycle completes, the hooks are removed, exit 0 within 10 s', async () => {
    const keep = q.tmux.newSession('keep', ['sleep', '300']);
    q.processes.track(keep);
    q.write([]);
    agent = await startAgent({ ...q.env, KILL_GRACE_SEC: '3' }, q.dir.path);
    await eventually(
      () => /wait-for -S toa-/.test(q.tmux.run(['show-hooks', '-g'])),
      15_000,
      'the tmux hooks to be installed',
    );
    // A registry change (seen through the watch) starts a cycle that kills a TERM-ignoring zombie: 3 s of grace.
    const stubborn = await q.processes.termIgnorer({ detached: true });
    q.write([q.project({ id: 'z', session: 'gone', ...q.identity(stubborn) })]);
    await eventually(() => q.read().intents.length > 0, 15_000, 'the kill to start');
    const { code, ms } = await agent.stop('SIGTERM');
    agent = null;
    expect(code).to.equal(0);
    expect(ms).to.be.below(10_000);
    expect(q.get('z').state, 'the running cycle completed').to.equal('failed');
    expect(q.read().intents).to.deep.equal([]);
    expect(isRunning(stubborn)).to.equal(false);
    expect(q.tmux.run(['show-hooks', '-g'])).to.not.match(/wait-for -S toa-/);
  });
});

describe('the daemon scheduler', function () {
  this.timeout(30_000);
  let q: TestQueue;
  beforeEach(() => {
    q = new TestQueue();
  });
  afterEach(async () => {
    await q.destroy();
  });

  it('overlapping triggers never run concurrent cycles: they coalesce into one follow-up', async () => {
    q.write([]);
    const { config } = loadConfig({ env: q.env });
    // The cycle the agent runs, wrapped to count how many run and how many at once.
    let running = 0;
    let peak = 0;
    let cycles = 0;
    const cycle = async (options: CycleOptions): Promise<CycleOutcome> => {
      running += 1;
      cycles += 1;
      peak = Math.max(peak, running);
      try {
        return await runCycle(options);
      } finally {
        running -= 1;
      }
    };
    const store = new JsonStore({ path: q.registry });
    const agent = new Agent({
      store,
      config,
      hostId: 'test-host',
      version: 'test',
      log: createLogger({ level: 'error' }),
      noServer: true,
      cycle,
    });
    try {
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => agent.requestCycle(`trigger ${i}`)));
      expect(results).to.have.length(30);
      expect(peak).to.equal(1);
      expect(cycles).to.equal(2);
      await Promise.all([agent.requestCycle('a'), agent.requestCycle('b')]);
      expect(cycles).to.equal(4);
      expect(agent.status().cycles).to.equal(4);
      expect(peak).to.equal(1);
    } finally {
      await agent.stop();
    }
  });
});

describe('e2e: Prometheus scrapes the agent', function () {
  this.timeout(90_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  let prometheus: ChildProcess | null = null;
  beforeEach(() => {
    q = new TestQueue({ AGENT_SCAN_SCHEDULE: '* * * * * *' });
  });
  afterEach(async () => {
    prometheus?.kill('SIGKILL');
    prometheus = null;
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  it('orchestrator_projects queried through Prometheus equals the registry counts', async () => {
    q.write([]);
    for (const id of ['a', 'b', 'c']) await q.agent(['enqueue', '--id', id]);
    const pid = await q.processes.sleeper({ detached: true });
    await q.agent(['start', 'a', '--pid', String(pid)]);
    await q.agent(['fail', 'a', '--no-retry']);
    agent = await startAgent(q.env, q.dir.path);
    const port = await freePort();
    const dir = join(q.dir.path, 'prometheus');
    mkdirSync(dir);
    const target = agent.url.replace('http://', '');
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: orchestrator-agent\n    static_configs:\n      - targets: ['${target}']\n`,
    );
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    const api = `http://127.0.0.1:${port}/api/v1/query?query=`;
    const series = await eventually(
      async () => {
        const r = await fetch(`${api}${encodeURIComponent('orchestrator_projects{job="orchestrator-agent"}')}`);
        if (!r.ok) return null;
        const body = (await r.json()) as { data: { result: { metric: { state: string }; value: [number, string] }[] } };
        return body.data.result.length === 6 ? body.data.result : null;
      },
      30_000,
      'Prometheus to scrape orchestrator_projects',
    );
    const fromPrometheus = Object.fromEntries(series.map((s) => [s.metric.state, Number(s.value[1])]));
    const counts = Object.fromEntries(
      PROJECT_STATES.map((s) => [s, q.read().projects.filter((p) => p.state === s).length]),
    );
    expect(fromPrometheus).to.deep.equal(counts);
    expect(counts).to.include({ queued: 2, failed: 1 });
    const up = (await (await fetch(`${api}${encodeURIComponent('up{job="orchestrator-agent"}')}`)).json()) as {
      data: { result: { value: [number, string] }[] };
    };
    expect(up.data.result[0]?.value[1]).to.equal('1');
  });
});
