import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';

import { loadRuleFile } from './rule-file.js';
import { REPO_ROOT, expectToolSuccess, runTool } from './tools.js';

const PROMETHEUS_CONFIG = join(REPO_ROOT, 'config', 'prometheus.yml');
const ALERTMANAGER_CONFIG = join(REPO_ROOT, 'config', 'alertmanager.yml');

function yamlFile(path: string): Record<string, unknown> {
  const doc: unknown = parse(readFileSync(path, 'utf8'));
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new Error(`${path}: not a YAML map`);
  return doc as Record<string, unknown>;
}

describe('config/prometheus.yml', function () {
  this.timeout(60_000);

  it('passes promtool check config, rule file included', async () => {
    const result = await expectToolSuccess('promtool', ['check', 'config', PROMETHEUS_CONFIG]);
    expect(result.stdout + result.stderr).to.match(/SUCCESS: 1 rule files found/);
  });

  it('finds its rule file from any working directory (path relative to the config)', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'toa-promcfg-'));
    try {
      const result = await expectToolSuccess('promtool', ['check', 'config', PROMETHEUS_CONFIG], { cwd: elsewhere });
      expect(result.stdout + result.stderr).to.match(/SUCCESS: \d+ rules found/);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('scrapes the agent every 15 s as job orchestrator-agent and sends alerts to localhost:9093', () => {
    const config = yamlFile(PROMETHEUS_CONFIG);
    expect(config['rule_files']).to.deep.equal(['../alerts/orchestrator-agent.rules.yml']);
    const jobs = config['scrape_configs'] as Array<Record<string, unknown>>;
    const job = jobs.find((j) => j['job_name'] === 'orchestrator-agent');
    expect(job, 'scrape job orchestrator-agent').to.not.equal(undefined);
    expect(job?.['scrape_interval']).to.equal('15s');
    expect(job?.['static_configs']).to.deep.equal([{ targets: ['localhost:9820'] }]);
    const alerting = config['alerting'] as { alertmanagers: Array<{ static_configs: unknown }> };
    expect(alerting.alertmanagers[0]?.static_configs).to.deep.equal([{ targets: ['localhost:9093'] }]);
  });
});

describe('config/alertmanager.yml', function () {
  this.timeout(60_000);

  it('passes amtool check-config', async () => {
    const result = await expectToolSuccess('amtool', ['check-config', ALERTMANAGER_CONFIG]);
    expect(result.stdout + result.stderr).to.match(/SUCCESS/);
  });

  const routes: Array<[labels: string[], receiver: string]> = [
    [['alertname=OrchestratorProjectStuck', 'severity=critical', 'instance=localhost:9820'], 'page'],
    [['alertname=OrchestratorQueueBlocked', 'severity=critical', 'instance=localhost:9820'], 'page'],
    [['alertname=OrchestratorQueuePaused', 'severity=warning', 'instance=localhost:9820'], 'ticket'],
    [['alertname=OrchestratorSomethingNew', 'instance=localhost:9820'], 'ticket'],
  ];
  for (const [labels, receiver] of routes) {
    it(`routes ${labels.join(',')} to ${receiver}`, async () => {
      const args = [
        'config',
        'routes',
        'test',
        `--config.file=${ALERTMANAGER_CONFIG}`,
        `--verify.receivers=${receiver}`,
        ...labels,
      ];
      const result = await runTool('amtool', args);
      expect(result.code, `amtool ${args.join(' ')}\n${result.stdout}${result.stderr}`).to.equal(0);
      expect(result.stdout.trim()).to.equal(receiver);
    });
  }

  it('routes every alert of the rule file by its severity', async () => {
    for (const alert of loadRuleFile().alerts) {
      const expected = alert.labels['severity'] === 'critical' ? 'page' : 'ticket';
      const args = [
        'config',
        'routes',
        'test',
        `--config.file=${ALERTMANAGER_CONFIG}`,
        `alertname=${alert.alert}`,
        `severity=${alert.labels['severity'] ?? ''}`,
      ];
      const result = await runTool('amtool', args);
      expect(result.stdout.trim(), `${alert.alert}\n${result.stderr}`).to.equal(expected);
    }
  });

  it('delivers pages and tickets to the placeholder webhooks and groups by alertname and instance', () => {
    const config = yamlFile(ALERTMANAGER_CONFIG);
    const receivers = config['receivers'] as Array<{ name: string; webhook_configs?: Array<{ url: string }> }>;
    const url = (name: string): string | undefined => receivers.find((r) => r.name === name)?.webhook_configs?.[0]?.url;
    expect(url('page')).to.equal('http://127.0.0.1:5001/page');
    expect(url('ticket')).to.equal('http://127.0.0.1:5001/ticket');
    const route = config['route'] as Record<string, unknown>;
    expect(route['group_by']).to.deep.equal(['alertname', 'instance']);
  });

  it('lets OrchestratorAgentDown and OrchestratorAgentAbsent inhibit the other Orchestrator alerts', () => {
    const config = yamlFile(ALERTMANAGER_CONFIG);
    const rules = config['inhibit_rules'] as Array<{
      source_matchers: string[];
      target_matchers: string[];
      equal: string[];
    }>;
    const down = rules.find((r) => r.source_matchers.includes('alertname="OrchestratorAgentDown"'));
    const absent = rules.find((r) => r.source_matchers.includes('alertname="OrchestratorAgentAbsent"'));
    expect(down?.equal, 'AgentDown inhibits per instance').to.deep.equal(['instance']);
    // Absent has no instance label (there is no target): it inhibits per job.
    expect(absent?.equal, 'AgentAbsent inhibits per job').to.deep.equal(['job']);
    for (const rule of [down, absent]) {
      expect(rule?.target_matchers).to.include('alertname=~"Orchestrator.+"');
      expect(rule?.target_matchers).to.include('alertname!~"OrchestratorAgentDown|OrchestratorAgentAbsent"');
    }
  });
});
