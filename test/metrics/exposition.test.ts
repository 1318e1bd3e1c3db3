import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { METRIC_ADDITIONS } from '../../src/metrics/definitions.js';
import {
  AGENT_HISTOGRAM_NAMES,
  AGENT_METRIC_NAMES,
  AGENT_SCALAR_METRIC_NAMES,
  RECORDING_RULE_NAMES,
} from '../helpers/metric-names.js';
import {
  aBusyOutcome,
  aBusyRegistry,
  aTransition,
  at,
  HOUR,
  MIN,
  parseExposition,
  runWithStdin,
  scrape,
  someMetrics,
  T0,
  valueOf,
} from './fixtures.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RULES_FILE = join(REPO_ROOT, 'alerts', 'orchestrator-agent.rules.yml');

/** The metrics of docs/design.md, family by family: type and label names, exactly; then this module's additions. */
const CONTRACT: Record<string, { type: string; labels: string[] }> = {
  orchestrator_projects: { type: 'gauge', labels: ['state'] },
  orchestrator_stuck_projects: { type: 'gauge', labels: ['kind'] },
  orchestrator_queue_blocked: { type: 'gauge', labels: [] },
  orchestrator_queue_paused: { type: 'gauge', labels: [] },
  orchestrator_queue_oldest_enqueued_timestamp_seconds: { type: 'gauge', labels: [] },
  orchestrator_circuit_breakers: { type: 'gauge', labels: ['state'] },
  orchestrator_state_transitions_total: { type: 'counter', labels: ['from', 'to'] },
  orchestrator_detections_total: { type: 'counter', labels: ['kind'] },
  orchestrator_heal_actions_total: { type: 'counter', labels: ['action', 'outcome'] },
  orchestrator_heal_blocked_total: { type: 'counter', labels: ['reason'] },
  orchestrator_retries_total: { type: 'counter', labels: [] },
  orchestrator_project_duration_seconds: { type: 'histogram', labels: ['outcome'] },
  orchestrator_scan_duration_seconds: { type: 'histogram', labels: [] },
  orchestrator_scan_errors_total: { type: 'counter', labels: ['source'] },
  orchestrator_last_scan_success_timestamp_seconds: { type: 'gauge', labels: [] },
  orchestrator_tmux_sessions: { type: 'gauge', labels: ['socket'] },
  orchestrator_active_project_info: { type: 'gauge', labels: ['project', 'session', 'state'] },
  orchestrator_active_project_started_timestamp_seconds: { type: 'gauge', labels: ['project'] },
  orchestrator_active_project_heartbeat_timestamp_seconds: { type: 'gauge', labels: ['project'] },
  orchestrator_active_project_cpu_usage_ratio: { type: 'gauge', labels: ['project'] },
  orchestrator_active_project_resident_memory_bytes: { type: 'gauge', labels: ['project'] },
  orchestrator_agent_info: { type: 'gauge', labels: ['version', 'registry_backend', 'host'] },
  orchestrator_source_up: { type: 'gauge', labels: ['source'] },
  orchestrator_source_sync_duration_seconds: { type: 'histogram', labels: ['source'] },
  orchestrator_rate_limited_until_timestamp_seconds: { type: 'gauge', labels: [] },
  // Additions (METRIC_ADDITIONS):
  orchestrator_event_source_up: { type: 'gauge', labels: ['source'] },
  orchestrator_active_project_series_dropped: { type: 'gauge', labels: [] },
  orchestrator_leader: { type: 'gauge', labels: [] },
  orchestrator_active_project_waiting_since_timestamp_seconds: {
    type: 'gauge',
    labels: ['project', 'session', 'kind', 'agent', 'line'],
  },
};

/** A metrics instance that has seen a busy cycle, audit transitions and an event source. */
function aBusyAgentMetrics() {
  const metrics = someMetrics();
  metrics.observeCycle(aBusyOutcome(), T0);
  metrics.observeAudit(
    [
      aTransition('ok-1', 'processing', 'completed', at(-30 * MIN)),
      aTransition('bad-1', 'processing', 'failed', at(-30 * MIN)),
      aTransition('q-2', null, 'queued', at(-HOUR)),
    ],
    aBusyRegistry(),
  );
  metrics.setEventSource('registry_watch', true);
  metrics.setEventSource('tmux_hooks', false);
  return metrics;
}

/** The family a sample belongs to: histogram series lose their suffix. */
function familyOf(name: string, types: Map<string, string>): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && types.get(base) === 'histogram') return base;
  }
  return name;
}

describe('metrics exposition', () => {
  it('passes promtool check metrics before any cycle', async () => {
    const { body } = await someMetrics().render(false);
    const run = await runWithStdin('promtool', ['check', 'metrics'], body);
    expect(run.stdout + run.stderr).to.equal('');
    expect(run.code).to.equal(0);
  });

  it('passes promtool check metrics after a realistic cycle and audit entries', async () => {
    const { body } = await aBusyAgentMetrics().render(false);
    const run = await runWithStdin('promtool', ['check', 'metrics'], body);
    expect(run.stdout + run.stderr, body).to.equal('');
    expect(run.code).to.equal(0);
  });

  it('serves every metric name the alert rules and dashboards use', async () => {
    const e = await scrape(aBusyAgentMetrics());
    const served = new Set(e.samples.map((s) => s.name));
    const recorded = new Set<string>(RECORDING_RULE_NAMES);
    const missing = AGENT_METRIC_NAMES.filter((n) => !recorded.has(n) && !served.has(n));
    expect(missing).to.deep.equal([]);
  });

  it('serves no orchestrator family outside the documented ones', async () => {
    const e = await scrape(aBusyAgentMetrics());
    const documented = new Set<string>([
      ...AGENT_SCALAR_METRIC_NAMES,
      ...AGENT_HISTOGRAM_NAMES,
      ...Object.keys(METRIC_ADDITIONS),
    ]);
    const families = new Set(
      e.samples.map((s) => familyOf(s.name, e.types)).filter((n) => n.startsWith('orchestrator_')),
    );
    expect([...families].filter((f) => !documented.has(f))).to.deep.equal([]);
    expect([...families].sort()).to.deep.equal(Object.keys(CONTRACT).sort());
  });

  it('gives every family the type and the label names of the contract', async () => {
    const e = await scrape(aBusyAgentMetrics());
    for (const [name, contract] of Object.entries(CONTRACT)) {
      expect(e.types.get(name), name).to.equal(contract.type);
      const samples = e.samples.filter((s) => familyOf(s.name, e.types) === name);
      expect(samples, name).to.not.be.empty;
      for (const s of samples) {
        const labels = Object.keys(s.labels).filter((l) => !(contract.type === 'histogram' && l === 'le'));
        expect(labels.sort(), `${s.name} ${JSON.stringify(s.labels)}`).to.deep.equal([...contract.labels].sort());
      }
    }
  });

  it('says who it is in orchestrator_agent_info', async () => {
    const e = await scrape(someMetrics());
    expect(
      valueOf(e, 'orchestrator_agent_info', { version: '0.1.0', registry_backend: 'json', host: 'build-01' }),
    ).to.equal(1);
  });

  it('renders OpenMetrics with its content type, _total counter samples and # EOF', async () => {
    const metrics = aBusyAgentMetrics();
    const om = await metrics.render(true);
    expect(om.contentType).to.equal('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.body.endsWith('# EOF\n')).to.equal(true);
    expect(om.body).to.include('# TYPE orchestrator_retries counter\n');
    expect(om.body).to.include('\norchestrator_retries_total 2\n');
    expect(om.body).to.include('\norchestrator_queue_oldest_enqueued_timestamp_seconds ');
    expect(om.body).to.not.match(/_total_total/);
    expect(om.body).to.not.match(/ Nan$/m);
  });

  it('still renders Prometheus counters with _total after an OpenMetrics render', async () => {
    const metrics = aBusyAgentMetrics();
    await metrics.render(true);
    await metrics.render(true);
    const prom = await metrics.render(false);
    expect(prom.contentType).to.equal('text/plain; version=0.0.4; charset=utf-8');
    const e = parseExposition(prom.body);
    expect(e.types.get('orchestrator_retries_total')).to.equal('counter');
    expect(e.types.get('process_cpu_seconds_total')).to.equal('counter');
    expect(valueOf(e, 'orchestrator_retries_total')).to.equal(2);
    expect(prom.body).to.not.include('# EOF');
  });

  it('tracks event sources set by the daemon and refuses unbounded names', async () => {
    const metrics = someMetrics();
    metrics.setEventSource('pid_probe', true);
    metrics.setEventSource('pid_probe', false);
    metrics.setEventSource('registry_watch', true);
    const e = await scrape(metrics);
    expect(valueOf(e, 'orchestrator_event_source_up', { source: 'pid_probe' })).to.equal(0);
    expect(valueOf(e, 'orchestrator_event_source_up', { source: 'registry_watch' })).to.equal(1);
    expect(() => metrics.setEventSource('project 42/with spaces', true)).to.throw(TypeError);
  });

  describe('an empty queue exports NaN as its oldest enqueue time', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'metrics-rules-'));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it('spells it NaN in the exposition', async () => {
      const { body } = await someMetrics().render(false);
      expect(body).to.match(/^orchestrator_queue_oldest_enqueued_timestamp_seconds NaN$/m);
    });

    it('and OrchestratorQueueBacklogOld stays silent on NaN with work queued', async () => {
      // promtool's own series notation, fed the value the agent exports for an empty queue, evaluated
      // at 260 min: alerts/tests/queue.yml shows a real timestamp from minute 1 firing by 252 min.
      const nan = Array.from({ length: 300 }, () => 'NaN').join(' ');
      const test = [
        `rule_files: [${JSON.stringify(RULES_FILE)}]`,
        'evaluation_interval: 1m',
        'tests:',
        '  - interval: 1m',
        '    input_series:',
        `      - series: 'orchestrator_queue_oldest_enqueued_timestamp_seconds{job="orchestrator-agent", instance="a:9820"}'`,
        `        values: '${nan}'`,
        `      - series: 'orchestrator_projects{job="orchestrator-agent", instance="a:9820", state="queued"}'`,
        `        values: '1x300'`,
        '    alert_rule_test:',
        '      - eval_time: 260m',
        '        alertname: OrchestratorQueueBacklogOld',
        '        exp_alerts: []',
        '',
      ].join('\n');
      const file = join(dir, 'nan.yml');
      writeFileSync(file, test);
      const run = await runWithStdin('promtool', ['test', 'rules', file], '');
      expect(run.code, run.stdout + run.stderr).to.equal(0);
    });
  });
});
