/**
 * deploy/docker-compose.yml, checked without a Docker engine (none runs on
 * this machine): Debian's `docker-compose config` validates and resolves the
 * file when it is installed (it needs no daemon for that; the test is skipped
 * and says so when it is missing), and every configuration the stack mounts
 * is checked with the real tools at the path the container sees it: the
 * Prometheus container's /etc/prometheus is rebuilt from the compose mounts
 * in a temporary directory and `promtool check config` runs on it, so a rule
 * file mounted where the config does not look fails the test; Alertmanager's
 * file goes through `amtool check-config`. Not verified here: that the images
 * pull and the containers start and talk to each other.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';
import { expectToolSuccess, REPO_ROOT } from '../alerts/tools.js';
import { tempDir } from '../helpers/cli.js';

const DEPLOY = join(REPO_ROOT, 'deploy');
const COMPOSE_FILE = join(DEPLOY, 'docker-compose.yml');

type Service = {
  image?: string;
  build?: { context: string; dockerfile?: string } | string;
  command?: string[];
  volumes?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  pid?: string;
  user?: string;
  depends_on?: unknown;
};
type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };

const raw = parse(readFileSync(COMPOSE_FILE, 'utf8')) as Compose;

function service(name: string): Service {
  const s = raw.services[name];
  if (!s) throw new Error(`no service ${name} in ${COMPOSE_FILE}`);
  return s;
}

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  /** A bind mount of a host path (source starts with . or /), not a named volume. */
  bind: boolean;
}

/** Split a volume spec on the colons that are not inside a `${VAR:-default}`. */
function volumeParts(spec: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i] as string;
    if (c === '$' && spec[i + 1] === '{') depth += 1;
    else if (c === '}' && depth > 0) depth -= 1;
    if (c === ':' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

function mounts(s: Service): Mount[] {
  return (s.volumes ?? []).map((v) => {
    const [source = '', target = '', mode = ''] = volumeParts(v);
    const bind = source.startsWith('.') || source.startsWith('/') || source.startsWith('$');
    return {
      source: bind && source.startsWith('.') ? resolve(DEPLOY, source) : source,
      target,
      readOnly: mode === 'ro',
      bind,
    };
  });
}

/** The host file mounted at `target` (or inside a mounted directory). */
function hostPathOf(s: Service, target: string): string {
  for (const m of mounts(s).filter((x) => x.bind)) {
    if (target === m.target) return m.source;
    if (target.startsWith(`${m.target}/`)) return join(m.source, target.slice(m.target.length + 1));
  }
  throw new Error(`nothing is mounted at ${target}`);
}

function flag(s: Service, name: string): string {
  const value = (s.command ?? []).find((c) => c.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (value === undefined) throw new Error(`no --${name} in the command`);
  return value;
}

function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string; missing: boolean }> {
  return new Promise((done) => {
    execFile(
      cmd,
      args,
      { cwd: options.cwd, env: options.env, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const missing = (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
        done({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          stdout: String(stdout),
          stderr: String(stderr),
          missing,
        });
      },
    );
  });
}

describe('deploy/docker-compose.yml (no Docker engine here: validated, never started)', function () {
  this.timeout(60_000);

  it('passes `docker-compose config` (Debian docker-compose; skipped when it is not installed)', async function () {
    const env = {
      ...process.env,
      AGENT_UID: '1234',
      AGENT_GID: '1234',
      AGENT_HOST_ID: 'build-01',
      AGENT_API_TOKEN: '',
      GRAFANA_ADMIN_PASSWORD: 'x',
    };
    const r = await run('docker-compose', ['-f', COMPOSE_FILE, 'config'], { cwd: DEPLOY, env });
    if (r.missing) {
      // `apt-get install docker-compose` (Debian) provides it; scripts/setup.sh test installs it.
      this.skip();
    }
    expect(r.code, `docker-compose config:\n${r.stdout}\n${r.stderr}`).to.equal(0);
    // Without AGENT_HOST_ID it refuses: an agent with the container's hostname would judge none of the host's projects.
    const { AGENT_HOST_ID: _omitted, ...withoutHost } = env;
    const refused = await run('docker-compose', ['-f', COMPOSE_FILE, 'config'], { cwd: DEPLOY, env: withoutHost });
    expect(refused.code).to.not.equal(0);
    expect(refused.stderr).to.match(/AGENT_HOST_ID/);
    const resolved = parse(r.stdout) as Compose;
    expect(Object.keys(resolved.services).sort()).to.deep.equal(['agent', 'alertmanager', 'grafana', 'prometheus']);
    const agent = resolved.services['agent'] as Service;
    expect(agent.user).to.equal('1234:1234');
    expect(agent.environment?.['AGENT_HOST_ID']).to.equal('build-01');
    expect(agent.volumes).to.include('/tmp/tmux-1234:/tmp/tmux-1234:rw');
    expect(agent.build).to.deep.include({ context: REPO_ROOT.replace(/\/$/, ''), dockerfile: 'Dockerfile' });
    // Every bind mount of a file of this repository resolves to a path that exists.
    for (const [name, s] of Object.entries(resolved.services)) {
      for (const v of s.volumes ?? []) {
        const source = v.split(':')[0] ?? '';
        if (source.startsWith(REPO_ROOT) && !source.endsWith('/data'))
          expect(existsSync(source), `${name}: ${v}`).to.equal(true);
      }
    }
  });

  it('has the agent, Prometheus, Alertmanager and Grafana, images pinned, ports published on loopback only', () => {
    expect(Object.keys(raw.services).sort()).to.deep.equal(['agent', 'alertmanager', 'grafana', 'prometheus']);
    for (const [name, s] of Object.entries(raw.services)) {
      expect(s.image, `${name} image`).to.match(/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/);
      expect(s.image, `${name} image pinned`).to.not.match(/:latest$/);
      for (const p of s.ports ?? []) expect(p, `${name} port`).to.match(/^127\.0\.0\.1:\d+:\d+$/);
    }
  });

  it('runs the agent as the Dockerfile builds it, against the host: host PID namespace, tmux socket directory and registry directory mounted, same uid', () => {
    const agent = service('agent');
    expect(agent.build).to.deep.equal({ context: '..', dockerfile: 'Dockerfile' });
    expect(existsSync(join(DEPLOY, '..', 'Dockerfile'))).to.equal(true);
    expect(agent.pid).to.equal('host');
    expect(agent.user).to.equal('${AGENT_UID:-1000}:${AGENT_GID:-1000}');
    expect(agent.volumes).to.include('/tmp/tmux-${AGENT_UID:-1000}:/tmp/tmux-${AGENT_UID:-1000}');
    const registry = agent.environment?.['AGENT_REGISTRY'] ?? '';
    expect(mounts(agent).map((m) => m.target)).to.include(dirname(registry));
    expect(agent.ports).to.deep.equal(['127.0.0.1:9820:9820']);
    expect(agent.environment?.['AGENT_HOST_ID']).to.match(/^\$\{AGENT_HOST_ID:\?/);
  });

  it("Prometheus's config, as the container sees it, passes promtool: it loads the shipped rules, scrapes agent:9820 and alerts alertmanager:9093", async () => {
    const prom = service('prometheus');
    const configTarget = flag(prom, 'config.file');
    // Rebuild the container's view of the config directory from the mounts.
    const root = tempDir('toa-compose-');
    try {
      for (const m of mounts(prom).filter((x) => x.bind)) {
        const dest = join(root.path, m.target);
        mkdirSync(dirname(dest), { recursive: true });
        cpSync(m.source, dest, { recursive: true });
      }
      const config = join(root.path, configTarget);
      const checked = await expectToolSuccess('promtool', ['check', 'config', config]);
      expect(checked.stdout + checked.stderr).to.match(/SUCCESS: 1 rule files found/);
      expect(checked.stdout + checked.stderr).to.match(/SUCCESS: \d+ rules found/);
    } finally {
      root.cleanup();
    }
    const doc = parse(readFileSync(hostPathOf(prom, configTarget), 'utf8')) as Record<string, unknown>;
    const job = (doc['scrape_configs'] as Array<Record<string, unknown>>).find(
      (j) => j['job_name'] === 'orchestrator-agent',
    );
    expect(job?.['static_configs']).to.deep.equal([{ targets: ['agent:9820'] }]);
    const alerting = doc['alerting'] as { alertmanagers: Array<{ static_configs: unknown }> };
    expect(alerting.alertmanagers[0]?.static_configs).to.deep.equal([{ targets: ['alertmanager:9093'] }]);
    expect(hostPathOf(prom, '/etc/prometheus/rules/orchestrator-agent.rules.yml')).to.equal(
      join(REPO_ROOT, 'alerts', 'orchestrator-agent.rules.yml'),
    );
  });

  it('deploy/prometheus.yml is config/prometheus.yml except for the targets and the rule path', () => {
    const load = (p: string): Record<string, unknown> => parse(readFileSync(p, 'utf8')) as Record<string, unknown>;
    const strip = (doc: Record<string, unknown>): Record<string, unknown> => {
      const copy = structuredClone(doc);
      delete copy['rule_files'];
      for (const am of (copy['alerting'] as { alertmanagers: Record<string, unknown>[] }).alertmanagers)
        delete am['static_configs'];
      for (const job of copy['scrape_configs'] as Record<string, unknown>[]) delete job['static_configs'];
      return copy;
    };
    const compose = load(join(DEPLOY, 'prometheus.yml'));
    const example = load(join(REPO_ROOT, 'config', 'prometheus.yml'));
    expect(strip(compose)).to.deep.equal(strip(example));
    expect((compose['rule_files'] as string[]).map((f) => f.split('/').pop())).to.deep.equal(
      (example['rule_files'] as string[]).map((f) => f.split('/').pop()),
    );
  });

  it("Alertmanager's mounted config passes amtool check-config", async () => {
    const am = service('alertmanager');
    const file = hostPathOf(am, flag(am, 'config.file'));
    expect(file).to.equal(join(REPO_ROOT, 'config', 'alertmanager.yml'));
    const r = await expectToolSuccess('amtool', ['check-config', file]);
    expect(r.stdout + r.stderr).to.match(/SUCCESS/);
  });

  it('Grafana gets the shipped dashboards through their provider and the stack Prometheus as its default data source', () => {
    const grafana = service('grafana');
    const dashboardsDir = hostPathOf(grafana, '/etc/grafana/provisioning/dashboards');
    expect(dashboardsDir).to.equal(join(REPO_ROOT, 'dashboards'));
    const provider = parse(readFileSync(join(dashboardsDir, 'provisioning.yml'), 'utf8')) as {
      providers: Array<{ options: { path: string } }>;
    };
    // The provider reads its JSON files from where the stack mounts them.
    expect(provider.providers[0]?.options.path).to.equal('/etc/grafana/provisioning/dashboards');
    expect(readdirSync(dashboardsDir).filter((f) => f.endsWith('.json')).length).to.be.at.least(2);
    const home = grafana.environment?.['GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH'] ?? '';
    expect(statSync(hostPathOf(grafana, home)).isFile(), home).to.equal(true);

    const datasourcesDir = hostPathOf(grafana, '/etc/grafana/provisioning/datasources');
    const files = readdirSync(datasourcesDir).filter((f) => /\.ya?ml$/.test(f));
    expect(files).to.have.length(1);
    const ds = parse(readFileSync(join(datasourcesDir, files[0] as string), 'utf8')) as {
      apiVersion: number;
      datasources: Array<Record<string, unknown>>;
    };
    expect(ds.apiVersion).to.equal(1);
    expect(ds.datasources).to.have.length(1);
    const prometheus = ds.datasources[0] as Record<string, unknown>;
    expect(prometheus).to.include({
      type: 'prometheus',
      access: 'proxy',
      url: 'http://prometheus:9090',
      isDefault: true,
    });
    const promPort = service('prometheus').ports?.[0]?.split(':').pop();
    expect(promPort).to.equal('9090');
    for (const m of mounts(grafana).filter((x) => x.bind)) expect(m.readOnly, `${m.target} read-only`).to.equal(true);
  });
});
