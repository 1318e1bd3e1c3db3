/**
 * `agent demo` run as a user would, without a terminal: every failure mode
 * it stages is healed by the in-process daemon, the URLs it prints answer
 * while it runs, and nothing is left behind afterwards, whether it finished
 * by itself or was stopped with Ctrl-C (SIGINT). TMUX_TMPDIR points at a
 * private directory, so the test also sees that the demo never starts or
 * touches a default tmux server.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AGENT_BIN, cleanEnv } from '../helpers/cli.js';
import { eventually } from '../helpers/daemon.js';
import { statOrNull } from '../helpers/processes.js';

interface DemoJson {
  ok: boolean;
  healed: string[];
  notHealed: string[];
  interrupted: string | null;
  url: string;
  tmuxSocket: string;
  dir: string;
  scenarios: { kind: string; project: string | null; healed: boolean; detail: string | null; state: string | null }[];
  processes: { pid: number; startTime: number | null; what: string }[];
  cleanup: { tmuxServer: string; killed: number; survivors: unknown[]; dirRemoved: boolean };
}

const FAILURE_MODES = ['completes', 'hangs', 'zombie', 'phantom', 'fails_repeatedly', 'orphan_session'];
const ANSI = /\u001b\[/;

/** Start time of a running (not defunct) process, or null. */
function runningStartTime(pid: number): number | null {
  const stat = statOrNull(pid);
  return stat === null || stat.state === 'Z' ? null : stat.startTime;
}

/** PIDs of processes whose working directory is inside `dir`. */
function processesIn(dir: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const cwd = readlinkSync(`/proc/${name}/cwd`);
      if (cwd === dir || cwd.startsWith(`${dir}/`) || cwd.startsWith(`${dir} `)) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

function tmuxServerAnswers(tmuxTmp: string, socket: string): boolean {
  try {
    execFileSync('tmux', ['-L', socket, 'list-sessions'], {
      stdio: 'ignore',
      env: { ...process.env, TMUX_TMPDIR: tmuxTmp },
    });
    return true;
  } catch {
    return false;
  }
}

function runDemo(args: string[], tmuxTmp: string, onStdout?: (text: string, child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, [AGENT_BIN, 'demo', ...args], {
    env: cleanEnv({ TMUX_TMPDIR: tmuxTmp }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    onStdout?.(stdout, child);
  });
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
  return { child, done };
}

describe('e2e: agent demo', function () {
  this.timeout(120_000);
  let tmuxTmp: string;
  beforeEach(() => {
    tmuxTmp = mkdtempSync(join(tmpdir(), 'toa-demo-tmux-'));
  });
  afterEach(() => {
    rmSync(tmuxTmp, { recursive: true, force: true });
  });

  /** No tmux server, socket, directory or process of the demo remains, and no default server was ever started. */
  function expectNothingLeft(dir: string, socket: string): void {
    expect(existsSync(dir), `${dir} removed`).to.equal(false);
    expect(processesIn(dir), `processes working in ${dir}`).to.deep.equal([]);
    expect(tmuxServerAnswers(tmuxTmp, socket), `tmux server ${socket}`).to.equal(false);
    const sockets = join(tmuxTmp, `tmux-${process.getuid?.() ?? 0}`);
    expect(
      existsSync(sockets) ? readdirSync(sockets) : [],
      'tmux sockets left (the demo socket, or a default server)',
    ).to.deep.equal([]);
  }

  it('run without a terminal, heals every failure mode, prints plain lines and a JSON summary, and leaves nothing behind', async () => {
    const { done } = runDemo(['--json', '--duration', '50'], tmuxTmp);
    const { code, stdout, stderr } = await done;
    let summary: DemoJson;
    try {
      summary = JSON.parse(stdout) as DemoJson;
    } catch {
      throw new Error(`demo printed no JSON document on stdout (exit ${code}):\n${stdout}\n${stderr}`);
    }
    expect(code, stderr).to.equal(0);
    expect(summary.ok, stderr).to.equal(true);
    expect(summary.notHealed).to.deep.equal([]);
    expect([...summary.healed].sort()).to.deep.equal([...FAILURE_MODES].sort());
    const byKind = new Map(summary.scenarios.map((s) => [s.kind, s]));
    expect(byKind.get('completes')).to.include({ healed: true, state: 'completed' });
    for (const kind of ['hangs', 'zombie', 'phantom', 'fails_repeatedly'])
      expect(byKind.get(kind), kind).to.include({ healed: true, state: 'failed' });
    expect(byKind.get('fails_repeatedly')?.detail).to.match(/breaker open/);

    // The live view went to stderr as plain appended lines: the URLs, each event, each healing.
    expect(stderr).to.not.match(ANSI);
    expect(stderr).to.match(/status page\s+http:\/\/127\.0\.0\.1:\d+\//);
    expect(stderr).to.match(/metrics\s+http:\/\/127\.0\.0\.1:\d+\/metrics/);
    for (const kind of FAILURE_MODES) expect(stderr).to.match(new RegExp(`HEALED ${kind}: `));
    expect(stderr).to.match(/processing -> zombie/);
    expect(stderr).to.match(/processing -> timing_out/);
    expect(stderr).to.match(/kill_session success/);
    expect(stderr).to.match(/every failure mode was healed/);

    expect(summary.cleanup).to.deep.include({ survivors: [], dirRemoved: true });
    expect(summary.processes.length).to.be.at.least(6);
    for (const p of summary.processes) {
      const now = runningStartTime(p.pid);
      expect(now === null || now !== p.startTime, `${p.what} (pid ${p.pid}) still runs`).to.equal(true);
    }
    expectNothingLeft(summary.dir, summary.tmuxSocket);
    await fetch(`${summary.url}/healthz`).then(
      () => expect.fail('the demo daemon still answers after the demo ended'),
      () => undefined,
    );
  });

  it('Ctrl-C stops it at once and still cleans up everything; the URLs answered while it ran', async () => {
    let url: string | null = null;
    let interrupted = false;
    const { done } = runDemo([], tmuxTmp, (out, child) => {
      url ??= /status page\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(out)?.[1] ?? null;
      // Interrupt once the agent has launched projects and a zombie is in the making.
      if (!interrupted && /launch success/.test(out) && /demo-zombie/.test(out)) {
        interrupted = true;
        setTimeout(() => child.kill('SIGINT'), 300);
      }
    });
    const metrics = await eventually(
      async () => (url ? fetch(`${url}/metrics`).then((r) => (r.ok ? r.text() : null)) : null),
      20_000,
      'the metrics URL to answer',
    );
    expect(metrics).to.match(/^orchestrator_projects\{state="processing"\} \d+/m);
    const page = await fetch(`${url ?? ''}/`);
    expect(page.status).to.equal(200);
    const started = Date.now();
    const { code, stdout } = await done;
    expect(Date.now() - started, 'exits soon after SIGINT').to.be.below(15_000);
    expect(interrupted).to.equal(true);
    expect(code, stdout).to.equal(1);
    expect(stdout).to.not.match(ANSI);
    expect(stdout).to.match(/SIGINT: stopping/);
    expect(stdout).to.match(/not healed: .*\(interrupted by SIGINT\)/);
    expect(stdout).to.match(/SCENARIO\s+PROJECT\s+STATE/);
    const dir = /registry\s+(\/\S+)\/registry\.json/.exec(stdout)?.[1];
    const socket = /tmux -L (toa-demo-\d+) ls/.exec(stdout)?.[1];
    expect(dir, stdout).to.be.a('string');
    expect(socket, stdout).to.be.a('string');
    expect(stdout).to.match(
      new RegExp(`cleaned up: tmux server ${socket} killed, \\d+ leftover processes killed, ${dir} removed`),
    );
    expectNothingLeft(dir as string, socket as string);
  });
});
