import { expect } from 'chai';

import {
  AGENT_METRIC_NAMES,
  RECORDING_RULE_NAMES,
  SCRAPE_METRIC_NAMES,
  isCounterSeries,
} from '../helpers/metric-names.js';
import { isInsideRate, metricNames, selectors } from './promql.js';
import {
  alertBlockText,
  githubAnchor,
  loadAlertTestCases,
  loadRuleFile,
  runbookAnchors,
  runbookSectionAnchors,
} from './rule-file.js';
import { RULES_FILE, RUNBOOK_BASE_URL, expectToolSuccess, ruleTestFiles } from './tools.js';

const ALLOWED_NAMES = new Set<string>([...AGENT_METRIC_NAMES, ...SCRAPE_METRIC_NAMES]);

/** The alerts the runbooks and the Alertmanager route are written for; more are welcome, none may go missing. */
const REQUIRED_ALERTS = [
  'OrchestratorAgentDown',
  'OrchestratorAgentAbsent',
  'OrchestratorScanStale',
  'OrchestratorQueueBlocked',
  'OrchestratorProjectStuck',
  'OrchestratorHeartbeatStale',
  'OrchestratorQueueBacklogOld',
  'OrchestratorHighFailureRatio',
  'OrchestratorQueuePaused',
  'OrchestratorCircuitBreakerOpen',
  'OrchestratorHealActionsFailing',
  'OrchestratorHealBlocked',
  'OrchestratorRegistryErrors',
  'OrchestratorScanErrors',
  'OrchestratorNoLeader',
  'OrchestratorMultipleLeaders',
];

describe('alert rules (promtool)', function () {
  this.timeout(120_000);

  it('pass promtool check rules without lint findings', async () => {
    const result = await expectToolSuccess('promtool', ['check', 'rules', RULES_FILE]);
    expect(result.stdout + result.stderr, 'promtool output')
      .to.match(/SUCCESS/)
      .and.not.match(/lint|warning/i);
  });

  it('pass every promtool unit test in alerts/tests', async () => {
    const files = ruleTestFiles();
    expect(files, 'alerts/tests/*.yml').to.not.be.empty;
    const result = await expectToolSuccess('promtool', ['test', 'rules', ...files]);
    expect(result.stdout + result.stderr).to.not.match(/FAILED/);
  });
});

describe('alert rules (structure)', () => {
  const rules = loadRuleFile();
  const alertNames = [...new Set(rules.alerts.map((a) => a.alert))];
  const anchors = runbookAnchors();

  it('define every required alert', () => {
    expect(alertNames).to.include.members(REQUIRED_ALERTS);
  });

  for (const alert of rules.alerts) {
    describe(alert.alert, () => {
      it('has severity critical or warning', () => {
        expect(alert.labels['severity'], `${alert.alert} severity`).to.be.oneOf(['critical', 'warning']);
      });

      it('has a one-sentence summary', () => {
        const summary = alert.annotations['summary'] ?? '';
        expect(summary, `${alert.alert} summary`).to.match(/^[A-Z][^\n]*\.$/);
        expect(summary.slice(0, -1), `${alert.alert} summary is one sentence`).to.not.match(/[.!?]\s/);
      });

      it('has a description templated with its labels and value', () => {
        const description = alert.annotations['description'] ?? '';
        expect(description, `${alert.alert} description`).to.include('$labels.');
        // absent() is always 1: there is no value worth printing.
        if (!/^\s*absent\(/.test(alert.expr)) expect(description, `${alert.alert} description`).to.include('$value');
      });

      it('links a runbook section that exists', () => {
        const url = alert.annotations['runbook_url'] ?? '';
        expect(url, `${alert.alert} runbook_url`).to.equal(`${RUNBOOK_BASE_URL}#${githubAnchor(alert.alert)}`);
        const anchor = url.split('#')[1] ?? '';
        expect([...anchors], `docs/runbooks.md headings (${alert.alert})`).to.include(anchor);
      });

      it('waits a `for` duration explained in a comment', () => {
        expect(alert.for, `${alert.alert} for`).to.match(/^\d+[smh]$/);
        expect(alertBlockText(rules.text, alert.alert), `${alert.alert}: a "# for <duration>: why" comment`).to.match(
          new RegExp(`#\\s*for ${alert.for}\\b`),
        );
      });

      it('selects only the orchestrator-agent job', () => {
        for (const s of selectors(alert.expr)) {
          const job = s.matchers.find((m) => m.label === 'job');
          expect(job, `${alert.alert}: ${s.name} has a job matcher`).to.deep.equal({
            label: 'job',
            op: '=',
            value: 'orchestrator-agent',
          });
        }
      });
    });
  }

  it('use counters only inside rate() or increase()', () => {
    for (const rule of [
      ...rules.alerts.map((a) => ({ name: a.alert, expr: a.expr })),
      ...rules.records.map((r) => ({ name: r.record, expr: r.expr })),
    ]) {
      for (const s of selectors(rule.expr)) {
        if (isCounterSeries(s.name))
          expect(isInsideRate(s), `${rule.name}: counter ${s.name} outside rate/increase`).to.equal(true);
      }
    }
  });

  it('use only metric names from test/helpers/metric-names.ts', () => {
    for (const rule of [
      ...rules.alerts.map((a) => ({ name: a.alert, expr: a.expr })),
      ...rules.records.map((r) => ({ name: r.record, expr: r.expr })),
    ]) {
      for (const name of metricNames(rule.expr)) {
        expect(ALLOWED_NAMES.has(name), `${rule.name} uses ${name}, which is not in metric-names.ts`).to.equal(true);
      }
    }
  });

  it('record exactly the series listed in RECORDING_RULE_NAMES, named level:metric:operations', () => {
    expect([...new Set(rules.records.map((r) => r.record))].sort()).to.deep.equal([...RECORDING_RULE_NAMES].sort());
    for (const r of rules.records) {
      expect(r.record).to.match(/^[a-z_]+:orchestrator_[a-z_]+:[a-z0-9_]+$/);
      expect(r.record, 'a recorded series is no longer a counter').to.not.match(/_total(:|$)/);
    }
  });

  it('keep recording rules in a group of their own', () => {
    const recordingGroups = new Set(rules.records.map((r) => r.group));
    const alertGroups = new Set(rules.alerts.map((a) => a.group));
    expect([...recordingGroups].filter((g) => alertGroups.has(g))).to.deep.equal([]);
  });

  it('have one runbook section per alert and no section without an alert', () => {
    const sections = runbookSectionAnchors();
    expect(sections.sort()).to.deep.equal(alertNames.map(githubAnchor).sort());
  });
});

describe('alert rule unit tests (coverage)', () => {
  const rules = loadRuleFile();
  const cases = loadAlertTestCases();
  const alertNames = [...new Set(rules.alerts.map((a) => a.alert))];

  for (const name of alertNames) {
    const severity = rules.alerts.find((a) => a.alert === name)?.labels['severity'];

    it(`${name} is tested both firing and silent`, () => {
      const mine = cases.filter((c) => c.alertname === name);
      expect(
        mine.some((c) => c.expAlerts.length > 0),
        `${name}: a case where it fires`,
      ).to.equal(true);
      expect(
        mine.some((c) => c.expAlerts.length === 0),
        `${name}: a case where it stays silent`,
      ).to.equal(true);
    });

    if (severity === 'critical') {
      it(`${name} (pages) asserts exact labels and every annotation when it fires`, () => {
        const firing = cases.filter((c) => c.alertname === name).flatMap((c) => c.expAlerts);
        expect(firing).to.not.be.empty;
        for (const a of firing) {
          expect(a.labels, `${name} exp_labels`).to.include({ severity: 'critical' });
          expect(a.labels, `${name} exp_labels`).to.have.property('job');
          expect(Object.keys(a.annotations).sort(), `${name} exp_annotations`).to.deep.equal([
            'description',
            'runbook_url',
            'summary',
          ]);
        }
      });
    }
  }

  it('name only alerts that exist in the rule file', () => {
    for (const c of cases) expect(alertNames, `${c.file}: ${c.group}`).to.include(c.alertname);
  });
});
