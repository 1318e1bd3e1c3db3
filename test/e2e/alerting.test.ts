/**
 * Alerting end to end, against the real servers on loopback: `agent serve`,
 * Prometheus (the shipped rules, every `for:` shortened, evaluated every
 * second), Alertmanager (the shipped route, webhook URLs pointed at a
 * receiver inside this test, short group timers) and a real zombie project
 * on a private tmux server that the guard holds back.
 *
 * The `it`s of the first suite share one stack and run in order: the page
 * arrives, the dashboards and metric names are checked against the stuck
 * queue, then the runbook's fix (`agent kill-zombie`) heals the project and
 * the resolved notification arrives.
 */
import { expect } from 'chai';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

import { metricNames } from '../alerts/promql.js';
import { loadRuleFile, runbookAnchors, type AlertRule } from '../alerts/rule-file.js';
import { REPO_ROOT, RULES_FILE } from '../alerts/tools.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { EXPOSITION_METRIC_NAMES, RECORDING_RULE_NAMES, SCRAPE_METRIC_NAMES } from '../helpers/metric-names.js';
import {
  expositionMetricNames,
  instantQuery,
  loadedRuleGroups,
  promApi,
  rangeQuery,
  startAlertmanager,
  startPrometheus,
  WebhookReceiver,
  type QueryResult,
  type RunningServer,
} from '../helpers/monitoring.js';
import { isRunning, waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

const JOB = 'orchestrator-agent';
/** Every `for:` of the rules file becomes this in the test copy. */
const SHORT_FOR = '3s';
const EVERY_SECOND = '* * * * * *';
const DASHBOARDS_DIR = join(REPO_ROOT, 'dashboards');

// ---------------------------------------------------------------------------
// Test copies of the shipped configuration

/** The shipped rules file with every `for:` set to SHORT_FOR; everything else byte for byte. */
function shortenedRules(): string {
  const text = readFileSync(RULES_FILE, 'utf8');
  let count = 0;
  const out = text.replace(/^(\s*)for: \S+\s*$/gm, (_whole, indent: string) => {
    count += 1;
    return `${indent}for: ${SHORT_FOR}`;
  });
  const alerts = loadRuleFile().alerts.filter((a) => a.for !== null).length;
  if (count !== alerts) throw new Error(`rewrote ${count} for: lines, the rules file has ${alerts} alerts with for`);
  return out;
}

type Yaml = Record<string, unknown>;

function asRecord(value: unknown, what: string): Yaml {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} is not a map`);
  return value as Yaml;
}

function asList(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value)) throw new Error(`${what} is not a list`);
  return value;
}

/**
 * config/prometheus.yml with the test's timing and addresses: scrape and
 * evaluate every second, the rules from `rulesFile`, the agent and the
 * Alertmanager on their loopback ports. Job name and paths stay as shipped.
 */
function testPrometheusConfig(rulesFile: string, agentAddress: string, alertmanagerAddress: string): string {
  const doc = asRecord(parse(readFileSync(join(REPO_ROOT, 'config', 'prometheus.yml'), 'utf8')), 'prometheus.yml');
  const global = asRecord(doc['global'], 'global');
  global['scrape_interval'] = '1s';
  global['evaluation_interval'] = '1s';
  doc['rule_files'] = [rulesFile];
  const alerting = asRecord(doc['alerting'], 'alerting');
  const ams = asList(alerting['alertmanagers'], 'alerting.alertmanagers');
  expect(ams, 'one Alertmanager in the shipped config').to.have.length(1);
  asList(asRecord(ams[0], 'alertmanager')['static_configs'], 'static_configs').splice(0, Infinity, {
    targets: [alertmanagerAddress],
  });
  const jobs = asList(doc['scrape_configs'], 'scrape_configs').map((j, i) => asRecord(j, `scrape_configs[${i}]`));
  const job = jobs.find((j) => j['job_name'] === JOB);
  if (!job) throw new Error(`config/prometheus.yml has no ${JOB} job`);
  job['scrape_interval'] = '1s';
  job['scrape_timeout'] = '1s';
  job['static_configs'] = [{ targets: [agentAddress] }];
  return stringify(doc);
}

/**
 * config/alertmanager.yml with the receivers' webhook URLs pointed at the
 * test's receiver (`<base>/<receiver name>`) and group timers of a second
 * (repeat_interval long, so every delivery is a state change). Routing,
 * grouping and inhibition stay as shipped.
 */
function testAlertmanagerConfig(webhookBase: string): string {
  const doc = asRecord(parse(readFileSync(join(REPO_ROOT, 'config', 'alertmanager.yml'), 'utf8')), 'alertmanager.yml');
  const retime = (route: Yaml): void => {
    route['group_wait'] = '1s';
    route['group_interval'] = '1s';
    route['repeat_interval'] = '1h';
    for (const [i, child] of (Array.isArray(route['routes']) ? route['routes'] : []).entries())
      retime(asRecord(child, `routes[${i}]`));
  };
  retime(asRecord(doc['route'], 'route'));
  for (const [i, r] of asList(doc['receivers'], 'receivers').entries()) {
    const receiver = asRecord(r, `receivers[${i}]`);
    const hooks = asList(receiver['webhook_configs'], `receivers[${i}].webhook_configs`);
    for (const [j, h] of hooks.entries())
      asRecord(h, `receivers[${i}].webhook_configs[${j}]`)['url'] = `${webhookBase}/${String(receiver['name'])}`;
  }
  return stringify(doc);
}

/** Renders the `{{ $value }}` and `{{ $labels.x }}` templates of an annotation; anything fancier is refused. */
function renderAnnotation(template: string, labels: Record<string, string>, value: string): string {
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (whole, inner: string) => {
    if (inner === '$value') return value;
    const m = /^\$labels\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(inner);
    if (m?.[1] !== undefined && labels[m[1]] !== undefined) return labels[m[1]] as string;
    throw new Error(`cannot render ${whole} in ${template}`);
  });
}

// ---------------------------------------------------------------------------
// Dashboards

interface Target {
  refId: string;
  expr?: string;
  instant?: boolean;
  format?: string;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  targets?: Target[];
  panels?: Panel[];
}

interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
}

function dashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return readdirSync(DASHBOARDS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(DASHBOARDS_DIR, file), 'utf8')) as Dashboard }));
}

function panelsOf(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

function variableQuery(v: Variable): string {
  return typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
}

/** Grafana's substitution of the dashboards' variables, with the values of this stack. */
function substitute(expr: string, values: Record<string, string>): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${whole} in ${expr}`);
    return value;
  });
}

function scalarOf(r: QueryResult): number {
  expect(r.series, 'one sample').to.have.length(1);
  return Number(r.series[0]?.value?.[1]);
}

// ---------------------------------------------------------------------------

describe('e2e: alerting — agent, Prometheus, Alertmanager and a webhook receiver on loopback', function () {
  this.timeout(60_000);
  const rules = loadRuleFile();
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  let prometheus: RunningServer | null = null;
  let alertmanager: RunningServer | null = null;
  const webhook = new WebhookReceiver();
  let agentAddress = '';
  let zombiePid = 0;

  before(async function () {
    this.timeout(45_000);
    q = new TestQueue({ AGENT_SCAN_SCHEDULE: EVERY_SECOND, AGENT_MAX_KILLS_PER_CYCLE: '0' });
    // A source (tmux sessions matching nothing), so the source health series the rules and dashboards read exist.
    q.env['AGENT_SOURCES'] = JSON.stringify([
      { kind: 'tmux-sessions', name: 'observed', pattern: '^observed-none$', tmuxSocket: q.tmux.socket },
    ]);
    // A live tmux server, so the zombie's session is looked up on a real server and not found.
    q.processes.track(q.tmux.newSession('keep', ['sleep', '600']));
    const zombie = q.processes.spawn('sleep', ['600'], { detached: true, stdio: 'ignore' });
    zombiePid = zombie.pid as number;
    await waitUntil(
      () => readFileSync(`/proc/${zombiePid}/comm`, 'utf8').trim() === 'sleep',
      15_000,
      'the zombie process to exec',
    );
    q.write([
      q.project({ id: 'z1', session: 'z1-gone', ...q.identity(zombiePid), heartbeatAt: new Date().toISOString() }),
    ]);
    expect((await q.agent(['enqueue', '--id', 'q1'])).code).to.equal(0);

    agent = await startAgent(q.env, q.dir.path);
    agentAddress = agent.url.replace('http://', '');
    await eventually(() => q.get('z1').state === 'zombie', 10_000, 'z1 to be found a zombie');

    await webhook.start();
    const amDir = join(q.dir.path, 'alertmanager');
    mkdirSync(join(amDir, 'data'), { recursive: true });
    writeFileSync(join(amDir, 'alertmanager.yml'), testAlertmanagerConfig(webhook.url));
    alertmanager = await startAlertmanager(join(amDir, 'alertmanager.yml'), join(amDir, 'data'));

    const promDir = join(q.dir.path, 'prometheus');
    mkdirSync(join(promDir, 'data'), { recursive: true });
    writeFileSync(join(promDir, 'rules.yml'), shortenedRules());
    writeFileSync(
      join(promDir, 'prometheus.yml'),
      testPrometheusConfig(join(promDir, 'rules.yml'), agentAddress, alertmanager.address),
    );
    prometheus = await startPrometheus(join(promDir, 'prometheus.yml'), join(promDir, 'data'));
    const prom = prometheus.url;
    await eventually(
      async () => scalarOf(await instantQuery(prom, `up{job="${JOB}"}`)) === 1,
      15_000,
      'Prometheus to scrape the agent',
    );

    // A project that runs and completes while Prometheus watches, so the
    // transition counters move from a scraped 0 (success ratio, durations).
    const worker = await q.processes.sleeper({ detached: true });
    expect((await q.agent(['enqueue', '--id', 'c1'])).code).to.equal(0);
    expect((await q.agent(['start', 'c1', '--pid', String(worker)])).code).to.equal(0);
    expect((await q.agent(['complete', 'c1'])).code).to.equal(0);
    // Settled: Prometheus has scraped the completion and recorded the success ratio from it.
    await eventually(
      async () =>
        (await instantQuery(prom, `instance:orchestrator_project_success:ratio_increase1h{job="${JOB}"} == 1`)).series
          .length === 1,
      15_000,
      'the completion of c1 to reach the recorded success ratio',
    );
  });

  after(async () => {
    await prometheus?.stop();
    await alertmanager?.stop();
    await webhook.close();
    await agent?.stop('SIGKILL');
    await q?.destroy();
  });

  function stuckRule(): AlertRule {
    const rule = rules.alerts.find((a) => a.alert === 'OrchestratorProjectStuck');
    if (!rule) throw new Error('no OrchestratorProjectStuck in the rules file');
    return rule;
  }

  it('a zombie the guard holds back pages: OrchestratorProjectStuck reaches the paging receiver with its labels and annotations', async () => {
    const rule = stuckRule();
    const page = await eventually(
      () =>
        webhook.alerts('/page').find((a) => a.alert.labels['alertname'] === rule.alert && a.alert.status === 'firing'),
      30_000,
      'the OrchestratorProjectStuck page',
    );
    const labels = { alertname: rule.alert, severity: 'critical', job: JOB, instance: agentAddress, kind: 'zombie' };
    expect(page.delivery.body.receiver).to.equal('page');
    expect(page.delivery.body.groupLabels).to.deep.equal({ alertname: rule.alert, instance: agentAddress });
    expect(page.alert.labels).to.deep.equal(labels);
    expect(page.alert.annotations).to.deep.equal({
      summary: rule.annotations['summary'],
      description: renderAnnotation(rule.annotations['description'] ?? '', labels, '1'),
      runbook_url: rule.annotations['runbook_url'],
    });
    expect(page.alert.annotations['description']).to.equal(
      `1 project(s) on ${agentAddress} are stuck as zombie, longer than the agent needs to heal them.`,
    );
    const anchor = (page.alert.annotations['runbook_url'] ?? '').split('#')[1] ?? '';
    expect([...runbookAnchors()]).to.include(anchor);

    // It is really the guard holding the kill back: the process lives, the project is still a zombie.
    expect(isRunning(zombiePid)).to.equal(true);
    expect(q.get('z1').state).to.equal('zombie');
    const metrics = await (await fetch(`${agent!.url}/metrics`)).text();
    expect(metrics).to.match(/^orchestrator_stuck_projects\{kind="zombie"\} 1$/m);
    expect(metrics).to.match(/^orchestrator_heal_blocked_total\{reason="too_many_kills"\} [1-9]/m);
  });

  it('the guard holding kills back opens a ticket (OrchestratorHealBlocked at the ticket receiver), and nothing crosses receivers', async () => {
    const rule = rules.alerts.find((a) => a.alert === 'OrchestratorHealBlocked');
    const ticket = await eventually(
      () =>
        webhook
          .alerts('/ticket')
          .find((a) => a.alert.labels['alertname'] === 'OrchestratorHealBlocked' && a.alert.status === 'firing'),
      20_000,
      'the OrchestratorHealBlocked ticket',
    );
    expect(ticket.delivery.body.receiver).to.equal('ticket');
    expect(ticket.alert.labels).to.deep.equal({
      alertname: 'OrchestratorHealBlocked',
      severity: 'warning',
      job: JOB,
      instance: agentAddress,
      reason: 'too_many_kills',
    });
    expect(ticket.alert.annotations['runbook_url']).to.equal(rule?.annotations['runbook_url']);
    expect(ticket.alert.annotations['description']).to.contain('reason too_many_kills');
    for (const { alert } of webhook.alerts('/page'))
      expect(alert.labels['severity'], alert.labels['alertname']).to.equal('critical');
    for (const { alert } of webhook.alerts('/ticket'))
      expect(alert.labels['severity'], alert.labels['alertname']).to.equal('warning');
    expect(
      webhook.deliveries.every((d) => d.path === '/page' || d.path === '/ticket'),
      'only the two receivers',
    ).to.equal(true);
    // No false positives on an agent that scans fine: only the two alerts this queue deserves are active.
    const active = await promApi<{ alerts: Array<{ labels: Record<string, string>; state: string }> }>(
      prometheus!.url,
      '/api/v1/alerts',
    );
    expect(active.alerts.map((a) => `${a.labels['alertname']} ${a.state}`).sort()).to.deep.equal([
      'OrchestratorHealBlocked firing',
      'OrchestratorProjectStuck firing',
    ]);
  });

  it('every panel target of every dashboard runs against Prometheus with its variables substituted, and the key panels return data', async () => {
    const prom = prometheus!.url;
    const values: Record<string, string> = {
      job: JOB,
      instance: agentAddress,
      project: 'z1',
      __rate_interval: '1m',
      __interval: '1m',
      __range: '1h',
    };

    // The variables offer the values substituted below (label_values is /api/v1/label/<l>/values?match[]=).
    for (const { file, dashboard } of dashboards()) {
      for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) {
        const m = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/s.exec(variableQuery(v).trim());
        if (!m?.[1] || !m[2]) throw new Error(`${file}: variable ${v.name} is not label_values(selector, label)`);
        const offered = await promApi<string[]>(prom, `/api/v1/label/${m[2]}/values`, {
          'match[]': substitute(m[1], values),
        });
        expect(offered, `${file}: variable ${v.name}`).to.include(values[v.name]);
      }
    }

    /** Every target, as an instant query (stat and table panels) and, for time-series panels, a range query too. */
    const runAll = async (
      vars: Record<string, string>,
    ): Promise<{ results: Map<string, QueryResult>; failures: string[] }> => {
      const results = new Map<string, QueryResult>();
      const failures: string[] = [];
      for (const { file, dashboard } of dashboards()) {
        for (const panel of panelsOf(dashboard)) {
          for (const target of panel.targets ?? []) {
            if (target.expr === undefined) continue;
            // $datasource selects the data source; it never appears inside a query.
            const query = substitute(target.expr.replace(/\$\{?datasource\}?/g, ''), vars);
            try {
              results.set(`${dashboard.uid}/${panel.title}/${target.refId}`, await instantQuery(prom, query));
              if (target.instant !== true) await rangeQuery(prom, query, 60);
            } catch (err) {
              failures.push(`${file} panel "${panel.title}" ${target.refId}: ${(err as Error).message}`);
            }
          }
        }
      }
      return { results, failures };
    };
    const { results, failures } = await runAll(values);
    expect(failures, failures.join('\n')).to.deep.equal([]);
    expect(results.size).to.be.above(30);
    // The dashboards open with job and instance on "All" (.+): the same queries, the same series here (one agent).
    const all = await runAll({ ...values, job: '.+', instance: '.+' });
    expect(all.failures, all.failures.join('\n')).to.deep.equal([]);
    for (const [key, r] of results)
      expect(all.results.get(key)?.series.length, `${key} with All`).to.equal(r.series.length);

    const get = (key: string): QueryResult => {
      const r = results.get(key);
      if (!r) throw new Error(`no panel target ${key}`);
      return r;
    };
    const byLabel = (r: QueryResult, label: string): Record<string, number> =>
      Object.fromEntries(r.series.map((s) => [s.metric[label] ?? '', Number(s.value?.[1])]));

    const health = 'orchestrator-queue-health';
    expect(scalarOf(get(`${health}/Queued/A`))).to.equal(1);
    expect(scalarOf(get(`${health}/Processing/A`))).to.equal(0);
    expect(scalarOf(get(`${health}/Stuck/A`))).to.equal(1);
    expect(byLabel(get(`${health}/Projects by state/A`), 'state')).to.deep.equal({
      queued: 1,
      processing: 0,
      timing_out: 0,
      zombie: 1,
      failed: 0,
      completed: 1,
    });
    expect(byLabel(get(`${health}/Stuck by kind/A`), 'kind')).to.include({ zombie: 1 });
    const scan = byLabel(get(`${health}/Scan duration p50 / p99/A`), 'quantile');
    expect(Object.keys(scan).sort()).to.deep.equal(['0.5', '0.99']);
    for (const [quantile, seconds] of Object.entries(scan))
      expect(seconds, `scan duration p${quantile}`).to.be.within(0, 30);
    expect(scalarOf(get(`${health}/Success ratio (1 h)/A`))).to.equal(1);
    expect(scalarOf(get(`${health}/Last successful scan/A`))).to.be.within(0, 10);
    expect(scalarOf(get(`${health}/Queue blocked/A`))).to.equal(0);
    expect(scalarOf(get(`${health}/Queue paused/A`))).to.equal(0);
    expect(byLabel(get(`${health}/Stuck and active projects/A`), 'project')).to.deep.equal({ z1: 1, q1: 1 });
    expect(byLabel(get(`${health}/Held-back actions (guard)/A`), 'reason')['too_many_kills']).to.be.above(0);
    expect(get(`${health}/Scrape status (up)/A`).series.map((s) => s.value?.[1])).to.deep.equal(['1']);

    const detail = 'orchestrator-project-detail';
    expect(get(`${detail}/State/A`).series.map((s) => s.metric['state'])).to.deep.equal(['zombie']);
    expect(get(`${detail}/Session/A`).series.map((s) => s.metric['session'])).to.deep.equal(['z1-gone']);
    expect(scalarOf(get(`${detail}/Runtime/A`))).to.be.above(5);
    expect(scalarOf(get(`${detail}/Heartbeat age/A`))).to.be.at.least(0);
    expect(scalarOf(get(`${detail}/Resident memory/A`))).to.be.above(0);
    expect(scalarOf(get(`${detail}/CPU/A`))).to.be.at.least(0);
  });

  it('every metric name the rules and dashboards use is in the live /metrics exposition', async () => {
    const live = expositionMetricNames(await (await fetch(`${agent!.url}/metrics`)).text());
    const recorded = new Set(rules.records.map((r) => r.record));
    const fromPrometheus = new Set<string>([...recorded, ...SCRAPE_METRIC_NAMES]);
    const missing: string[] = [];
    const check = (where: string, expr: string): void => {
      for (const name of metricNames(expr))
        if (!fromPrometheus.has(name) && !live.has(name)) missing.push(`${where}: ${name}`);
    };
    for (const a of rules.alerts) check(`alert ${a.alert}`, a.expr);
    for (const r of rules.records) check(`record ${r.record}`, r.expr);
    for (const { file, dashboard } of dashboards()) {
      for (const v of dashboard.templating.list)
        if (v.type === 'query')
          check(`${file} variable ${v.name}`, variableQuery(v).replace(/^label_values\((.*),\s*\w+\)$/s, '$1'));
      for (const p of panelsOf(dashboard))
        for (const t of p.targets ?? []) if (t.expr) check(`${file} panel "${p.title}"`, t.expr);
    }
    expect(missing, `not exported by the agent:\n${missing.join('\n')}`).to.deep.equal([]);
    // The shared list of names (used by the static rule and dashboard tests) matches the agent too.
    expect(
      EXPOSITION_METRIC_NAMES.filter((n) => !live.has(n)),
      'names of metric-names.ts the agent does not export',
    ).to.deep.equal([]);
    expect([...recorded].sort()).to.deep.equal([...RECORDING_RULE_NAMES].sort());
  });

  it("Prometheus loaded every rule group healthy, and each recording rule produces series from the agent's data", async () => {
    const prom = prometheus!.url;
    const groups = await eventually(
      async () => {
        const loaded = await loadedRuleGroups(prom);
        return loaded.every((g) => g.rules.every((r) => r.health === 'ok')) ? loaded : null;
      },
      10_000,
      'every rule to have been evaluated',
    );
    expect(groups.map((g) => g.name)).to.have.members(rules.groups);
    const loadedNames = groups.flatMap((g) => g.rules.map((r) => r.name));
    expect(loadedNames).to.have.members([...rules.alerts.map((a) => a.alert), ...rules.records.map((r) => r.record)]);
    for (const g of groups) for (const r of g.rules) expect(r.lastError ?? '', `${g.name}/${r.name}`).to.equal('');

    for (const record of new Set(rules.records.map((r) => r.record))) {
      const r = await instantQuery(prom, `${record}{job="${JOB}",instance="${agentAddress}"}`);
      expect(r.series.length, `${record} has series`).to.be.above(0);
      for (const s of r.series)
        expect(
          Number.isFinite(Number(s.value?.[1])),
          `${record} ${JSON.stringify(s.metric)} = ${s.value?.[1]}`,
        ).to.equal(true);
    }
  });

  it("healed by the runbook's fix (agent kill-zombie), the page resolves: the resolved notification arrives", async () => {
    const rule = stuckRule();
    await eventually(
      () =>
        webhook.alerts('/page').some((a) => a.alert.labels['alertname'] === rule.alert && a.alert.status === 'firing'),
      30_000,
      'the page to have fired first',
    );
    const killed = await q.agent(['kill-zombie', 'z1']);
    expect(killed.code, killed.stderr).to.equal(0);
    expect(isRunning(zombiePid)).to.equal(false);
    const resolved = await eventually(
      () =>
        webhook
          .alerts('/page')
          .find((a) => a.alert.labels['alertname'] === rule.alert && a.alert.status === 'resolved'),
      30_000,
      'the resolved OrchestratorProjectStuck notification',
    );
    expect(resolved.delivery.body.status).to.equal('resolved');
    expect(resolved.delivery.body.receiver).to.equal('page');
    expect(resolved.alert.labels).to.deep.equal({
      alertname: rule.alert,
      severity: 'critical',
      job: JOB,
      instance: agentAddress,
      kind: 'zombie',
    });
    expect(Date.parse(resolved.alert.endsAt)).to.be.at.most(Date.now());
    expect(q.get('z1').state).to.be.oneOf(['failed', 'queued']);
    expect(q.get('z1').failureReason).to.equal('zombie');
  });
});

describe('e2e: config/prometheus.yml and the rules load in the real prometheus', function () {
  this.timeout(30_000);
  let q: TestQueue;
  let prometheus: RunningServer | null = null;
  before(() => {
    q = new TestQueue();
  });
  after(async () => {
    await prometheus?.stop();
    await q.destroy();
  });

  it('loads every rule group, scrapes the orchestrator-agent job and points at the Alertmanager', async () => {
    // The layout of the repository: config/prometheus.yml refers to ../alerts/.
    const root = join(q.dir.path, 'repo');
    mkdirSync(join(root, 'config'), { recursive: true });
    mkdirSync(join(root, 'alerts'), { recursive: true });
    mkdirSync(join(root, 'data'));
    copyFileSync(join(REPO_ROOT, 'config', 'prometheus.yml'), join(root, 'config', 'prometheus.yml'));
    copyFileSync(RULES_FILE, join(root, 'alerts', 'orchestrator-agent.rules.yml'));
    prometheus = await startPrometheus(join(root, 'config', 'prometheus.yml'), join(root, 'data'));
    const prom = prometheus.url;

    const rules = loadRuleFile();
    const groups = await loadedRuleGroups(prom);
    expect(groups.map((g) => g.name)).to.have.members(rules.groups);
    for (const g of groups) expect(g.file, g.name).to.equal(join(root, 'alerts', 'orchestrator-agent.rules.yml'));
    expect(groups.flatMap((g) => g.rules.map((r) => r.name))).to.have.members([
      ...rules.alerts.map((a) => a.alert),
      ...rules.records.map((r) => r.record),
    ]);

    const targets = await eventually(
      async () => {
        const t = await promApi<{ activeTargets: Array<{ labels: Record<string, string>; scrapeUrl: string }> }>(
          prom,
          '/api/v1/targets',
        );
        return t.activeTargets.length > 0 ? t.activeTargets : null;
      },
      10_000,
      'the scrape target to be discovered',
    );
    expect(targets.map((t) => [t.labels['job'], t.scrapeUrl])).to.deep.equal([[JOB, 'http://localhost:9820/metrics']]);
    const ams = await eventually(
      async () => {
        const a = await promApi<{ activeAlertmanagers: Array<{ url: string }> }>(prom, '/api/v1/alertmanagers');
        return a.activeAlertmanagers.length > 0 ? a.activeAlertmanagers : null;
      },
      10_000,
      'the Alertmanager to be discovered',
    );
    expect(ams.map((a) => a.url)).to.deep.equal(['http://localhost:9093/api/v2/alerts']);
  });
});
