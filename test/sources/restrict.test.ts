import { expect } from 'chai';
import { emptyPlan, type KillTreeAction, type Plan } from '../../src/core/model/plan.js';
import type { Project, ProjectSource } from '../../src/core/model/project.js';
import { restrictPlan } from '../../src/sources/restrict.js';
import { aProject } from '../helpers/builders.js';

const toSource: ProjectSource = { kind: 'tmux-orchestrator', name: 'to', ref: '1', status: 'processing', heal: true };
const observed: ProjectSource = {
  kind: 'tmux-sessions',
  name: 'squad',
  ref: 'claudesquad_a',
  status: null,
  heal: false,
};

function kill(project: string): KillTreeAction {
  return {
    kind: 'kill_tree',
    project,
    pid: 1000,
    pidStartTime: 5000,
    session: null,
    tmuxSocket: null,
    reason: 'zombie',
    then: { to: 'failed', reason: 'zombie: killed' },
  };
}

function planFor(...ids: string[]): Plan {
  const plan = emptyPlan();
  for (const id of ids) {
    plan.actions.push(kill(id));
    plan.transitions.push({ project: id, from: 'processing', to: 'zombie', reason: 'zombie' });
    plan.detections.push({ kind: 'zombie', project: id, session: null, tmuxSocket: null, pid: 1000, reason: 'zombie' });
  }
  return plan;
}

const projects: Project[] = [
  aProject({ id: 'own' }),
  aProject({ id: 'to-1', source: toSource }),
  aProject({ id: 'ts-a', source: observed }),
];

describe('restricting a plan for imported projects', () => {
  it('leaves the registry’s own projects and healable imports alone', () => {
    const plan = planFor('own', 'to-1');
    const result = restrictPlan(plan, projects, new Map());
    expect(result.plan.actions.map((a) => a.project)).to.deep.equal(['own', 'to-1']);
    expect(result.blocked).to.deep.equal([]);
  });

  it('holds kills of a failed source’s projects, reported as scan_failed', () => {
    const result = restrictPlan(planFor('own', 'to-1'), projects, new Map([['to', '/q/task_queue.db: locked']]));
    expect(result.plan.actions.map((a) => a.project)).to.deep.equal(['own']);
    expect(result.blocked).to.have.length(1);
    expect(result.blocked[0]).to.deep.include({ reason: 'scan_failed' });
    expect(result.blocked[0]?.detail).to.contain('source to failed this cycle: /q/task_queue.db: locked');
  });

  it('holds moves into failed of a failed source’s projects but keeps the zombie observation', () => {
    const plan = planFor('to-1');
    plan.transitions.push({
      project: 'to-1',
      from: 'processing',
      to: 'failed',
      reason: 'phantom',
      patch: { failureReason: 'phantom' },
    });
    const result = restrictPlan(plan, projects, new Map([['to', 'gone']]));
    expect(result.plan.transitions.map((t) => t.to)).to.deep.equal(['zombie']);
    expect(result.plan.detections).to.have.length(1);
  });

  it('withholds every kill of an observed-only project without calling it blocked', () => {
    const plan = planFor('ts-a');
    plan.actions.push({
      kind: 'kill_session',
      project: 'ts-a',
      session: 'claudesquad_a',
      tmuxSocket: null,
      reason: 'orphan',
    });
    const result = restrictPlan(plan, projects, new Map());
    expect(result.plan.actions).to.deep.equal([]);
    expect(result.blocked).to.deep.equal([]);
    expect(result.withheld.get('squad')).to.equal(2);
    expect(result.plan.transitions.map((t) => t.to)).to.deep.equal(['zombie']);
  });

  it('takes heal from the source’s configuration over the record', () => {
    const result = restrictPlan(planFor('ts-a'), projects, new Map(), new Map([['squad', true]]));
    expect(result.plan.actions.map((a) => a.project)).to.deep.equal(['ts-a']);
  });

  it('gives observed-only projects no timeout handling', () => {
    const plan = emptyPlan();
    plan.transitions.push({ project: 'ts-a', from: 'processing', to: 'timing_out', reason: 'past deadline' });
    plan.updates.push({ project: 'ts-a', patch: { timeoutExtensions: 1 }, note: 'extended' });
    plan.detections.push({
      kind: 'timing_out',
      project: 'ts-a',
      session: null,
      tmuxSocket: null,
      pid: null,
      reason: 'past deadline',
    });
    const result = restrictPlan(plan, projects, new Map());
    expect(result.plan.transitions).to.deep.equal([]);
    expect(result.plan.updates).to.deep.equal([]);
    expect(result.plan.detections).to.deep.equal([]);
  });

  function phantomPlan(): Plan {
    const plan = emptyPlan();
    plan.transitions.push({
      project: 'ts-a',
      from: 'processing',
      to: 'failed',
      reason: 'phantom: neither alive',
      patch: { failureReason: 'phantom' },
    });
    plan.detections.push({
      kind: 'phantom',
      project: 'ts-a',
      session: 'claudesquad_a',
      tmuxSocket: null,
      pid: null,
      reason: 'neither alive',
    });
    return plan;
  }

  it('never fails a tmux session that ended with its process as a phantom', () => {
    const result = restrictPlan(phantomPlan(), projects, new Map(), new Map([['squad', false]]));
    expect(result.plan.transitions).to.deep.equal([]);
    expect(result.plan.detections).to.deep.equal([]);
  });

  it('leaves the phantom rule to projects of a tmux-sessions source no longer configured', () => {
    const result = restrictPlan(phantomPlan(), projects, new Map(), new Map());
    expect(result.plan.transitions.map((t) => t.to)).to.deep.equal(['failed']);
  });
});
