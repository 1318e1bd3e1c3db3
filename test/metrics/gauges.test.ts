import { expect } from 'chai';
import { STUCK_KINDS } from '../../src/core/model/plan.js';
import { PROJECT_STATES } from '../../src/core/model/project.js';
import {
  aBusyOutcome,
  aDetection,
  anOutcome,
  anUnreadableRegistryOutcome,
  aProjectIn,
  aRegistry,
  at,
  HOUR,
  labelValues,
  MIN,
  samplesOf,
  scrape,
  someMetrics,
  T0,
  terminalProjects,
  valueOf,
} from './fixtures.js';

const PER_PROJECT = [
  'orchestrator_active_project_info',
  'orchestrator_active_project_started_timestamp_seconds',
  'orchestrator_active_project_heartbeat_timestamp_seconds',
  'orchestrator_active_project_cpu_usage_ratio',
  'orchestrator_active_project_resident_memory_bytes',
];

function orchestratorLines(text: string): string[] {
  return text.split('\n').filter((l) => l.startsWith('orchestrator_'));
}

describe('metrics gauges', () => {
  describe('always-present label values', () => {
    it('exports all six states and all six stuck kinds at 0 before any cycle', async () => {
      const e = await scrape(someMetrics());
      expect(labelValues(e, 'orchestrator_projects', 'state')).to.deep.equal([...PROJECT_STATES].sort());
      expect(labelValues(e, 'orchestrator_stuck_projects', 'kind')).to.deep.equal([...STUCK_KINDS].sort());
      expect(labelValues(e, 'orchestrator_circuit_breakers', 'state')).to.deep.equal(['closed', 'half_open', 'open']);
      for (const s of [...samplesOf(e, 'orchestrator_projects'), ...samplesOf(e, 'orchestrator_stuck_projects')])
        expect(s.value).to.equal(0);
    });

    it('keeps every state and kind after a cycle that saw only some of them', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(
        anOutcome(aRegistry([aProjectIn('a', 'processing')]), { detections: [aDetection('zombie', 'a')] }),
        T0,
      );
      const e = await scrape(metrics);
      expect(labelValues(e, 'orchestrator_projects', 'state')).to.deep.equal([...PROJECT_STATES].sort());
      expect(labelValues(e, 'orchestrator_stuck_projects', 'kind')).to.deep.equal([...STUCK_KINDS].sort());
      expect(valueOf(e, 'orchestrator_projects', { state: 'processing' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_projects', { state: 'failed' })).to.equal(0);
      expect(valueOf(e, 'orchestrator_stuck_projects', { kind: 'zombie' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_stuck_projects', { kind: 'phantom' })).to.equal(0);
    });
  });

  describe('registry-derived gauges', () => {
    it('counts projects by state, breakers by current state, and the queue breaker', async () => {
      const metrics = someMetrics();
      const outcome = aBusyOutcome();
      metrics.observeCycle(outcome, T0);
      const e = await scrape(metrics);
      const byState = Object.fromEntries(
        samplesOf(e, 'orchestrator_projects').map((s) => [s.labels['state'], s.value]),
      );
      expect(byState).to.deep.equal({ queued: 2, processing: 1, timing_out: 1, zombie: 1, failed: 2, completed: 1 });
      // bad-2 opened 2 h ago, past its 30 min cooldown: half-open.
      expect(valueOf(e, 'orchestrator_circuit_breakers', { state: 'open' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_circuit_breakers', { state: 'half_open' })).to.equal(1);
      // Which breakers count is the queue summary's policy (src/core/views/queue-summary.ts): the gauge reports it.
      expect(valueOf(e, 'orchestrator_circuit_breakers', { state: 'closed' })).to.equal(
        outcome.result.queue?.breakers.closed,
      );
      expect(valueOf(e, 'orchestrator_queue_paused')).to.equal(1);
      expect(valueOf(e, 'orchestrator_queue_blocked')).to.equal(0);
      expect(valueOf(e, 'orchestrator_queue_oldest_enqueued_timestamp_seconds')).to.equal((T0 - 3 * HOUR) / 1000);
    });

    it('reports a queue blocked once queued work has waited past QUEUE_BLOCKED_AFTER_SEC with nothing active', async () => {
      const metrics = someMetrics();
      const registry = aRegistry([aProjectIn('q', 'queued', { enqueuedAt: at(-10 * MIN), history: [] })]);
      metrics.observeCycle(anOutcome(registry), T0);
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_queue_blocked')).to.equal(1);
      expect(valueOf(e, 'orchestrator_queue_paused')).to.equal(0);
    });

    it('exports NaN, not 0, as the oldest enqueue time once nothing is queued', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(anOutcome(aRegistry([aProjectIn('q', 'queued')])), T0);
      expect(valueOf(await scrape(metrics), 'orchestrator_queue_oldest_enqueued_timestamp_seconds')).to.equal(
        (T0 - 2 * HOUR) / 1000,
      );
      metrics.observeCycle(anOutcome(aRegistry([aProjectIn('q', 'processing')])), T0 + MIN);
      expect(valueOf(await scrape(metrics), 'orchestrator_queue_oldest_enqueued_timestamp_seconds')).to.be.NaN;
    });

    it('keeps the last registry view, stuck counts and tmux counts when the registry cannot be read', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(aBusyOutcome(), T0);
      const before = await scrape(metrics);
      metrics.observeCycle(anUnreadableRegistryOutcome(), T0 + 15_000);
      const after = await scrape(metrics);
      const kept = (name: string) => samplesOf(after, name).map((s) => [s.labels, s.value]);
      const was = (name: string) => samplesOf(before, name).map((s) => [s.labels, s.value]);
      for (const name of [
        'orchestrator_projects',
        'orchestrator_stuck_projects',
        'orchestrator_circuit_breakers',
        'orchestrator_tmux_sessions',
        ...PER_PROJECT,
      ]) {
        expect(kept(name), name).to.deep.equal(was(name));
      }
      expect(valueOf(after, 'orchestrator_scan_errors_total', { source: 'registry' })).to.equal(1);
    });

    it('sets tmux sessions per server scanned, and drops a server that could not be read', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(anOutcome(aRegistry([]), { tmuxSessions: { default: 4, agents: 2 } }), T0);
      let e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_tmux_sessions', { socket: 'default' })).to.equal(4);
      expect(valueOf(e, 'orchestrator_tmux_sessions', { socket: 'agents' })).to.equal(2);
      metrics.observeCycle(anOutcome(aRegistry([]), { tmuxSessions: { default: 5 } }), T0 + MIN);
      e = await scrape(metrics);
      expect(labelValues(e, 'orchestrator_tmux_sessions', 'socket')).to.deep.equal(['default']);
    });

    it('sets the last success timestamp only for successful cycles', async () => {
      const metrics = someMetrics();
      expect(valueOf(await scrape(metrics), 'orchestrator_last_scan_success_timestamp_seconds')).to.equal(0);
      metrics.observeCycle(anOutcome(aRegistry([])), T0);
      metrics.observeCycle(
        anOutcome(aRegistry([]), { ok: false, errors: [{ source: 'tmux', message: 'boom' }] }),
        T0 + MIN,
      );
      expect(valueOf(await scrape(metrics), 'orchestrator_last_scan_success_timestamp_seconds')).to.equal(T0 / 1000);
    });
  });

  describe('per-project series', () => {
    it('exist only for non-terminal projects, with their values', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(aBusyOutcome(), T0);
      const e = await scrape(metrics);
      const info = samplesOf(e, 'orchestrator_active_project_info').map(
        (s) => `${s.labels['project']}/${s.labels['state']}/${s.labels['session']}`,
      );
      expect(info.sort()).to.deep.equal([
        'q-1/queued/',
        'q-2/queued/q-2-session',
        'run-1/processing/run-1-session',
        'slow-1/timing_out/slow-1-session',
        'zed-1/zombie/zed-1-session',
      ]);
      // Queued projects have no current attempt: no start or heartbeat series.
      expect(labelValues(e, 'orchestrator_active_project_started_timestamp_seconds', 'project')).to.deep.equal([
        'run-1',
        'slow-1',
        'zed-1',
      ]);
      expect(valueOf(e, 'orchestrator_active_project_started_timestamp_seconds', { project: 'run-1' })).to.equal(
        (T0 - HOUR) / 1000,
      );
      expect(valueOf(e, 'orchestrator_active_project_heartbeat_timestamp_seconds', { project: 'run-1' })).to.equal(
        (T0 - MIN) / 1000,
      );
      expect(valueOf(e, 'orchestrator_active_project_cpu_usage_ratio', { project: 'run-1' })).to.equal(0.75);
      expect(valueOf(e, 'orchestrator_active_project_resident_memory_bytes', { project: 'run-1' })).to.equal(
        512 * 1024 * 1024,
      );
      expect(labelValues(e, 'orchestrator_active_project_cpu_usage_ratio', 'project')).to.deep.equal([
        'run-1',
        'zed-1',
      ]);
      expect(valueOf(e, 'orchestrator_active_project_series_dropped')).to.equal(0);
    });

    it('are removed when the project finishes', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(
        anOutcome(aRegistry([aProjectIn('a', 'processing'), aProjectIn('b', 'processing')]), {
          usage: { a: { cpuRatio: 0.5, rssBytes: 100 } },
        }),
        T0,
      );
      metrics.observeCycle(
        anOutcome(aRegistry([aProjectIn('a', 'completed'), aProjectIn('b', 'processing')])),
        T0 + MIN,
      );
      const e = await scrape(metrics);
      for (const name of PER_PROJECT) {
        expect(
          samplesOf(e, name).filter((s) => s.labels['project'] === 'a'),
          name,
        ).to.deep.equal([]);
      }
      expect(labelValues(e, 'orchestrator_active_project_info', 'project')).to.deep.equal(['b']);
    });

    it('follow a change of state or session without leaving the old series behind', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(anOutcome(aRegistry([aProjectIn('a', 'processing', { session: 's1' })])), T0);
      metrics.observeCycle(anOutcome(aRegistry([aProjectIn('a', 'zombie', { session: 's2' })])), T0 + MIN);
      const e = await scrape(metrics);
      expect(samplesOf(e, 'orchestrator_active_project_info').map((s) => s.labels)).to.deep.equal([
        { project: 'a', session: 's2', state: 'zombie' },
      ]);
    });

    it('are capped at metricsProjectLimit, active projects first, then the oldest queued, and say how many were dropped', async () => {
      const metrics = someMetrics({ metricsProjectLimit: 3 });
      const projects = [
        aProjectIn('q-new', 'queued', { enqueuedAt: at(-MIN) }),
        aProjectIn('q-old', 'queued', { enqueuedAt: at(-5 * HOUR) }),
        aProjectIn('q-mid', 'queued', { enqueuedAt: at(-HOUR) }),
        aProjectIn('run', 'processing', { enqueuedAt: at(0) }),
        ...terminalProjects(5),
      ];
      metrics.observeCycle(anOutcome(aRegistry(projects)), T0);
      const e = await scrape(metrics);
      expect(labelValues(e, 'orchestrator_active_project_info', 'project')).to.deep.equal(['q-mid', 'q-old', 'run']);
      expect(valueOf(e, 'orchestrator_active_project_series_dropped')).to.equal(1);
    });

    it('are none at all with a limit of 0', async () => {
      const metrics = someMetrics({ metricsProjectLimit: 0 });
      metrics.observeCycle(aBusyOutcome(), T0);
      const e = await scrape(metrics);
      for (const name of PER_PROJECT) expect(samplesOf(e, name), name).to.deep.equal([]);
      expect(valueOf(e, 'orchestrator_active_project_series_dropped')).to.equal(5);
    });

    it('do not grow with terminal projects: 10 and 10,000 terminal projects give the same number of lines', async () => {
      const lines = async (terminal: number) => {
        const metrics = someMetrics();
        const registry = aRegistry([
          aProjectIn('q', 'queued'),
          aProjectIn('run', 'processing'),
          ...terminalProjects(terminal),
        ]);
        metrics.observeCycle(anOutcome(registry, { usage: { run: { cpuRatio: 0.2, rssBytes: 1 } } }), T0);
        return orchestratorLines((await metrics.render(false)).body);
      };
      const few = await lines(10);
      const many = await lines(10_000);
      expect(many.length).to.equal(few.length);
      expect(many.filter((l) => l.includes('done-'))).to.deep.equal([]);
    });
  });
});
