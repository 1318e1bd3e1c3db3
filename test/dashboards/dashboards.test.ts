import { expect } from 'chai';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';

import { AGENT_METRIC_NAMES, SCRAPE_METRIC_NAMES, isCounterSeries } from '../helpers/metric-names.js';
import { isInsideRate, rateCallCount, selectors } from '../alerts/promql.js';
import { REPO_ROOT, expectToolSuccess } from '../alerts/tools.js';

const DASHBOARDS_DIR = join(REPO_ROOT, 'dashboards');
const ALLOWED_NAMES = new Set<string>([...AGENT_METRIC_NAMES, ...SCRAPE_METRIC_NAMES]);

/** Grafana unit ids this project uses or may reasonably use (names from Grafana's value formats). */
const GRAFANA_UNITS = new Set([
  'none',
  'string',
  'short',
  'percent',
  'percentunit',
  'bytes',
  'decbytes',
  's',
  'ms',
  'm',
  'h',
  'd',
  'dtdurations',
  'dtdurationms',
  'dateTimeAsIso',
  'dateTimeFromNow',
  'ops',
  'opm',
  'cps',
  'cpm',
  'reqps',
  'bool',
  'bool_yes_no',
  'bool_on_off',
]);

const EXPECTED = [
  { file: 'orchestrator-queue-health.json', uid: 'orchestrator-queue-health', title: 'Orchestrator queue health' },
  {
    file: 'orchestrator-project-detail.json',
    uid: 'orchestrator-project-detail',
    title: 'Orchestrator project detail',
  },
];

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
  panels?: Panel[];
  fieldConfig?: { defaults?: { unit?: string } };
}

interface Variable {
  name: string;
  label?: string;
  type: string;
  query?: string | { query?: string };
  datasource?: { type?: string; uid?: string };
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  refresh?: number;
}

interface Dashboard {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list: Variable[] };
  links?: Array<{ url: string }>;
}

function loadDashboard(file: string): Dashboard {
  const text = readFileSync(join(DASHBOARDS_DIR, file), 'utf8');
  return JSON.parse(text) as Dashboard;
}

/** Panels of a dashboard, rows flattened (rows themselves carry no queries). */
function allPanels(d: Dashboard): Panel[] {
  return d.panels.flatMap((p) => (p.type === 'row' ? (p.panels ?? []) : [p]));
}

function variableQuery(v: Variable): string {
  return typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
}

/** The Grafana variables an expression may use, with values that make it plain PromQL for promtool. */
const VARIABLE_VALUES: Record<string, string> = {
  __rate_interval: '1m',
  __range: '1d',
  __interval: '1m',
  job: '.+',
  instance: '.+',
  project: 'demo-project',
};

function substituteVariables(expr: string): string {
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    const value = VARIABLE_VALUES[name];
    if (value === undefined) throw new Error(`unknown Grafana variable ${whole} in ${expr}`);
    return value;
  });
}

/** First argument of label_values(expr, label). */
function labelValuesSelector(query: string): string {
  const m = /^label_values\((.*),\s*([A-Za-z_][A-Za-z0-9_]*)\)$/s.exec(query.trim());
  if (!m?.[1]) throw new Error(`not a label_values(<selector>, <label>) query: ${query}`);
  return m[1];
}

describe('dashboards', () => {
  it('are exactly the two shipped dashboards, valid JSON, with stable uids and titles', () => {
    const files = readdirSync(DASHBOARDS_DIR)
      .filter((f) => f.endsWith('.json'))
      .sort();
    expect(files).to.deep.equal(EXPECTED.map((e) => e.file).sort());
    for (const e of EXPECTED) {
      const d = loadDashboard(e.file);
      expect(d.uid, e.file).to.equal(e.uid);
      expect(d.title, e.file).to.equal(e.title);
    }
  });

  for (const e of EXPECTED) {
    describe(e.title, () => {
      const d = loadDashboard(e.file);
      const panels = allPanels(d);
      const variables = d.templating.list;
      const targets = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p, target: t })));

      it('has a Prometheus data source variable named datasource', () => {
        const ds = variables.find((v) => v.type === 'datasource');
        expect(ds?.name).to.equal('datasource');
        expect(ds?.query).to.equal('prometheus');
      });

      for (const name of ['job', 'instance']) {
        it(`has a multi-select ${name} variable (All = .+) queried through $datasource, refreshed on time change`, () => {
          const v = variables.find((x) => x.name === name);
          expect(v, name).to.not.equal(undefined);
          expect(v?.type).to.equal('query');
          expect(v?.datasource?.uid).to.equal('${datasource}');
          expect(v?.multi).to.equal(true);
          expect(v?.includeAll).to.equal(true);
          expect(v?.allValue).to.equal('.+');
          expect(v?.refresh).to.equal(2);
        });
      }

      it('queries its variables with label_values over valid selectors', () => {
        for (const v of variables.filter((x) => x.type === 'query')) {
          const selector = labelValuesSelector(variableQuery(v));
          for (const s of selectors(selector)) expect(ALLOWED_NAMES.has(s.name), `${v.name}: ${s.name}`).to.equal(true);
        }
      });

      it('has unique panel ids that fit the 24-column grid', () => {
        const ids = panels.map((p) => p.id);
        expect(new Set(ids).size, 'unique ids').to.equal(ids.length);
        for (const p of panels) expect(p.gridPos.x + p.gridPos.w, p.title).to.be.at.most(24);
      });

      for (const p of panels) {
        it(`panel "${p.title}" has a description, a unit, the templated data source and queries`, () => {
          expect(p.description ?? '', `${p.title}: description`).to.match(/\S{3,}/);
          const unit = p.fieldConfig?.defaults?.unit;
          expect(unit, `${p.title}: fieldConfig.defaults.unit`).to.be.a('string');
          expect(GRAFANA_UNITS.has(unit ?? ''), `${p.title}: unit ${unit}`).to.equal(true);
          expect(p.datasource?.uid, `${p.title}: datasource`).to.equal('${datasource}');
          expect(p.targets ?? [], `${p.title}: targets`).to.not.be.empty;
        });
      }

      it('selects every series by $job and $instance', () => {
        for (const { panel, target } of targets) {
          const found = selectors(target.expr);
          expect(found, `${panel.title} ${target.refId}: no selector`).to.not.be.empty;
          for (const s of found) {
            const where = `${panel.title} ${target.refId}: ${s.name}`;
            expect(s.matchers, where).to.deep.include({ label: 'job', op: '=~', value: '$job' });
            expect(s.matchers, where).to.deep.include({ label: 'instance', op: '=~', value: '$instance' });
          }
        }
      });

      it('uses $__rate_interval in every rate (or $__range in single-value stats)', () => {
        for (const { panel, target } of targets) {
          const ranged = selectors(target.expr).filter((s) => s.range !== null);
          expect(
            ranged.filter(isInsideRate).length,
            `${panel.title}: every rate()/increase() takes a selector`,
          ).to.equal(rateCallCount(target.expr));
          for (const s of ranged) {
            const allowed = panel.type === 'stat' ? ['$__rate_interval', '$__range'] : ['$__rate_interval'];
            expect(allowed, `${panel.title} ${target.refId}: ${s.name}[${s.range}]`).to.include(s.range);
          }
        }
      });

      it('uses counters only inside rate() or increase()', () => {
        for (const { panel, target } of targets) {
          for (const s of selectors(target.expr)) {
            if (isCounterSeries(s.name))
              expect(isInsideRate(s), `${panel.title}: ${s.name} outside rate/increase`).to.equal(true);
          }
        }
      });

      it('uses only metric names from test/helpers/metric-names.ts', () => {
        for (const { panel, target } of targets) {
          for (const s of selectors(target.expr)) {
            expect(ALLOWED_NAMES.has(s.name), `${panel.title}: ${s.name} is not in metric-names.ts`).to.equal(true);
          }
        }
      });

      it('leaves the data source of each query to the panel variable', () => {
        for (const { panel, target } of targets) {
          if (target.datasource)
            expect(target.datasource.uid, `${panel.title} ${target.refId}`).to.equal('${datasource}');
        }
      });

      it('links only to dashboards that exist', () => {
        const uids = EXPECTED.map((x) => x.uid);
        for (const link of d.links ?? []) {
          const m = /^\/d\/([^/?]+)/.exec(link.url);
          if (m?.[1]) expect(uids, link.url).to.include(m[1]);
        }
      });
    });
  }

  it('parse as PromQL: every panel query and variable selector passes promtool check rules', async function () {
    this.timeout(60_000);
    const rules: Array<{ record: string; expr: string }> = [];
    for (const e of EXPECTED) {
      const d = loadDashboard(e.file);
      for (const p of allPanels(d)) {
        for (const t of p.targets ?? [])
          rules.push({ record: `dashboard:check:${rules.length}`, expr: substituteVariables(t.expr) });
      }
      for (const v of d.templating.list.filter((x) => x.type === 'query')) {
        rules.push({
          record: `dashboard:check:${rules.length}`,
          expr: substituteVariables(labelValuesSelector(variableQuery(v))),
        });
      }
    }
    const dir = mkdtempSync(join(tmpdir(), 'toa-dashboards-'));
    try {
      const file = join(dir, 'dashboard-queries.rules.yml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboard-queries', rules }] }));
      await expectToolSuccess('promtool', ['check', 'rules', file]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('Orchestrator queue health', () => {
    const panels = allPanels(loadDashboard('orchestrator-queue-health.json'));
    const byTitle = (title: string): Panel | undefined => panels.find((p) => p.title === title);

    it('has the stats queued, processing, stuck, failed in 24 h and success ratio', () => {
      for (const title of ['Queued', 'Processing', 'Stuck', 'Failed (24 h)', 'Success ratio (1 h)']) {
        expect(byTitle(title)?.type, title).to.equal('stat');
      }
      expect((byTitle('Failed (24 h)') as Panel & { timeFrom?: string }).timeFrom).to.equal('24h');
    });

    it('has the time series of queue, transitions, heals, retries, breakers and scans', () => {
      for (const title of [
        'Projects by state',
        'Transitions by target state',
        'Heal actions',
        'Retries',
        'Circuit breakers',
        'Scan duration p50 / p99',
        'Scan errors by source',
      ]) {
        expect(byTitle(title)?.type, title).to.equal('timeseries');
      }
    });

    it('reads transitions, success ratio and scan quantiles from the recording rules', () => {
      const exprOf = (title: string): string => (byTitle(title)?.targets ?? []).map((t) => t.expr).join('\n');
      expect(exprOf('Transitions by target state')).to.include('instance_to:orchestrator_state_transitions:rate5m');
      expect(exprOf('Success ratio (1 h)')).to.include('instance:orchestrator_projects_finished:increase1h');
      expect(exprOf('Success ratio (rolling 1 h)')).to.include(
        'instance:orchestrator_project_success:ratio_increase1h',
      );
      expect(exprOf('Scan duration p50 / p99')).to.include(
        'instance_quantile:orchestrator_scan_duration_seconds:histogram_quantile_rate5m',
      );
    });

    it('tables stuck and active projects from the info metric joined with the per-project timestamps', () => {
      const table = byTitle('Stuck and active projects') as Panel & { transformations?: Array<{ id: string }> };
      expect(table?.type).to.equal('table');
      const names = (table.targets ?? []).flatMap((t) => selectors(t.expr).map((s) => s.name));
      expect(names).to.include.members([
        'orchestrator_active_project_info',
        'orchestrator_active_project_started_timestamp_seconds',
        'orchestrator_active_project_heartbeat_timestamp_seconds',
      ]);
      expect((table.transformations ?? []).map((t) => t.id)).to.include('merge');
    });
  });

  describe('Orchestrator project detail', () => {
    const d = loadDashboard('orchestrator-project-detail.json');

    it('chooses one project with a single-select project variable', () => {
      const v = d.templating.list.find((x) => x.name === 'project');
      expect(v?.type).to.equal('query');
      expect(v?.multi).to.equal(false);
      expect(v?.includeAll).to.equal(false);
      expect(v?.refresh).to.equal(2);
    });

    it('selects every per-project series by the chosen project', () => {
      for (const p of allPanels(d)) {
        for (const t of p.targets ?? []) {
          for (const s of selectors(t.expr).filter((x) => x.name.startsWith('orchestrator_active_project_'))) {
            expect(s.matchers, `${p.title}: ${s.name}`).to.deep.include({
              label: 'project',
              op: '=',
              value: '$project',
            });
          }
        }
      }
    });

    it('shows state, runtime, heartbeat age, CPU, memory and transitions', () => {
      const titles = allPanels(d).map((p) => p.title);
      expect(titles).to.include.members([
        'State',
        'Runtime',
        'Heartbeat age',
        'CPU',
        'Resident memory',
        'State history',
        'Queue transitions (all projects)',
      ]);
    });
  });
});

describe('dashboards/provisioning.yml', () => {
  it('provisions the dashboards directory as a file provider', () => {
    const doc = parse(readFileSync(join(DASHBOARDS_DIR, 'provisioning.yml'), 'utf8')) as {
      apiVersion: number;
      providers: Array<{ name: string; type: string; options: { path: string } }>;
    };
    expect(doc.apiVersion).to.equal(1);
    expect(doc.providers).to.have.length(1);
    const provider = doc.providers[0];
    expect(provider?.type).to.equal('file');
    // The directory is mounted there whole (see the file's header comment).
    expect(provider?.options.path).to.equal('/etc/grafana/provisioning/dashboards');
  });
});
