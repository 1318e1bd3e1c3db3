import { expect } from 'chai';
import type { AgentActivityMemory } from '../../../src/core/rules/agent-activity/tracker.js';
import { recordOf } from '../../../src/core/rules/agent-activity/record.js';
import { hostLaunchHolds } from '../../../src/core/rules/agent-activity/observe.js';
import { selectLaunches } from '../../../src/core/policy/launch.js';
import { evaluateQueueBreaker } from '../../../src/core/policy/queue-breaker.js';
import { queueHealth } from '../../../src/core/rules/queue-health.js';
import { evidenceCandidates, reconcile } from '../../../src/core/rules/reconcile.js';
import { emptyQueueBreaker } from '../../../src/core/model/registry-document.js';
import { onProjectFailed } from '../../../src/core/policy/retry.js';
import type { Project } from '../../../src/core/model/project.js';
import {
  HOUR,
  MIN,
  SEC,
  T0,
  aConfig,
  aPane,
  aProcess,
  aProject,
  aSnapshot,
  anEvidenceReport,
  at,
  evidenceFor,
} from '../../helpers/builders.js';

// Defaults: MAX_PROCESS_RUNTIME_SEC 1800, AWAITING_INPUT_MAX_SEC 14400, NO_PROGRESS_SEC 1800, TIMING_OUT_GRACE_SEC 120.
const DEADLINE = T0 + 1800 * SEC;
const MAX_WAIT = 4 * HOUR;
const config = aConfig({ maxTimeoutExtensions: 0 });

function prompt(since: number, pausedMs = 0): AgentActivityMemory {
  return {
    finding: {
      kind: 'awaiting_input',
      agent: 'claude-code',
      line: 'Do you want to proceed?',
      since,
      resetAt: null,
      resetFrom: null,
    },
    progress: null,
    pausedMs,
  };
}

function limit(since: number, resetAt: number): AgentActivityMemory {
  const line = "You've hit your session limit · resets 11am (UTC)";
  return {
    finding: { kind: 'rate_limited', agent: 'claude-code', line, since, resetAt, resetFrom: 'text' },
    progress: null,
    pausedMs: 0,
  };
}

const alive = aSnapshot({ processes: [aProcess()], panes: [aPane({ windowActivityAt: T0 })] });

function run(project: Project, now: number, memory: AgentActivityMemory | null) {
  return reconcile({
    projects: [project],
    snapshot: alive,
    evidence: evidenceFor([project.id, anEvidenceReport()]),
    config,
    now,
    activity: new Map(memory === null ? [] : [[project.id, memory]]),
  });
}

describe('reconcile: what the agent in the pane waits on', () => {
  it('reports a prompt with its line as the reason, and does not time the project out past its runtime', () => {
    const plan = run(aProject(), DEADLINE + HOUR, prompt(T0 + MIN));
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.actions).to.deep.equal([]);
    expect(plan.detections).to.deep.equal([
      {
        kind: 'awaiting_input',
        project: 'p1',
        session: 'w-1',
        tmuxSocket: null,
        pid: 1000,
        reason: 'Do you want to proceed?',
        agent: 'claude-code',
        since: at(MIN),
        until: at(MIN + MAX_WAIT),
      },
    ]);
  });

  it('applies the normal timeout once the prompt waited AWAITING_INPUT_MAX_SEC, with the paused time added to the deadline', () => {
    const memory = prompt(T0 + MIN);
    expect(run(aProject(), DEADLINE + MAX_WAIT, memory).transitions).to.deep.equal([]);
    const plan = run(aProject(), DEADLINE + MAX_WAIT + 1, memory);
    expect(plan.transitions[0]).to.deep.include({ from: 'processing', to: 'timing_out' });
    expect(plan.transitions[0]?.reason).to.contain('+ 14400s paused while its agent waited');
    expect(plan.detections.map((d) => d.kind)).to.deep.equal(['awaiting_input', 'timing_out']);
  });

  it('gives an answered prompt its paused time back', () => {
    const answered: AgentActivityMemory = { finding: null, progress: null, pausedMs: 10 * MIN };
    expect(run(aProject(), DEADLINE + 10 * MIN, answered).transitions).to.deep.equal([]);
    expect(run(aProject(), DEADLINE + 10 * MIN + 1, answered).transitions[0]).to.deep.include({ to: 'timing_out' });
  });

  it('pauses the clock of a usage limit until its reset, then reports it no more', () => {
    const memory = limit(T0 + 20 * MIN, DEADLINE + HOUR);
    const held = run(aProject(), DEADLINE + 30 * MIN, memory);
    expect(held.transitions).to.deep.equal([]);
    expect(held.detections).to.have.length(1);
    expect(held.detections[0]).to.include({ kind: 'rate_limited', until: new Date(DEADLINE + HOUR).toISOString() });
    const after = run(aProject(), DEADLINE + HOUR + 1, memory);
    expect(after.detections.map((d) => d.kind)).to.deep.equal(['heartbeat_stale']);
    // paused from 10:20 to its reset at 11:30: the deadline moved by 70 minutes.
    expect(run(aProject(), DEADLINE + 70 * MIN + 1, memory).transitions[0]).to.deep.include({ to: 'timing_out' });
  });

  it('holds the kill of a timing_out project whose agent then asked a question', () => {
    const project = aProject({ state: 'timing_out', timingOutSince: at(30 * MIN) });
    const plan = run(project, T0 + 40 * MIN, prompt(T0 + 31 * MIN));
    expect(plan.actions).to.deep.equal([]);
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.detections.find((d) => d.kind === 'timing_out')?.reason).to.contain(
      'kill held: its agent waits on a prompt or a usage limit',
    );
  });

  it('reports no stale heartbeat while the agent waits on a prompt', () => {
    expect(run(aProject(), T0 + 20 * MIN, prompt(T0 + MIN)).detections.map((d) => d.kind)).to.deep.equal([
      'awaiting_input',
    ]);
    expect(run(aProject(), T0 + 20 * MIN, null).detections.map((d) => d.kind)).to.deep.equal(['heartbeat_stale']);
  });

  it('reports no_progress when the pane held still and no heartbeat came for NO_PROGRESS_SEC', () => {
    const still: AgentActivityMemory = { finding: null, progress: { signature: 'aa:3', since: T0 }, pausedMs: 0 };
    const plan = run(aProject(), T0 + 1800 * SEC, still);
    expect(plan.detections.map((d) => d.kind)).to.deep.equal(['no_progress', 'heartbeat_stale']);
    expect(plan.detections[0]).to.include({ since: at(0) });
    expect(
      run(aProject({ heartbeatAt: at(20 * MIN) }), T0 + 1800 * SEC, still).detections.map((d) => d.kind),
    ).to.deep.equal([]);
  });

  it('gathers no evidence for a project past its runtime while its clock is paused', () => {
    const project = aProject({ agentActivity: recordOf(prompt(T0 + MIN)) });
    expect(evidenceCandidates([project], alive, config, DEADLINE + HOUR, DEADLINE + HOUR).ids).to.deep.equal([]);
    expect(evidenceCandidates([aProject()], alive, config, DEADLINE + HOUR, DEADLINE + HOUR).ids).to.deep.equal(['p1']);
  });
});

describe('usage limits: launches and breakers', () => {
  const limited = aProject({ id: 'lim', state: 'failed', agentActivity: recordOf(limit(T0, T0 + HOUR)) });
  const queued = aProject({ id: 'next', state: 'queued', startedAt: null, command: ['claude'], session: null });

  it('launches nothing on this host until the reset (scope host), then launches', () => {
    const cfg = aConfig({ maxConcurrent: 2 });
    const holds = (now: number) => hostLaunchHolds([limited, queued], now, 'host', () => true);
    expect(
      selectLaunches([limited, queued], emptyQueueBreaker(), cfg, T0 + 30 * MIN, 'h', () => 0.5, holds(T0 + 30 * MIN)),
    ).to.deep.equal([]);
    const later = selectLaunches(
      [limited, queued],
      emptyQueueBreaker(),
      cfg,
      T0 + HOUR,
      'h',
      () => 0.5,
      holds(T0 + HOUR),
    );
    expect(later.map((a) => a.project)).to.deep.equal(['next']);
  });

  it('holds only the limited project with scope project', () => {
    const requeued = { ...limited, state: 'queued' as const, command: ['claude'] };
    const holds = hostLaunchHolds([requeued, queued], T0 + 30 * MIN, 'project', () => true);
    const launches = selectLaunches(
      [requeued, queued],
      emptyQueueBreaker(),
      aConfig({ maxConcurrent: 2 }),
      T0 + 30 * MIN,
      'h',
      () => 0.5,
      holds,
    );
    expect(launches.map((a) => a.project)).to.deep.equal(['next']);
  });

  it('never counts a failure under a usage limit in the project breaker, and marks it for the queue breaker', () => {
    const running = aProject({
      agentActivity: recordOf(limit(T0, T0 + HOUR)),
      breaker: { state: 'closed', consecutiveFailures: 2, openedAt: null, opens: 0 },
    });
    const fin = onProjectFailed(
      { ...running, state: 'failed' },
      T0 + MIN,
      aConfig({ breakerFailureThreshold: 3 }),
      () => 0.5,
    );
    expect(fin.patch.breaker).to.deep.equal(running.breaker);
    expect(fin.details).to.include({ rateLimited: true });
    const after = onProjectFailed(
      { ...running, state: 'failed' },
      T0 + HOUR,
      aConfig({ breakerFailureThreshold: 3 }),
      () => 0.5,
    );
    expect(after.patch.breaker?.state).to.equal('open');
  });

  it('leaves projects that failed under a usage limit out of the queue breaker', () => {
    const failedUnderLimit = (id: string): Project =>
      aProject({
        id,
        state: 'failed',
        endedAt: at(MIN),
        history: [
          { at: at(MIN), from: 'processing', to: 'failed', reason: 'exit_status', by: 'agent', rateLimited: true },
        ],
      });
    const projects = ['a', 'b', 'c', 'd', 'e'].map(failedUnderLimit);
    const cfg = aConfig({ queueBreakerMinFinished: 1 });
    expect(evaluateQueueBreaker(projects, emptyQueueBreaker(), cfg, T0 + 2 * MIN).event).to.equal(null);
    const counted = projects.map((p) => ({ ...p, history: p.history.map((h) => ({ ...h, rateLimited: undefined })) }));
    expect(evaluateQueueBreaker(counted, emptyQueueBreaker(), cfg, T0 + 2 * MIN).event).to.equal('tripped');
  });

  it('calls a queue whose every queued project waits for a reset held, never blocked', () => {
    const holds = hostLaunchHolds([limited, queued], T0 + 30 * MIN, 'host', () => true);
    const input = { scanOk: true, registryOk: true, blockedSince: T0 };
    const health = queueHealth(
      [limited, queued],
      emptyQueueBreaker(),
      aConfig({ queueBlockedAfterSec: 60 }),
      T0 + 30 * MIN,
      { ...input, holds },
    );
    expect(health).to.include({ status: 'held', blocked: false });
    expect(health.reason).to.contain(`until ${at(HOUR)} (project lim:`);
    expect(
      queueHealth([limited, queued], emptyQueueBreaker(), aConfig({ queueBlockedAfterSec: 60 }), T0 + 30 * MIN, input)
        .blocked,
    ).to.equal(true);
  });
});
