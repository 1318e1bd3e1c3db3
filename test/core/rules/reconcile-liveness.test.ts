import { expect } from 'chai';
import type { EvidenceReport } from '../../../src/core/rules/completion.js';
import type { Plan } from '../../../src/core/model/plan.js';
import type { Project } from '../../../src/core/model/project.js';
import { reconcile } from '../../../src/core/rules/reconcile.js';
import type { Snapshot } from '../../../src/core/model/snapshot.js';
import {
  HOUR,
  MIN,
  T0,
  aConfig,
  aPane,
  aProcess,
  aProject,
  aServer,
  aSnapshot,
  anEvidence,
  anEvidenceReport,
  at,
  evidenceFor,
} from '../../helpers/builders.js';

const NOW = T0 + 5 * MIN;

function run(
  projects: Project[],
  snapshot: Snapshot,
  evidence = new Map<string, EvidenceReport>(),
  hostId?: string,
): Plan {
  return reconcile({ projects, snapshot, evidence, config: aConfig(), now: NOW, hostId });
}

/** Every method answered, nothing found. */
const nothing = (id = 'p1') => evidenceFor([id, anEvidenceReport()]);

describe('reconcile: liveness and zombies', () => {
  it('marks a project with a live session as seen alive now', () => {
    const plan = run([aProject({ pid: null })], aSnapshot({ panes: [aPane()] }));
    expect(plan.updates).to.deep.equal([{ project: 'p1', patch: { lastSeenAliveAt: new Date(NOW).toISOString() } }]);
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.detections).to.deep.equal([]);
  });

  it('counts a pid with the recorded start time as alive when no session is recorded', () => {
    const plan = run([aProject({ session: null })], aSnapshot({ processes: [aProcess()] }));
    expect(plan.updates.map((u) => u.patch.lastSeenAliveAt)).to.deep.equal([new Date(NOW).toISOString()]);
    expect(plan.actions).to.deep.equal([]);
  });

  it('does not count a reused pid as alive', () => {
    const plan = run(
      [aProject({ session: null })],
      aSnapshot({ processes: [aProcess({ startTime: 9999 })] }),
      nothing(),
    );
    expect(plan.updates).to.deep.equal([]);
  });

  it('takes a defunct pid whose session is gone for a command that just ended, not a zombie: a phantom after the grace', () => {
    // tmux drops a pane's session before it reaps the pane's process.
    const defunct = [aProcess({ state: 'Z' })];
    const fresh = run(
      [aProject({ lastSeenAliveAt: at(5 * MIN - 1000) })],
      aSnapshot({ processes: defunct }),
      nothing(),
    );
    expect(fresh.transitions).to.deep.equal([]);
    expect(fresh.actions).to.deep.equal([]);
    const old = run([aProject({ lastSeenAliveAt: at(-HOUR) })], aSnapshot({ processes: defunct }), nothing());
    expect(old.transitions.map((t) => `${t.from}->${t.to}:${t.patch?.failureReason}`)).to.deep.equal([
      'processing->failed:phantom',
    ]);
    expect(old.transitions[0]?.reason).to.contain('pid 1000 exited (defunct, not yet reaped)');
    expect(old.actions).to.deep.equal([]);
  });

  it('still takes a defunct group leader whose group lives on for a zombie, so the kill reaches what it left', () => {
    const processes = [aProcess({ state: 'Z' }), aProcess({ pid: 1001, ppid: 1, pgid: 1000, state: 'S' })];
    const plan = run([aProject()], aSnapshot({ processes }), nothing());
    expect(plan.transitions.map((t) => `${t.from}->${t.to}`)).to.deep.equal(['processing->zombie']);
    expect(plan.actions.map((a) => a.kind)).to.deep.equal(['kill_tree']);
  });

  it('fails a zombie-state project whose pid is defunct and alone: nothing is left to kill', () => {
    const plan = run([aProject({ state: 'zombie' })], aSnapshot({ processes: [aProcess({ state: 'Z' })] }), nothing());
    expect(plan.transitions.map((t) => `${t.from}->${t.to}`)).to.deep.equal(['zombie->failed']);
    expect(plan.actions).to.deep.equal([]);
  });

  it('turns a live pid with a missing session into a zombie and plans its kill', () => {
    const plan = run([aProject()], aSnapshot({ processes: [aProcess()] }), nothing());
    expect(plan.transitions).to.deep.equal([
      {
        project: 'p1',
        from: 'processing',
        to: 'zombie',
        reason: 'pid 1000 alive but session w-1 missing on the default tmux server',
      },
    ]);
    expect(plan.actions).to.have.length(1);
    expect(plan.actions[0]).to.deep.include({
      kind: 'kill_tree',
      project: 'p1',
      pid: 1000,
      pidStartTime: 5000,
      session: null,
      tmuxSocket: null,
    });
    expect(plan.actions[0]?.then).to.deep.include({ to: 'failed', patch: { failureReason: 'zombie' } });
    expect(plan.detections.map((d) => d.kind)).to.deep.equal(['zombie']);
  });

  it('names the socket of the server the session is missing on', () => {
    const snapshot = aSnapshot({ processes: [aProcess()], servers: [aServer(), aServer({ socket: 'toa-x' })] });
    const plan = run([aProject({ tmuxSocket: 'toa-x' })], snapshot, nothing());
    expect(plan.transitions[0]?.reason).to.equal('pid 1000 alive but session w-1 missing on tmux server toa-x');
  });

  it('looks for the session only on its own server', () => {
    const snapshot = aSnapshot({
      processes: [aProcess()],
      servers: [aServer({ panes: [aPane()] }), aServer({ socket: 'toa-x' })],
    });
    const plan = run([aProject({ tmuxSocket: 'toa-x' })], snapshot, nothing());
    expect(plan.transitions.map((t) => t.to)).to.deep.equal(['zombie']);
  });

  it('treats a session whose panes are all dead as gone, and kills it with the tree', () => {
    const snapshot = aSnapshot({ processes: [aProcess()], panes: [aPane({ paneDead: true })] });
    const plan = run([aProject()], snapshot, nothing());
    expect(plan.transitions[0]?.reason).to.equal(
      'pid 1000 alive but session w-1 has only dead panes on the default tmux server',
    );
    expect(plan.actions[0]).to.deep.include({ kind: 'kill_tree', session: 'w-1' });
  });

  it('matches sessions by exact name: w-1 missing while w-10 lives makes only w-1 a zombie', () => {
    const projects = [aProject(), aProject({ id: 'p10', session: 'w-10', pid: 1010, pidStartTime: 5010 })];
    const snapshot = aSnapshot({
      processes: [aProcess(), aProcess({ pid: 1010, startTime: 5010 })],
      panes: [aPane({ session: 'w-10', panePid: 2010 })],
    });
    const plan = run(projects, snapshot, evidenceFor(['p1', anEvidenceReport()], ['p10', anEvidenceReport()]));
    expect(plan.transitions.map((t) => [t.project, t.to])).to.deep.equal([['p1', 'zombie']]);
    expect(plan.actions.map((a) => a.project)).to.deep.equal(['p1']);
    expect(plan.actions.some((a) => 'session' in a && a.session === 'w-10')).to.equal(false);
    expect(plan.detections.every((d) => d.session !== 'w-10')).to.equal(true);
  });

  it('completes a zombie-looking project whose completion is decided, without a kill', () => {
    const evidence = evidenceFor(['p1', anEvidenceReport([anEvidence('marker', 1, 'COMPLETED exists')])]);
    const plan = run([aProject()], aSnapshot({ processes: [aProcess()] }), evidence);
    expect(plan.transitions.map((t) => t.to)).to.deep.equal(['completed']);
    expect(plan.actions).to.deep.equal([]);
    expect(plan.completions.get('p1')?.decision).to.equal('completed');
  });

  it('holds the zombie move while completion evidence is unavailable', () => {
    const evidence = evidenceFor(['p1', anEvidenceReport([], [{ method: 'marker', error: 'EIO' }])]);
    const plan = run([aProject()], aSnapshot({ processes: [aProcess()] }), evidence);
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.actions).to.deep.equal([]);
    expect(plan.detections).to.have.length(1);
    expect(plan.detections[0]?.reason).to.contain('kill held').and.to.contain('marker (EIO)');
  });

  it('re-plans the kill of a project already in zombie', () => {
    const plan = run([aProject({ state: 'zombie' })], aSnapshot({ processes: [aProcess()] }));
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.actions.map((a) => [a.kind, a.then?.to])).to.deep.equal([['kill_tree', 'failed']]);
    expect(plan.detections.map((d) => d.kind)).to.deep.equal(['zombie']);
  });

  it('fails a zombie whose process is already gone', () => {
    const plan = run([aProject({ state: 'zombie' })], aSnapshot());
    expect(plan.transitions).to.deep.include({
      project: 'p1',
      from: 'zombie',
      to: 'failed',
      reason: 'zombie: nothing left to kill (pid 1000 gone, session w-1 missing on the default tmux server)',
      patch: { failureReason: 'zombie' },
    });
    expect(plan.actions).to.deep.equal([]);
  });

  it('never kills a zombie whose pid now belongs to another process', () => {
    const plan = run([aProject({ state: 'zombie' })], aSnapshot({ processes: [aProcess({ startTime: 7777 })] }));
    expect(plan.actions).to.deep.equal([]);
    expect(plan.transitions.map((t) => t.to)).to.deep.equal(['failed']);
  });

  it('completes a live project whose completion is decided', () => {
    const project = aProject({ phases: [{ name: 'build', done: true }] });
    const plan = run([project], aSnapshot({ processes: [aProcess()], panes: [aPane()] }));
    expect(plan.transitions.map((t) => [t.from, t.to])).to.deep.equal([['processing', 'completed']]);
    expect(plan.transitions[0]?.patch?.completion?.evidence.map((e) => e.method)).to.deep.equal(['phases']);
    expect(plan.actions).to.deep.equal([]);
  });

  it('fails a project on a failure marker', () => {
    const evidence = evidenceFor(['p1', anEvidenceReport([anEvidence('failure_marker', 1, 'FAILED exists')])]);
    const plan = run([aProject()], aSnapshot({ panes: [aPane()] }), evidence);
    expect(plan.transitions).to.have.length(1);
    expect(plan.transitions[0]).to.deep.include({
      from: 'processing',
      to: 'failed',
      reason: 'failure marker found: FAILED exists',
    });
    expect(plan.transitions[0]?.patch?.failureReason).to.equal('failure_marker');
  });

  it('fails a timing-out project on a failure marker', () => {
    const evidence = evidenceFor(['p1', anEvidenceReport([anEvidence('failure_marker', 1)])]);
    const plan = run(
      [aProject({ state: 'timing_out', timingOutSince: at(0) })],
      aSnapshot({ panes: [aPane()] }),
      evidence,
    );
    expect(plan.transitions.map((t) => [t.from, t.to, t.patch?.failureReason])).to.deep.equal([
      ['timing_out', 'failed', 'failure_marker'],
    ]);
  });

  it('considers only projects of this host or of no host', () => {
    const projects = [
      aProject({ id: 'mine', host: 'a' }),
      aProject({ id: 'nobody', host: null, pid: 1001, pidStartTime: 5001 }),
      aProject({ id: 'theirs', host: 'b', pid: 1002, pidStartTime: 5002 }),
    ];
    const processes = [aProcess(), aProcess({ pid: 1001, startTime: 5001 }), aProcess({ pid: 1002, startTime: 5002 })];
    const evidence = evidenceFor(
      ['mine', anEvidenceReport()],
      ['nobody', anEvidenceReport()],
      ['theirs', anEvidenceReport()],
    );
    const plan = run(projects, aSnapshot({ processes }), evidence, 'a');
    expect(plan.transitions.map((t) => t.project)).to.deep.equal(['mine', 'nobody']);
  });

  it('takes nothing for dead when its tmux server could not be read', () => {
    const snapshot = aSnapshot({
      processes: [aProcess()],
      servers: [aServer({ ok: false, error: 'permission denied' })],
    });
    const plan = run([aProject()], snapshot, nothing());
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.actions).to.deep.equal([]);
    expect(plan.updates.map((u) => u.project)).to.deep.equal(['p1']);
  });

  it('takes nothing for dead when its server was not scanned at all', () => {
    const snapshot = aSnapshot({ processes: [aProcess()] });
    const plan = run([aProject({ tmuxSocket: 'elsewhere' })], snapshot, nothing());
    expect(plan.transitions).to.deep.equal([]);
  });

  it('fails nothing as a phantom when the process scan failed', () => {
    const plan = run([aProject({ lastSeenAliveAt: at(-HOUR) })], aSnapshot({ failed: ['processes'] }), nothing());
    expect(plan.transitions).to.deep.equal([]);
  });

  it('neither fails nor kills a pid whose start time cannot be compared', () => {
    const project = aProject({ pidStartTime: null, lastSeenAliveAt: at(-HOUR) });
    const plan = run([project], aSnapshot({ processes: [aProcess()] }), nothing());
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.actions).to.deep.equal([]);
  });
});
