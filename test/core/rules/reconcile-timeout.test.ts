import { expect } from 'chai';
import type { EvidenceReport } from '../../../src/core/rules/completion.js';
import type { Plan } from '../../../src/core/model/plan.js';
import { iso, type Project } from '../../../src/core/model/project.js';
import { reconcile } from '../../../src/core/rules/reconcile.js';
import type { Snapshot, TmuxPane } from '../../../src/core/model/snapshot.js';
import {
  MIN,
  SEC,
  T0,
  aConfig,
  aPane,
  aProcess,
  aProject,
  aSnapshot,
  anEvidence,
  anEvidenceReport,
  at,
  evidenceFor,
} from '../../helpers/builders.js';

// Defaults: MAX_PROCESS_RUNTIME_SEC 1800, HEARTBEAT_TIMEOUT_SEC 600, MAX_TIMEOUT_EXTENSIONS 3,
// EXTENSION_DURATION_SEC 900, TIMING_OUT_GRACE_SEC 120.
const DEADLINE = T0 + 1800 * SEC;
const HEARTBEAT = 600 * SEC;
const EXTENSION = 900 * SEC;
const TIMING_OUT_GRACE = 120 * SEC;

/** Alive: pid 1000 with its start time and a live session w-1 with no window activity. */
function alive(panes: TmuxPane[] = [aPane({ windowActivityAt: null })]): Snapshot {
  return aSnapshot({ processes: [aProcess()], panes });
}

function run(
  project: Project,
  now: number,
  snapshot = alive(),
  evidence: Map<string, EvidenceReport> = evidenceFor(['p1', anEvidenceReport()]),
): Plan {
  return reconcile({ projects: [project], snapshot, evidence, config: aConfig(), now });
}

describe('reconcile: timeouts and extensions', () => {
  it('leaves a project alone at exactly its deadline', () => {
    const plan = run(aProject(), DEADLINE);
    expect(plan.transitions).to.deep.equal([]);
  });

  it('moves a project with a stale heartbeat to timing_out one millisecond past its deadline', () => {
    const plan = run(aProject({ heartbeatAt: at(0) }), DEADLINE + 1);
    expect(plan.transitions).to.have.length(1);
    expect(plan.transitions[0]).to.deep.include({ project: 'p1', from: 'processing', to: 'timing_out' });
    expect(plan.transitions[0]?.reason).to.equal(
      'runtime past its deadline 2026-11-26T10:30:00.000Z (1800s + 0 × 900s) by 0.001s; last heartbeat or pane activity 1800.001s ago (heartbeat timeout 600s)',
    );
    expect(plan.detections.map((d) => d.kind)).to.deep.equal(['timing_out']);
    expect(plan.actions).to.deep.equal([]);
  });

  it('says so when no heartbeat was ever seen', () => {
    const plan = run(aProject(), DEADLINE + 1);
    expect(plan.transitions[0]?.reason).to.contain('no heartbeat or pane activity ever seen');
  });

  it('extends a project whose heartbeat is exactly at the freshness limit', () => {
    const now = DEADLINE + 1;
    const plan = run(aProject({ heartbeatAt: iso(now - HEARTBEAT) }), now);
    expect(plan.transitions).to.deep.equal([]);
    const update = plan.updates.find((u) => u.note === 'extended');
    expect(update?.patch.timeoutExtensions).to.equal(1);
    expect(update?.details).to.deep.include({ timeoutExtensions: 1, deadlineAt: iso(DEADLINE + EXTENSION) });
  });

  it('does not extend a project whose heartbeat is one millisecond too old', () => {
    const now = DEADLINE + 1;
    const plan = run(aProject({ heartbeatAt: iso(now - HEARTBEAT - 1) }), now);
    expect(plan.updates.some((u) => u.note === 'extended')).to.equal(false);
    expect(plan.transitions.map((t) => t.to)).to.deep.equal(['timing_out']);
  });

  it('takes window activity of a pane as a heartbeat', () => {
    const now = DEADLINE + 1;
    const plan = run(aProject(), now, alive([aPane({ windowActivityAt: now - 5 * SEC })]));
    expect(plan.updates[0]).to.deep.include({
      note: 'extended',
      patch: { lastSeenAliveAt: iso(now), timeoutExtensions: 1 },
    });
  });

  it('moves an extended deadline by one extension each', () => {
    const project = aProject({ timeoutExtensions: 1, heartbeatAt: at(0) });
    const deadline = DEADLINE + EXTENSION;
    expect(run({ ...project, heartbeatAt: iso(deadline) }, deadline).transitions).to.deep.equal([]);
    expect(
      run({ ...project, heartbeatAt: iso(deadline) }, deadline).updates.some((u) => u.note === 'extended'),
    ).to.equal(false);
    const plan = run({ ...project, heartbeatAt: iso(deadline) }, deadline + 1);
    expect(plan.updates.find((u) => u.note === 'extended')?.patch.timeoutExtensions).to.equal(2);
  });

  it('stops extending once every extension is used', () => {
    const deadline = DEADLINE + 3 * EXTENSION;
    const project = aProject({ timeoutExtensions: 3, heartbeatAt: iso(deadline) });
    const plan = run(project, deadline + 1);
    expect(plan.transitions.map((t) => t.to)).to.deep.equal(['timing_out']);
    expect(plan.transitions[0]?.reason).to.contain('all 3 extensions used');
  });

  it('completes a project past its deadline whose completion is decided', () => {
    const evidence = evidenceFor(['p1', anEvidenceReport([anEvidence('marker', 1)])]);
    const plan = run(aProject(), DEADLINE + 1, alive(), evidence);
    expect(plan.transitions.map((t) => t.to)).to.deep.equal(['completed']);
  });
});

describe('reconcile: timing_out', () => {
  const timingOut = (fields: Partial<Project> = {}): Project =>
    aProject({ state: 'timing_out', timingOutSince: iso(DEADLINE), heartbeatAt: at(0), ...fields });
  const graceEnd = DEADLINE + TIMING_OUT_GRACE;

  it('waits one millisecond inside the grace, reporting the project', () => {
    const plan = run(timingOut(), graceEnd - 1);
    expect(plan.actions).to.deep.equal([]);
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.detections.map((d) => d.kind)).to.deep.equal(['timing_out']);
    expect(plan.detections[0]?.reason).to.contain('grace ends in 0.001s');
  });

  it('waits at exactly the end of the grace', () => {
    expect(run(timingOut(), graceEnd).actions).to.deep.equal([]);
  });

  it('kills the tree and its session one millisecond past the grace, then fails it', () => {
    const plan = run(timingOut(), graceEnd + 1);
    expect(plan.actions).to.have.length(1);
    expect(plan.actions[0]).to.deep.include({
      kind: 'kill_tree',
      project: 'p1',
      pid: 1000,
      pidStartTime: 5000,
      session: 'w-1',
      tmuxSocket: null,
    });
    expect(plan.actions[0]?.then).to.deep.include({ to: 'failed', patch: { failureReason: 'timeout' } });
    expect(plan.transitions).to.deep.equal([]);
  });

  it('completes during the grace when completion is decided', () => {
    const evidence = evidenceFor(['p1', anEvidenceReport([anEvidence('git', 0.6), anEvidence('output', 0.5)])]);
    const plan = run(timingOut(), graceEnd - 1, alive(), evidence);
    expect(plan.transitions.map((t) => [t.from, t.to])).to.deep.equal([['timing_out', 'completed']]);
    expect(plan.actions).to.deep.equal([]);
  });

  it('completes after the grace instead of killing when completion is decided', () => {
    const evidence = evidenceFor(['p1', anEvidenceReport([anEvidence('marker', 1)])]);
    const plan = run(timingOut(), graceEnd + 1, alive(), evidence);
    expect(plan.transitions.map((t) => t.to)).to.deep.equal(['completed']);
    expect(plan.actions).to.deep.equal([]);
  });

  it('holds the kill while completion evidence is unavailable', () => {
    const evidence = evidenceFor(['p1', anEvidenceReport([], [{ method: 'git', error: 'timed out' }])]);
    const plan = run(timingOut(), graceEnd + 1, alive(), evidence);
    expect(plan.actions).to.deep.equal([]);
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.detections[0]?.reason).to.contain('kill held');
  });

  it('kills only the session when the process is gone', () => {
    const plan = run(timingOut(), graceEnd + 1, aSnapshot({ panes: [aPane()] }));
    expect(plan.actions).to.have.length(1);
    expect(plan.actions[0]).to.deep.include({ kind: 'kill_session', project: 'p1', session: 'w-1', tmuxSocket: null });
    expect(plan.actions[0]?.then?.to).to.equal('failed');
  });

  it('fails directly when nothing is left to kill', () => {
    const plan = run(timingOut(), graceEnd + 1, aSnapshot());
    expect(plan.actions).to.deep.equal([]);
    expect(plan.transitions).to.have.length(1);
    expect(plan.transitions[0]).to.deep.include({
      from: 'timing_out',
      to: 'failed',
      patch: { failureReason: 'timeout' },
    });
  });

  it('counts the grace from the deadline when timingOutSince is missing', () => {
    const plan = run(timingOut({ timingOutSince: null }), graceEnd + 1);
    expect(plan.actions.map((a) => a.kind)).to.deep.equal(['kill_tree']);
  });
});

describe('reconcile: stale heartbeats', () => {
  const now = T0 + 20 * MIN;

  it('reports nothing for a heartbeat exactly at the timeout', () => {
    const plan = run(aProject({ heartbeatAt: iso(now - HEARTBEAT) }), now);
    expect(plan.detections).to.deep.equal([]);
  });

  it('reports a heartbeat one millisecond older than the timeout, and does nothing else', () => {
    const plan = run(aProject({ heartbeatAt: iso(now - HEARTBEAT - 1) }), now);
    expect(plan.detections).to.have.length(1);
    expect(plan.detections[0]).to.deep.include({ kind: 'heartbeat_stale', project: 'p1' });
    expect(plan.detections[0]?.reason).to.equal(
      'last heartbeat or pane activity 600.001s ago (heartbeat timeout 600s)',
    );
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.actions).to.deep.equal([]);
  });

  it('reports a project that never sent a heartbeat once it is older than the timeout', () => {
    expect(run(aProject({ startedAt: iso(now - HEARTBEAT) }), now).detections).to.deep.equal([]);
    const plan = run(aProject({ startedAt: iso(now - HEARTBEAT - 1) }), now);
    expect(plan.detections.map((d) => d.kind)).to.deep.equal(['heartbeat_stale']);
  });

  it('takes recent pane output as a heartbeat', () => {
    const plan = run(aProject({ heartbeatAt: at(0) }), now, alive([aPane({ windowActivityAt: now - SEC })]));
    expect(plan.detections).to.deep.equal([]);
  });
});
