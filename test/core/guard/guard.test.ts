import { expect } from 'chai';
import { guard } from '../../../src/core/guard/guard.js';
import {
  emptyPlan,
  type HealAction,
  type KillSessionAction,
  type KillTreeAction,
  type Plan,
} from '../../../src/core/model/plan.js';
import { iso, type Project } from '../../../src/core/model/project.js';
import { reconcile } from '../../../src/core/rules/reconcile.js';
import type { KillSafety } from '../../../src/core/guard/kill-safety.js';
import { MIN, T0, aConfig, aProcess, aProject, aServer, aSnapshot } from '../../helpers/builders.js';

function killTree(project: string, pid: number, then = true): KillTreeAction {
  return {
    kind: 'kill_tree',
    project,
    pid,
    pidStartTime: 5000,
    session: null,
    tmuxSocket: null,
    reason: `kill ${project}`,
    ...(then ? { then: { to: 'failed' as const, reason: 'zombie', patch: { failureReason: 'zombie' } } } : {}),
  };
}

function killSession(session: string): KillSessionAction {
  return { kind: 'kill_session', project: null, session, tmuxSocket: null, reason: `orphan ${session}` };
}

function planOf(actions: HealAction[]): Plan {
  const plan = emptyPlan();
  plan.actions.push(...actions);
  plan.transitions.push({ project: 'a', from: 'processing', to: 'zombie', reason: 'observed' });
  return plan;
}

const clear = aSnapshot();
const limit5 = aConfig({ maxKillsPerCycle: 5 });
/** The agent as these tests see it: uid 1000 (aProcess's owner), no PID of the plans protected. */
const safety: KillSafety = { protectedPids: new Set(), uid: 1000, allowForeignUsers: false };

describe('guard', () => {
  it('passes a modest plan through untouched', () => {
    const plan = planOf([killTree('a', 1), killSession('toa-x')]);
    const result = guard(plan, { snapshot: clear, config: limit5, safety, processingCount: 10 });
    expect(result.blocked).to.deep.equal([]);
    expect(result.plan.actions).to.deep.equal(plan.actions);
  });

  it('holds every destructive action when the process scan failed, naming the source', () => {
    const launch: HealAction = {
      kind: 'launch',
      project: 'q',
      session: 'q',
      tmuxSocket: null,
      cwd: null,
      command: ['true'],
      reason: 'due',
    };
    const plan = planOf([killTree('a', 1), killSession('toa-x'), launch]);
    const result = guard(plan, {
      snapshot: aSnapshot({ failed: ['processes'] }),
      config: limit5,
      safety,
      processingCount: 10,
    });
    expect(result.blocked.map((b) => [b.action.kind, b.reason])).to.deep.equal([
      ['kill_tree', 'scan_failed'],
      ['kill_session', 'scan_failed'],
    ]);
    expect(result.blocked[0]?.detail).to.equal('scan failed: processes (processes scan failed)');
    expect(result.plan.actions).to.deep.equal([launch]);
  });

  it('names the tmux server that could not be read', () => {
    const snapshot = aSnapshot({
      servers: [aServer(), aServer({ socket: 'toa-x', ok: false, error: 'permission denied' })],
    });
    const result = guard(planOf([killSession('toa-y')]), { snapshot, config: limit5, safety, processingCount: 1 });
    expect(result.blocked[0]?.detail).to.equal('scan failed: tmux server toa-x (permission denied)');
  });

  it('keeps the observed transitions when it holds actions back', () => {
    const result = guard(planOf([killTree('a', 1)]), {
      snapshot: aSnapshot({ failed: ['tmux'] }),
      config: limit5,
      safety,
      processingCount: 10,
    });
    expect(result.plan.transitions.map((t) => t.to)).to.deep.equal(['zombie']);
  });

  it('ignores a failed resource-usage scan', () => {
    const result = guard(planOf([killTree('a', 1)]), {
      snapshot: aSnapshot({ failed: ['usage'] }),
      config: limit5,
      safety,
      processingCount: 10,
    });
    expect(result.blocked).to.deep.equal([]);
  });

  it('runs the first five of six kills and holds the sixth', () => {
    const kills = [1, 2, 3, 4, 5, 6].map((n) => killTree(`z${n}`, n));
    const result = guard(planOf(kills), { snapshot: clear, config: limit5, safety, processingCount: 20 });
    expect(result.plan.actions.map((a) => a.project)).to.deep.equal(['z1', 'z2', 'z3', 'z4', 'z5']);
    expect(result.blocked).to.have.length(1);
    expect(result.blocked[0]).to.deep.include({
      reason: 'too_many_kills',
      detail: '6 process trees planned, at most 5 per cycle (AGENT_MAX_KILLS_PER_CYCLE)',
    });
    expect(result.blocked[0]?.action.project).to.equal('z6');
  });

  it('does not count session kills against the kill limit', () => {
    const actions = [...[1, 2, 3, 4, 5].map((n) => killTree(`z${n}`, n)), killSession('toa-x')];
    expect(
      guard(planOf(actions), { snapshot: clear, config: limit5, safety, processingCount: 20 }).blocked,
    ).to.deep.equal([]);
  });

  it('holds every kill when a cycle would kill more than half of at least four projects', () => {
    const actions = [killTree('a', 1), killTree('b', 2), killTree('c', 3), killSession('toa-x')];
    const result = guard(planOf(actions), { snapshot: clear, config: limit5, safety, processingCount: 4 });
    expect(result.blocked.map((b) => [b.action.project, b.reason])).to.deep.equal([
      ['a', 'too_many_processing'],
      ['b', 'too_many_processing'],
      ['c', 'too_many_processing'],
    ]);
    expect(result.plan.actions.map((a) => a.kind)).to.deep.equal(['kill_session']);
  });

  it('allows killing exactly half of four projects', () => {
    const result = guard(planOf([killTree('a', 1), killTree('b', 2)]), {
      snapshot: clear,
      config: limit5,
      safety,
      processingCount: 4,
    });
    expect(result.blocked).to.deep.equal([]);
  });

  it('allows killing most of fewer than four projects', () => {
    const actions = [killTree('a', 1), killTree('b', 2), killTree('c', 3)];
    expect(
      guard(planOf(actions), { snapshot: clear, config: limit5, safety, processingCount: 3 }).blocked,
    ).to.deep.equal([]);
  });

  it('does not count leftover processes of finished projects as killing active ones', () => {
    const actions = [killTree('a', 1), killTree('b', 2), killTree('old1', 3, false), killTree('old2', 4, false)];
    expect(
      guard(planOf(actions), { snapshot: clear, config: limit5, safety, processingCount: 4 }).blocked,
    ).to.deep.equal([]);
  });

  it('holds every kill when the limit is zero', () => {
    const result = guard(planOf([killTree('a', 1)]), {
      snapshot: clear,
      config: aConfig({ maxKillsPerCycle: 0 }),
      safety,
      processingCount: 10,
    });
    expect(result.blocked.map((b) => b.reason)).to.deep.equal(['too_many_kills']);
  });

  it('lets the oldest five of six zombies found by reconcile be killed', () => {
    // Started in reverse id order: z6 is the oldest.
    const projects: Project[] = [1, 2, 3, 4, 5, 6].map((n) =>
      aProject({ id: `z${n}`, session: `w-${n}`, pid: 1000 + n, pidStartTime: 5000, startedAt: iso(T0 - n * MIN) }),
    );
    const others: Project[] = Array.from({ length: 10 }, (_, i) =>
      aProject({ id: `ok${i}`, state: 'processing', session: null, pid: 1100 + i, pidStartTime: 5000 }),
    );
    const processes = [...projects, ...others].map((p) => aProcess({ pid: p.pid ?? 0, startTime: 5000 }));
    const plan = reconcile({
      projects: [...projects, ...others],
      snapshot: aSnapshot({ processes }),
      evidence: new Map(projects.map((p) => [p.id, { evidence: [], unavailable: [], gatheredAt: T0 }])),
      config: limit5,
      now: T0,
    });
    expect(plan.transitions.filter((t) => t.to === 'zombie')).to.have.length(6);
    const result = guard(plan, { snapshot: aSnapshot({ processes }), config: limit5, safety, processingCount: 16 });
    expect(result.plan.actions.map((a) => a.project)).to.deep.equal(['z6', 'z5', 'z4', 'z3', 'z2']);
    expect(result.blocked.map((b) => [b.action.project, b.reason])).to.deep.equal([['z1', 'too_many_kills']]);
    expect(result.plan.transitions.filter((t) => t.to === 'zombie')).to.have.length(6);
  });

  describe('holds what the executor would refuse, with its reason', () => {
    const zombie = (pid: number, fields: Parameters<typeof aProcess>[0] = {}) =>
      aSnapshot({ processes: [aProcess({ pid, ...fields })] });

    it('holds a kill of init, the agent or its parent', () => {
      const result = guard(planOf([killTree('a', 1)]), {
        snapshot: zombie(1),
        config: limit5,
        safety: { ...safety, protectedPids: new Set([1, 42, 41]) },
        processingCount: 1,
      });
      expect(result.plan.actions).to.deep.equal([]);
      expect(result.blocked.map((b) => [b.action.project, b.reason, b.detail])).to.deep.equal([
        ['a', 'protected_pid', 'refusing to signal pid 1 (init, the agent or its parent)'],
      ]);
    });

    it("holds a kill of another user's process unless allowForeignUsers", () => {
      const snapshot = zombie(7, { uid: 65534 });
      const refused = guard(planOf([killTree('a', 7)]), { snapshot, config: limit5, safety, processingCount: 1 });
      expect(refused.blocked.map((b) => [b.reason, b.detail])).to.deep.equal([
        ['foreign_user', 'owned by uid 65534, not ours (1000); allowForeignUsers is off'],
      ]);
      const allowed = guard(planOf([killTree('a', 7)]), {
        snapshot,
        config: limit5,
        safety: { ...safety, allowForeignUsers: true },
        processingCount: 1,
      });
      expect(allowed.blocked).to.deep.equal([]);
    });

    it('holds a kill whose owner the scan could not read', () => {
      const result = guard(planOf([killTree('a', 7)]), {
        snapshot: zombie(7, { uid: null }),
        config: limit5,
        safety,
        processingCount: 1,
      });
      expect(result.blocked.map((b) => b.reason)).to.deep.equal(['foreign_user']);
    });

    it('holds a kill of a pid whose start time differs or is unknown', () => {
      const reused = guard(planOf([killTree('a', 7)]), {
        snapshot: zombie(7, { startTime: 6000 }),
        config: limit5,
        safety,
        processingCount: 1,
      });
      expect(reused.blocked.map((b) => [b.reason, b.detail])).to.deep.equal([
        ['pid_unverified', 'pid reused: start time is 6000, recorded 5000'],
      ]);
      const unknown = guard(planOf([killTree('a', 7)]), {
        snapshot: zombie(7, { startTime: null }),
        config: limit5,
        safety,
        processingCount: 1,
      });
      expect(unknown.blocked.map((b) => b.reason)).to.deep.equal(['pid_unverified']);
    });

    it('holds a session kill of a name tmux would not take', () => {
      const result = guard(planOf([killSession('odd.name')]), {
        snapshot: clear,
        config: limit5,
        safety,
        processingCount: 1,
      });
      expect(result.blocked.map((b) => b.reason)).to.deep.equal(['invalid_session']);
    });

    it('does not count a refused kill against the kill limit', () => {
      const kills = [killTree('foreign', 9), ...[1, 2, 3, 4, 5].map((n) => killTree(`z${n}`, 100 + n))];
      const processes = [aProcess({ pid: 9, uid: 0 }), ...[1, 2, 3, 4, 5].map((n) => aProcess({ pid: 100 + n }))];
      const result = guard(planOf(kills), {
        snapshot: aSnapshot({ processes }),
        config: limit5,
        safety,
        processingCount: 20,
      });
      expect(result.blocked.map((b) => [b.action.project, b.reason])).to.deep.equal([['foreign', 'foreign_user']]);
      expect(result.plan.actions).to.have.length(5);
    });
  });
});
