/**
 * Several agents sharing one Redis registry (docs/multi-host.md), each a real
 * `agent serve` process with its own host id and its own private tmux server
 * (its own TMUX_TMPDIR, so its "default" server is its alone, as on another
 * machine), against a real redis-server on a free loopback port.
 */
import { expect } from 'chai';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newProject, type Project } from '../../src/core/model/project.js';
import { RedisStore } from '../../src/registry/redis-store.js';
import type { AuditEntry } from '../../src/registry/store.js';
import { cleanEnv, runCli, tempDir } from '../helpers/cli.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { isRunning, Processes, statStartTime } from '../helpers/processes.js';
import { RedisServer, startRedis } from '../helpers/redis.js';

const TTL_MS = 3000;
const WRITER = fileURLToPath(new URL('../fixtures/timed-writer.mjs', import.meta.url));

/** One simulated machine: a host id and a tmux whose default server is private to it. */
class Host {
  readonly tmpdir: string;
  constructor(
    readonly id: string,
    root: string,
  ) {
    this.tmpdir = join(root, `tmux-${id}`);
    mkdirSync(this.tmpdir, { mode: 0o700 });
  }

  tmux(args: string[]): string {
    return execFileSync('tmux', args, {
      encoding: 'utf8',
      env: { ...process.env, TMUX_TMPDIR: this.tmpdir, TMUX: '', LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  sessions(): string[] {
    try {
      return this.tmux(['list-sessions', '-F', '#{session_name}']).split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  destroy(): void {
    try {
      this.tmux(['kill-server']);
    } catch {
      // no server
    }
  }

  env(): Record<string, string> {
    return { AGENT_HOST_ID: this.id, TMUX_TMPDIR: this.tmpdir, TMUX: '', AGENT_TMUX_SOCKETS: 'default' };
  }
}

async function metric(agent: RunningAgent, name: string, labels = ''): Promise<number> {
  const body = await (await fetch(`${agent.url}/metrics`)).text();
  const line = body.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
}

function actionsOf(audit: AuditEntry[], action?: string): AuditEntry[] {
  return audit.filter((e) => e.type === 'action' && (action === undefined || e['action'] === action));
}

/** Each project acted on at most once per kind of action. */
function expectNoDoubleActions(audit: AuditEntry[]): void {
  const seen = new Map<string, number>();
  for (const e of actionsOf(audit)) {
    if (e.project === null) continue;
    const key = `${e.project} ${String(e['action'])}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  expect(
    [...seen].filter(([, n]) => n > 1),
    'projects acted on twice',
  ).to.deep.equal([]);
}

describe('multi-host: agents sharing one Redis registry', function () {
  this.timeout(120_000);
  let redis: RedisServer;
  let dir: ReturnType<typeof tempDir>;
  let hosts: Host[];
  let agents: RunningAgent[];
  let processes: Processes;
  let store: RedisStore;

  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis.destroy();
  });
  beforeEach(() => {
    dir = tempDir('toa-multi-');
    hosts = [];
    agents = [];
    processes = new Processes();
  });
  afterEach(async () => {
    for (const a of agents) await a.stop('SIGKILL');
    for (const h of hosts) h.destroy();
    await processes.cleanup();
    await store?.close();
    dir.cleanup();
  });

  const host = (id: string): Host => {
    const h = new Host(id, dir.path);
    hosts.push(h);
    return h;
  };

  const agentEnv = (db: number, extra: Record<string, string> = {}): Record<string, string> => ({
    AGENT_REGISTRY: redis.url(db),
    AGENT_SCAN_SCHEDULE: '* * * * * *',
    AGENT_LEASE_TTL_MS: String(TTL_MS),
    KILL_GRACE_SEC: '1',
    AGENT_MAX_CONCURRENT: '4',
    AGENT_RETRY_BASE_SEC: '3600',
    LOG_LEVEL: 'info',
    ...extra,
  });

  const start = async (h: Host, env: Record<string, string>): Promise<RunningAgent> => {
    const agent = await startAgent({ ...env, ...h.env() }, dir.path);
    agents.push(agent);
    return agent;
  };

  const aZombie = async (id: string, hostId: string): Promise<{ project: Project; pid: number }> => {
    const pid = await processes.sleeper();
    const now = Date.now();
    const project = newProject({
      id,
      state: 'processing',
      host: hostId,
      pid,
      pidStartTime: statStartTime(pid),
      session: `${id}-s`,
      enqueuedAt: new Date(now - 60_000).toISOString(),
      startedAt: new Date(now - 10_000).toISOString(),
      lastSeenAliveAt: new Date(now - 10_000).toISOString(),
      attempts: 1,
    });
    return { project, pid };
  };

  const aLaunchable = (id: string, command: string[]): Project =>
    newProject({ id, enqueuedAt: new Date(Date.now() - 30_000).toISOString(), command, cwd: dir.path });

  it('each agent heals only its host; one leader launches; killing it hands the lease over within the TTL; nothing is acted on twice', async () => {
    store = new RedisStore({ url: redis.url(0) });
    const [a, b] = [host('A'), host('B')];
    const zA = await aZombie('zombie-a', 'A');
    const zB = await aZombie('zombie-b', 'B');
    await store.update(
      (doc) =>
        void doc.projects.push(
          zA.project,
          zB.project,
          aLaunchable('job-1', ['sleep', '120']),
          aLaunchable('job-2', ['sleep', '120']),
        ),
    );

    const agentA = await start(a, agentEnv(0));
    const agentB = await start(b, agentEnv(0));

    // Each host's zombie is killed by its own agent, and only by it.
    await eventually(
      async () =>
        (await store.load()).projects.filter((p) => p.id.startsWith('zombie-') && p.state === 'failed').length === 2,
      20_000,
      'both zombies failed',
    );
    expect(isRunning(zA.pid)).to.equal(false);
    expect(isRunning(zB.pid)).to.equal(false);
    let audit = await store.readAudit(10_000);
    const kills = actionsOf(audit, 'kill_tree').map((e) => [e.project, e.by, e['outcome']]);
    expect(kills.sort()).to.deep.equal([
      ['zombie-a', 'agent@A', 'success'],
      ['zombie-b', 'agent@B', 'success'],
    ]);
    const zombieMoves = audit
      .filter((e) => e.type === 'transition' && e['to'] === 'zombie')
      .map((e) => [e.project, e.by]);
    expect(zombieMoves.sort()).to.deep.equal([
      ['zombie-a', 'agent@A'],
      ['zombie-b', 'agent@B'],
    ]);

    // Exactly one leader, and only it launches (on its own host).
    const leaderFlags = [await metric(agentA, 'orchestrator_leader'), await metric(agentB, 'orchestrator_leader')];
    expect(leaderFlags.sort()).to.deep.equal([0, 1]);
    const [leader, follower, leaderHost, followerHost] =
      (await metric(agentA, 'orchestrator_leader')) === 1 ? [agentA, agentB, a, b] : [agentB, agentA, b, a];
    expect((await redis.cli(['GET', 'toa:leader'])).startsWith(`${leaderHost.id}/`)).to.equal(true);
    await eventually(
      async () =>
        (await store.load()).projects.filter((p) => p.id.startsWith('job-') && p.state === 'processing').length === 2,
      20_000,
      'both jobs launched',
    );
    for (const p of (await store.load()).projects.filter((x) => x.id.startsWith('job-'))) {
      expect(p.host).to.equal(leaderHost.id);
      expect(leaderHost.sessions()).to.include(p.session);
      expect(followerHost.sessions()).to.not.include(p.session);
    }
    audit = await store.readAudit(10_000);
    expect(
      actionsOf(audit, 'launch')
        .map((e) => [e.project, e.by])
        .sort(),
    ).to.deep.equal([
      ['job-1', `agent@${leaderHost.id}`],
      ['job-2', `agent@${leaderHost.id}`],
    ]);

    // The leader dies: the follower takes the lease as it lapses, within the TTL.
    const killedAt = Date.now();
    await leader.stop('SIGKILL');
    await eventually(
      async () => (await metric(follower, 'orchestrator_leader')) === 1,
      TTL_MS + 30_000,
      'the follower to lead',
      25,
    );
    const handover = Date.now() - killedAt;
    // The TTL plus a renewal period at most; generous for a busy machine.
    expect(handover, `handover took ${handover} ms`).to.be.at.most(TTL_MS + 5000);
    expect((await redis.cli(['GET', 'toa:leader'])).startsWith(`${followerHost.id}/`)).to.equal(true);

    // The new leader launches new work on its own host; the dead host's jobs are not its to touch.
    await store.update((doc) => void doc.projects.push(aLaunchable('job-3', ['sleep', '120'])));
    await eventually(
      async () => (await store.load()).projects.find((p) => p.id === 'job-3')?.state === 'processing',
      10_000,
      'job-3 launched',
    );
    const doc = await store.load();
    expect(doc.projects.find((p) => p.id === 'job-3')?.host).to.equal(followerHost.id);
    for (const id of ['job-1', 'job-2'])
      expect(doc.projects.find((p) => p.id === id)).to.include({ state: 'processing', host: leaderHost.id });
    audit = await store.readAudit(10_000);
    expect(
      audit.filter((e) => (e.project === 'job-1' || e.project === 'job-2') && e.by === `agent@${followerHost.id}`),
    ).to.deep.equal([]);
    expectNoDoubleActions(audit);
  });

  it('a CLI write reaches the daemon through Redis at once, with polling once an hour', async () => {
    store = new RedisStore({ url: redis.url(3) });
    const a = host('A');
    const agent = await start(a, agentEnv(3, { AGENT_SCAN_SCHEDULE: '0 0 * * * *' }));
    await eventually(async () => (await fetch(`${agent.url}/readyz`)).status === 200, 10_000, 'ready');
    const health = (await (await fetch(`${agent.url}/metrics`)).text())
      .split('\n')
      .find((l) => l.startsWith('orchestrator_event_source_up{source="registry_watch"}'));
    expect(health).to.match(/ 1$/);
    const enqueued = await runCli(['enqueue', '--id', 'job', '--cwd', dir.path, '--', 'sleep', '60'], {
      cwd: dir.path,
      env: { AGENT_REGISTRY: redis.url(3), LOG_LEVEL: 'error' },
    });
    expect(enqueued.code, enqueued.stderr).to.equal(0);
    const since = Date.now();
    await eventually(async () => (await store.load()).projects[0]?.state === 'processing', 15_000, 'the job launched');
    // Polling would take an hour: any prompt answer is the change channel's. Generous for a busy machine.
    expect(Date.now() - since).to.be.below(10_000);
  });

  it('2 agents and 4 CLI writers for 20 s: no update is lost', async () => {
    store = new RedisStore({ url: redis.url(1) });
    const [a, b] = [host('A'), host('B')];
    // Projects that fail at once and are retried at once keep the leader writing every cycle.
    await store.update(
      (doc) => void doc.projects.push(aLaunchable('churn-1', ['false']), aLaunchable('churn-2', ['false'])),
    );
    const churn = {
      PHANTOM_GRACE_PERIOD_SEC: '0',
      AGENT_RETRY_BASE_SEC: '0',
      AGENT_RETRY_MAX_ATTEMPTS: '1000',
      AGENT_BREAKER_FAILURE_THRESHOLD: '1000',
      AGENT_QUEUE_BREAKER_MIN_FINISHED: '10000',
      LOG_LEVEL: 'warn',
    };
    await start(a, agentEnv(1, churn));
    await start(b, agentEnv(1, churn));

    const writers = await Promise.all(
      ['w1', 'w2', 'w3', 'w4'].map(
        (prefix) =>
          new Promise<{ prefix: string; count: number; failures: number; err: string }>((resolve) => {
            const child = spawn(process.execPath, [WRITER, redis.url(1), prefix, '20000'], {
              cwd: dir.path,
              env: cleanEnv({ LOG_LEVEL: 'error' }),
              stdio: ['ignore', 'pipe', 'pipe'],
            });
            let out = '';
            let err = '';
            child.stdout.on('data', (d: Buffer) => (out += d.toString()));
            child.stderr.on('data', (d: Buffer) => (err += d.toString()));
            child.on('close', () =>
              resolve({
                ...(JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as {
                  prefix: string;
                  count: number;
                  failures: number;
                }),
                err,
              }),
            );
          }),
      ),
    );
    // The agents finish their cycles and stop, so the registry and the audit are read at rest.
    for (const agent of agents) expect((await agent.stop('SIGTERM')).code).to.equal(0);
    const doc = await store.load();
    const audit = await store.readAudit(100_000);
    for (const w of writers) {
      expect(w.failures, w.err.slice(0, 2000)).to.equal(0);
      expect(w.count, `${w.prefix} wrote nothing`).to.be.greaterThan(10);
      const inRegistry = doc.projects.filter((p) => p.id.startsWith(`${w.prefix}-`)).length;
      const inAudit = audit.filter(
        (e) => e.type === 'transition' && e['reason'] === 'enqueued' && String(e.project).startsWith(`${w.prefix}-`),
      ).length;
      expect({ writer: w.prefix, inRegistry, inAudit }).to.deep.equal({
        writer: w.prefix,
        inRegistry: w.count,
        inAudit: w.count,
      });
    }
    // The agents' own writes were not lost either: every attempt the audit saw start is counted in the project.
    for (const id of ['churn-1', 'churn-2']) {
      const project = doc.projects.find((p) => p.id === id) as Project;
      const started = audit.filter(
        (e) => e.project === id && e.type === 'transition' && e['to'] === 'processing',
      ).length;
      expect(started, `${id} was never retried`).to.be.greaterThan(2);
      expect(project.attempts, id).to.equal(started);
    }
    expectNoDoubleActions(audit.filter((e) => !String(e.project).startsWith('churn-')));
  });

  it('Redis stopped mid-run: no kills, clear errors, /readyz 503; Redis back: cycles resume', async () => {
    store = new RedisStore({ url: redis.url(2) });
    const a = host('A');
    const victim = await aZombie('victim', 'A');
    a.tmux(['new-session', '-d', '-s', 'victim-s', '--', 'sleep', '300']);
    await store.update((doc) => void doc.projects.push(victim.project));
    const agent = await start(a, agentEnv(2, { AGENT_REDIS_TIMEOUT_MS: '500' }));
    await eventually(async () => (await fetch(`${agent.url}/readyz`)).status === 200, 10_000, 'ready');
    await store.close();

    await redis.stop(); // SAVE, then SIGKILL: the data comes back with the restart
    a.tmux(['kill-session', '-t', '=victim-s']); // a zombie now, which only the registry could tell
    const errorsBefore = await metric(agent, 'orchestrator_scan_errors_total', '{source="registry"}');
    await eventually(
      async () => {
        const r = await fetch(`${agent.url}/readyz`);
        const body = (await r.json()) as { reason?: string };
        return r.status === 503 && body.reason?.includes(`${redis.url(2)} is unreachable`);
      },
      5000,
      '/readyz 503 naming the unreachable Redis',
    );
    await eventually(
      async () => (await metric(agent, 'orchestrator_scan_errors_total', '{source="registry"}')) > errorsBefore,
      15_000,
      'a registry scan error',
    );
    expect(isRunning(victim.pid), 'nothing is killed while the registry is away').to.equal(true);
    const logged = agent
      .stderr()
      .split('\n')
      .filter((l) => l.includes('registry unreadable; cycle skipped, nothing changed'));
    expect(
      logged.some((l) => l.includes(`registry ${redis.url(2)} is unreachable`)),
      agent.stderr().slice(-3000),
    ).to.equal(true);

    await redis.start();
    store = new RedisStore({ url: redis.url(2) });
    await eventually(async () => (await fetch(`${agent.url}/readyz`)).status === 200, 10_000, '/readyz 200 again');
    await eventually(
      async () => (await store.load()).projects[0]?.state === 'failed',
      10_000,
      'the zombie healed once Redis is back',
    );
    expect(isRunning(victim.pid)).to.equal(false);
    expect(actionsOf(await store.readAudit(1000), 'kill_tree')).to.have.length(1);
    const status = await runCli(['status', '--json'], {
      cwd: dir.path,
      env: { AGENT_REGISTRY: redis.url(2), LOG_LEVEL: 'error' },
    });
    expect(status.code, status.stderr).to.equal(0);
  });
});
