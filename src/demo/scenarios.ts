/**
 * The failure modes the demo stages, each with what it sets up, what the demo
 * does to it later (if anything), and how to tell from the registry and the
 * audit log that the agent has dealt with it.
 */
import { spawn } from 'node:child_process';
import type { AgentConfig } from '../config/keys.js';
import type { Project } from '../core/model/project.js';
import type { RegistryDocument } from '../core/model/registry-document.js';
import { launchSession } from '../heal/tmux-actions.js';
import { enqueue, start, type OperationContext } from '../registry/operations.js';
import type { AuditEntry } from '../registry/store.js';
import { readStat } from '../scan/proc-table.js';
import type { DemoWorld } from './world.js';

export type ScenarioKind = 'completes' | 'hangs' | 'zombie' | 'phantom' | 'fails_repeatedly' | 'orphan_session';

/** What the scenarios are judged from, gathered once per refresh. */
export interface Observation {
  doc: RegistryDocument | null;
  /** Every audit entry written since the demo began. */
  audit: readonly AuditEntry[];
  /** Project ids whose recorded PID still runs with its recorded start time. */
  alive: ReadonlySet<string>;
}

export interface Scenario {
  kind: ScenarioKind;
  /** The registry project it concerns; null for the orphan session, which has none. */
  project: string | null;
  session: string | null;
  /** What goes wrong, in one line. */
  story: string;
  setup(world: DemoWorld, ops: OperationContext, config: AgentConfig): Promise<void>;
  /** Something the demo does to it once `afterMs` have passed since the start. */
  act?: { afterMs: number; run(world: DemoWorld): Promise<string> };
  /** How the agent dealt with it, once it has; null until then. */
  healed(obs: Observation, config: AgentConfig): string | null;
}

const HOST_ID = 'demo';
export const DEMO_HOST_ID = HOST_ID;
export const ORPHAN_PATTERN = '^demo-orphan-';

/** A node process that survives its tmux session: it ignores the SIGHUP tmux sends. */
const HUP_IMMUNE = "process.on('SIGHUP', () => {}); setInterval(() => {}, 1000);";

function find(obs: Observation, id: string | null): Project | undefined {
  return obs.doc?.projects.find((p) => p.id === id);
}

const moved = (p: Project, to: string): boolean => p.history.some((h) => h.to === to && h.from !== h.to);

function killedTree(obs: Observation, id: string): boolean {
  return obs.audit.some(
    (e) => e.type === 'action' && e.project === id && e['action'] === 'kill_tree' && e['outcome'] === 'success',
  );
}

/** Start a process, note its start time, and let it exit: a PID and start time that no longer exist. */
async function deadProcess(): Promise<{ pid: number; startTime: number }> {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start a process for the phantom scenario');
  let startTime: number | null = null;
  for (let i = 0; i < 100 && startTime === null; i++) {
    const stat = await readStat(pid);
    if (stat?.comm === 'sleep') startTime = stat.startTime;
    else await new Promise((r) => setTimeout(r, 10));
  }
  child.kill('SIGKILL');
  await exited;
  if (startTime === null) throw new Error(`process ${pid} for the phantom scenario never ran`);
  return { pid, startTime };
}

export function demoScenarios(): Scenario[] {
  return [
    {
      kind: 'completes',
      project: 'demo-completes',
      session: null,
      story: 'finishes its work: writes COMPLETED and exits',
      async setup(world, ops) {
        const cwd = await world.projectDir('demo-completes');
        await enqueue(ops, {
          id: 'demo-completes',
          name: 'finishes its work',
          tmuxSocket: world.socket,
          cwd,
          maxAttempts: 1,
          command: ['sh', '-c', 'echo working; sleep 2; touch COMPLETED; echo all tasks complete'],
        });
      },
      healed(obs) {
        const p = find(obs, 'demo-completes');
        if (p?.state !== 'completed') return null;
        return `completed on evidence: ${(p.completion?.evidence ?? []).map((e) => e.method).join(', ') || 'reported'}`;
      },
    },
    {
      kind: 'hangs',
      project: 'demo-hangs',
      session: null,
      story: 'hangs: runs past its timeout with no heartbeat',
      async setup(world, ops) {
        const cwd = await world.projectDir('demo-hangs');
        await enqueue(ops, {
          id: 'demo-hangs',
          name: 'hangs',
          tmuxSocket: world.socket,
          cwd,
          maxAttempts: 1,
          command: ['sh', '-c', 'echo started; sleep 3600; echo never'],
        });
      },
      healed(obs, config) {
        const p = find(obs, 'demo-hangs');
        if (!p || p.state !== 'failed' || !moved(p, 'timing_out') || obs.alive.has(p.id) || !killedTree(obs, p.id))
          return null;
        return (
          `past its ${config.maxProcessRuntimeSec}s timeout: timing_out, ` +
          `tree killed after ${config.timingOutGraceSec}s of grace, failed`
        );
      },
    },
    {
      kind: 'zombie',
      project: 'demo-zombie',
      session: 'demo-zombie',
      story: 'its tmux session is killed, its process ignores SIGHUP and lives on',
      async setup(world, ops) {
        const cwd = await world.projectDir('demo-zombie');
        const { panePid } = await launchSession(
          world.socket,
          'demo-zombie',
          cwd,
          [process.execPath, '-e', HUP_IMMUNE],
          world.tmux,
        );
        const tracked = await world.track(panePid, 'zombie scenario process');
        await enqueue(ops, {
          id: 'demo-zombie',
          name: 'becomes a zombie',
          session: 'demo-zombie',
          tmuxSocket: world.socket,
          projectDir: cwd,
          maxAttempts: 1,
        });
        // Reported as an external orchestrator would: `agent start demo-zombie --pid P --session S`.
        await start(ops, 'demo-zombie', {
          pid: panePid,
          pidStartTime: tracked.startTime,
          session: 'demo-zombie',
          tmuxSocket: world.socket,
          host: HOST_ID,
        });
      },
      act: {
        afterMs: 2500,
        async run(world) {
          await world.tmuxRun(['kill-session', '-t', '=demo-zombie']);
          return 'demo: killed tmux session demo-zombie; its process ignores SIGHUP and lives on';
        },
      },
      healed(obs) {
        const p = find(obs, 'demo-zombie');
        if (!p || p.state !== 'failed' || !moved(p, 'zombie') || obs.alive.has(p.id)) return null;
        return `pid ${p.pid ?? '?'} alive without its session: zombie, tree killed, failed`;
      },
    },
    {
      kind: 'phantom',
      project: 'demo-phantom',
      session: 'demo-phantom',
      story: 'the registry says it runs, but its pid and session do not exist',
      async setup(world, ops) {
        const dead = await deadProcess();
        world.trackRecorded(dead.pid, dead.startTime, 'phantom scenario process (exited at once)');
        await enqueue(ops, {
          id: 'demo-phantom',
          name: 'a phantom',
          session: 'demo-phantom',
          tmuxSocket: world.socket,
          maxAttempts: 1,
        });
        await start(ops, 'demo-phantom', {
          pid: dead.pid,
          pidStartTime: dead.startTime,
          session: 'demo-phantom',
          tmuxSocket: world.socket,
          host: HOST_ID,
        });
      },
      healed(obs, config) {
        const p = find(obs, 'demo-phantom');
        if (p?.state !== 'failed' || p.failureReason !== 'phantom') return null;
        return `neither pid nor session for ${config.phantomGracePeriodSec}s: failed as a phantom`;
      },
    },
    {
      kind: 'fails_repeatedly',
      project: 'demo-flaky',
      session: null,
      story: 'exits without a completion marker, every time',
      async setup(world, ops) {
        const cwd = await world.projectDir('demo-flaky');
        await enqueue(ops, {
          id: 'demo-flaky',
          name: 'fails every time',
          tmuxSocket: world.socket,
          cwd,
          command: ['sh', '-c', 'echo "attempt failed"; sleep 1; exit 3'],
        });
      },
      healed(obs, config) {
        const p = find(obs, 'demo-flaky');
        if (p?.breaker.state !== 'open') return null;
        return (
          `failed ${p.breaker.consecutiveFailures} times, retried with backoff; ` +
          `breaker open: no retry for ${config.breakerCooldownSec}s`
        );
      },
    },
    {
      kind: 'orphan_session',
      project: null,
      session: 'demo-orphan-1',
      story: `a session matching ${ORPHAN_PATTERN} that no project owns`,
      async setup(world) {
        const cwd = await world.projectDir('orphan');
        // The first command starts the private server, without the user's ~/.tmux.conf.
        const out = await world.tmuxRun([
          '-f',
          '/dev/null',
          'new-session',
          '-d',
          '-P',
          '-F',
          '#{pane_pid}',
          '-s',
          'demo-orphan-1',
          '-c',
          cwd,
          '--',
          'sleep',
          '3600',
        ]);
        const pid = Number(out.trim());
        if (Number.isInteger(pid) && pid > 0) await world.track(pid, 'orphan session process');
      },
      healed(obs, config) {
        const killed = obs.audit.some(
          (e) =>
            e.type === 'action' &&
            e['action'] === 'kill_session' &&
            e['session'] === 'demo-orphan-1' &&
            e['outcome'] === 'success',
        );
        return killed ? `owned by no project for ${config.orphanGraceSec}s: session killed` : null;
      },
    },
  ];
}
