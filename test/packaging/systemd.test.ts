/**
 * deploy/tmux-orchestrator-agent.service and deploy/env.example.
 *
 * `systemd-analyze verify` (and `security --offline`) run on the unit in a
 * temporary root holding the distribution's unit files and a stand-in
 * /usr/local/bin/agent, so nothing is installed on this machine; both are
 * skipped, saying so, where systemd-analyze is missing. No systemd runs as
 * PID 1 here, so the sandbox itself (that the agent still sees /proc and
 * reaches the tmux socket under it) is not exercised: the structural tests
 * pin the settings that decide it.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KEY_DEFINITIONS } from '../../src/config/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { REPO_ROOT } from '../alerts/tools.js';
import { tempDir } from '../helpers/cli.js';

const UNIT = join(REPO_ROOT, 'deploy', 'tmux-orchestrator-agent.service');
const ENV_EXAMPLE = join(REPO_ROOT, 'deploy', 'env.example');
const UNIT_NAME = 'tmux-orchestrator-agent.service';

/** Section -> key -> every value (a key may repeat), comments and blank lines dropped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`cannot read unit line: ${raw}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

const unit = parseUnit(readFileSync(UNIT, 'utf8'));
const service = unit.get('Service') ?? new Map<string, string[]>();
/** The last value of a [Service] key (later assignments win in systemd). */
const value = (key: string): string | undefined => service.get(key)?.at(-1);

function run(cmd: string, args: string[]): Promise<{ code: number; out: string; missing: boolean }> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { timeout: 60_000, maxBuffer: 8 * 1024 * 1024, env: { ...process.env, SYSTEMD_COLORS: '0', LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        const missing = (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
          out: `${String(stdout)}${String(stderr)}`,
          missing,
        });
      },
    );
  });
}

describe('deploy/tmux-orchestrator-agent.service', function () {
  this.timeout(60_000);
  let root: { path: string; cleanup: () => void } | null = null;

  /** A root with the distribution's units, the unit under test and a stand-in `agent`. */
  function offlineRoot(): string {
    if (root) return root.path;
    root = tempDir('toa-systemd-');
    const units = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(d));
    if (units) cpSync(units, join(root.path, 'usr/lib/systemd/system'), { recursive: true, verbatimSymlinks: true });
    mkdirSync(join(root.path, 'etc/systemd/system'), { recursive: true });
    cpSync(UNIT, join(root.path, 'etc/systemd/system', UNIT_NAME));
    const exec = (value('ExecStart') ?? '').split(/\s+/)[0] ?? '';
    const stub = join(root.path, exec);
    mkdirSync(dirname(stub), { recursive: true });
    writeFileSync(stub, '#!/bin/sh\nexit 0\n');
    chmodSync(stub, 0o755);
    return root.path;
  }

  after(() => root?.cleanup());

  it('passes `systemd-analyze verify` with nothing to report', async function () {
    const r = await run('systemd-analyze', [`--root=${offlineRoot()}`, 'verify', UNIT_NAME]);
    if (r.missing) this.skip(); // apt-get install systemd
    expect(r.out.trim(), 'systemd-analyze verify output').to.equal('');
    expect(r.code).to.equal(0);
  });

  it('rates "OK" in `systemd-analyze security --offline` (exposure at most 3.0 of 10)', async function () {
    const r = await run('systemd-analyze', [
      'security',
      '--offline=yes',
      '--threshold=30',
      `--root=${offlineRoot()}`,
      UNIT_NAME,
    ]);
    if (r.missing) this.skip();
    expect(r.code, r.out).to.equal(0);
    const level = /Overall exposure level for \S+: (\d+\.\d+)/.exec(r.out)?.[1];
    expect(Number(level), r.out).to.be.at.most(3.0);
  });

  it('runs `agent serve` as a dedicated user, restarts on failure, reads the optional environment file', () => {
    expect(value('ExecStart')).to.equal('/usr/local/bin/agent serve');
    expect(value('User')).to.match(/^[a-z][a-z0-9_-]*$/);
    expect(value('User')).to.not.equal('root');
    expect(value('Restart')).to.equal('on-failure');
    expect(service.get('EnvironmentFile')).to.deep.equal(['-/etc/tmux-orchestrator-agent/env']);
    expect(unit.get('Install')?.get('WantedBy')).to.deep.equal(['multi-user.target']);
  });

  it("caps V8's young generation with NODE_OPTIONS, and the Dockerfile and npm start run the daemon with the same options", () => {
    const options = (service.get('Environment') ?? [])
      .find((e) => e.startsWith('NODE_OPTIONS='))
      ?.slice('NODE_OPTIONS='.length);
    expect(options).to.match(/^--max-semi-space-size=\d+$/);
    expect(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8')).to.match(
      new RegExp(`^ENV NODE_OPTIONS=${options}$`, 'm'),
    );
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['start']).to.equal(`exec node ${options} dist/cli/main.js serve`);
  });

  it('stops only the agent, never the tmux server or the projects it may have launched', () => {
    expect(value('KillMode')).to.equal('process');
    // The agent exits within 10 s of SIGTERM; systemd waits longer than that before SIGKILL.
    expect(Number.parseInt(value('TimeoutStopSec') ?? '0', 10)).to.be.above(10);
  });

  it('is hardened, but still sees every process in /proc and reaches the tmux socket in the real /tmp', () => {
    expect(value('NoNewPrivileges')).to.equal('yes');
    expect(value('ProtectSystem')).to.equal('strict');
    expect(value('ProtectHome')).to.equal('read-only');
    expect(value('PrivateTmp')).to.equal('false');
    expect(value('ProtectProc')).to.equal('default');
    expect(value('ProcSubset') ?? 'all').to.equal('all');
    expect((value('RestrictAddressFamilies') ?? '').split(/\s+/).sort()).to.deep.equal([
      'AF_INET',
      'AF_INET6',
      'AF_UNIX',
    ]);
    expect(value('CapabilityBoundingSet')).to.equal('');
    for (const absent of ['PrivateUsers', 'RemoveIPC', 'MemoryDenyWriteExecute', 'PrivatePIDs'])
      expect(service.has(absent), absent).to.equal(false);
    // A seccomp filter must answer EPERM, not kill: libuv probes io_uring and falls back.
    expect(value('SystemCallErrorNumber')).to.equal('EPERM');
  });

  it('can write its registry directory (and the tmux socket directory) under ProtectSystem=strict', () => {
    const registryEnv = (service.get('Environment') ?? []).find((e) => e.startsWith('AGENT_REGISTRY='));
    const registryDir = dirname((registryEnv ?? '').slice('AGENT_REGISTRY='.length));
    expect(registryDir).to.equal('/var/lib/tmux-orchestrator-agent');
    const writable = (service.get('ReadWritePaths') ?? []).flatMap((v) => v.split(/\s+/));
    expect(writable).to.include.members([registryDir, '/tmp']);
    expect(value('StateDirectory')).to.equal('tmux-orchestrator-agent');
    expect(value('WorkingDirectory')).to.equal(registryDir);
  });
});

describe('deploy/env.example', () => {
  const lines = readFileSync(ENV_EXAMPLE, 'utf8').split('\n');
  const envNames = new Set(KEY_DEFINITIONS.map((d) => d.env));

  it('names only real configuration variables, set or commented out', () => {
    const names = lines
      .map((l) => /^#?([A-Z][A-Z0-9_]*)=/.exec(l.trim())?.[1])
      .filter((n): n is string => n !== undefined);
    expect(names.length).to.be.at.least(5);
    for (const n of names) expect(envNames.has(n), `${n} is a config environment variable`).to.equal(true);
  });

  it('loads as it stands, and with every commented example uncommented', () => {
    const parse = (text: string[]): Record<string, string> =>
      Object.fromEntries(
        text
          .map((l) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l.trim()))
          .filter((m): m is RegExpExecArray => m !== null)
          .map((m) => [m[1] as string, m[2] as string]),
      );
    const asIs = parse(lines);
    expect(() => loadConfig({ env: asIs })).to.not.throw();
    const all = parse(lines.map((l) => l.replace(/^#(?=[A-Z][A-Z0-9_]*=)/, '')));
    expect(Object.keys(all).length).to.be.above(Object.keys(asIs).length);
    expect(() => loadConfig({ env: all })).to.not.throw();
    expect(loadConfig({ env: asIs }).config.listen).to.equal('127.0.0.1:9820');
  });
});
