import { expect } from 'chai';
import type { AgentConfig } from '../../../src/config/keys.js';
import type { Plan } from '../../../src/core/model/plan.js';
import type { Project } from '../../../src/core/model/project.js';
import { reconcile } from '../../../src/core/rules/reconcile.js';
import type { Snapshot } from '../../../src/core/model/snapshot.js';
import {
  SEC,
  T0,
  aConfig,
  aPane,
  aProcess,
  aProject,
  aServer,
  aSnapshot,
  anEvidenceReport,
  at,
} from '../../helpers/builders.js';

const GRACE = 600 * SEC; // ORPHAN_GRACE_SEC default
const config = aConfig({ orphanSessionPatterns: ['^toa-'] });

function run(projects: Project[], snapshot: Snapshot, now: number, cfg: AgentConfig = config, hostId?: string): Plan {
  return reconcile({
    projects,
    snapshot,
    evidence: new Map(projects.map((p) => [p.id, anEvidenceReport()])),
    config: cfg,
    now,
    hostId,
  });
}

const orphan = aPane({ session: 'toa-x', panePid: 3000, sessionCreatedAt: T0 });

describe('reconcile: orphan sessions', () => {
  it('leaves a matching unowned session alone at exactly the grace', () => {
    const plan = run([], aSnapshot({ panes: [orphan] }), T0 + GRACE);
    expect(plan.actions).to.deep.equal([]);
    expect(plan.detections).to.deep.equal([]);
  });

  it('kills a matching unowned session one millisecond past the grace', () => {
    const plan = run([], aSnapshot({ panes: [orphan] }), T0 + GRACE + 1);
    expect(plan.actions).to.have.length(1);
    expect(plan.actions[0]).to.deep.include({
      kind: 'kill_session',
      project: null,
      session: 'toa-x',
      tmuxSocket: null,
    });
    expect(plan.actions[0]?.then).to.equal(undefined);
    expect(plan.actions[0]?.reason).to.equal(
      'session toa-x on the default tmux server matches orphan pattern ^toa-, is owned by no live project, and was created 600.001s ago (orphan grace 600s)',
    );
    expect(plan.detections.map((d) => [d.kind, d.session])).to.deep.equal([['orphan_session', 'toa-x']]);
  });

  it('never touches a session that matches no pattern', () => {
    const plan = run(
      [],
      aSnapshot({ panes: [aPane({ session: 'my-shell', sessionCreatedAt: T0 })] }),
      T0 + 100 * GRACE,
    );
    expect(plan.actions).to.deep.equal([]);
    expect(plan.detections).to.deep.equal([]);
  });

  it('never touches anything when no pattern is configured', () => {
    const plan = run([], aSnapshot({ panes: [orphan] }), T0 + 100 * GRACE, aConfig());
    expect(plan.actions).to.deep.equal([]);
  });

  it('never kills a session of unknown age', () => {
    const plan = run([], aSnapshot({ panes: [aPane({ session: 'toa-x', sessionCreatedAt: null })] }), T0 + 100 * GRACE);
    expect(plan.actions).to.deep.equal([]);
  });

  it('leaves a matching session owned by a processing project alone', () => {
    const plan = run(
      [aProject({ session: 'toa-x' })],
      aSnapshot({ processes: [aProcess()], panes: [orphan] }),
      T0 + GRACE + 1,
    );
    expect(plan.actions).to.deep.equal([]);
  });

  it('leaves a matching session owned by a queued project alone', () => {
    const queued = aProject({ state: 'queued', session: 'toa-x', pid: null, startedAt: null });
    expect(run([queued], aSnapshot({ panes: [orphan] }), T0 + GRACE + 1).actions).to.deep.equal([]);
  });

  it("leaves a session owned by another host's live project alone", () => {
    const theirs = aProject({ host: 'b', session: 'toa-x' });
    expect(run([theirs], aSnapshot({ panes: [orphan] }), T0 + GRACE + 1, config, 'a').actions).to.deep.equal([]);
  });

  it("does not take a same-named session on another server for the project's own", () => {
    const snapshot = aSnapshot({
      processes: [aProcess()],
      servers: [aServer({ panes: [aPane({ session: 'toa-x' })] }), aServer({ socket: 'toa-sock', panes: [orphan] })],
    });
    const plan = run([aProject({ session: 'toa-x', tmuxSocket: null })], snapshot, T0 + GRACE + 1);
    expect(plan.actions.map((a) => [a.kind, 'tmuxSocket' in a ? a.tmuxSocket : undefined])).to.deep.equal([
      ['kill_session', 'toa-sock'],
    ]);
  });

  it('skips servers that could not be read', () => {
    const snapshot = aSnapshot({ servers: [aServer({ ok: false })] });
    expect(run([], snapshot, T0 + GRACE + 1).actions).to.deep.equal([]);
  });

  describe('of finished projects', () => {
    const finished = (fields: Partial<Project> = {}): Project =>
      aProject({ state: 'completed', endedAt: at(0), session: 'job-7', pid: null, pidStartTime: null, ...fields });
    const session = aPane({ session: 'job-7', sessionCreatedAt: T0 - GRACE });

    it('leaves the session alone at exactly the grace after the end', () => {
      expect(run([finished()], aSnapshot({ panes: [session] }), T0 + GRACE).actions).to.deep.equal([]);
    });

    it('kills the session one millisecond past the grace, even without a pattern', () => {
      const plan = run([finished()], aSnapshot({ panes: [session] }), T0 + GRACE + 1, aConfig());
      expect(plan.actions).to.have.length(1);
      expect(plan.actions[0]).to.deep.include({ kind: 'kill_session', project: 'p1', session: 'job-7' });
      expect(plan.actions[0]?.reason).to.equal(
        'session job-7 of completed project p1 still alive on the default tmux server 600.001s after it ended (orphan grace 600s)',
      );
      expect(plan.detections.map((d) => d.kind)).to.deep.equal(['orphan_session']);
    });

    it('leaves the session alone when a live project owns it again', () => {
      const again = aProject({ id: 'p2', session: 'job-7', pid: null });
      const plan = run([finished(), again], aSnapshot({ panes: [session] }), T0 + GRACE + 1);
      expect(plan.actions).to.deep.equal([]);
    });

    it("leaves another host's finished project's session alone", () => {
      const plan = run([finished({ host: 'b' })], aSnapshot({ panes: [session] }), T0 + GRACE + 1, aConfig(), 'a');
      expect(plan.actions).to.deep.equal([]);
    });

    it('kills a process still running with the recorded start time past the grace, with no follow-up', () => {
      const project = finished({ state: 'failed', pid: 1000, pidStartTime: 5000 });
      expect(run([project], aSnapshot({ processes: [aProcess()] }), T0 + GRACE).actions).to.deep.equal([]);
      const plan = run([project], aSnapshot({ processes: [aProcess()] }), T0 + GRACE + 1);
      expect(plan.actions).to.have.length(1);
      expect(plan.actions[0]).to.deep.include({
        kind: 'kill_tree',
        project: 'p1',
        pid: 1000,
        pidStartTime: 5000,
        session: null,
      });
      expect(plan.actions[0]?.then).to.equal(undefined);
      expect(plan.detections[0]?.reason).to.equal(
        'pid 1000 of failed project p1 still alive 600.001s after it ended (orphan grace 600s)',
      );
    });

    it('reports a defunct leftover process past the grace and never plans a kill for it', () => {
      const project = finished({ pid: 1000, pidStartTime: 5000 });
      const defunct = aProcess({ pgid: 900, ppid: 900, state: 'Z', comm: 'sh' });
      const plan = run([project], aSnapshot({ processes: [aProcess({ pid: 900 }), defunct] }), T0 + GRACE + 1);
      expect(plan.actions).to.deep.equal([]);
      expect(plan.detections.map((d) => [d.kind, d.project, d.pid])).to.deep.equal([['defunct_process', 'p1', 1000]]);
      expect(plan.detections[0]?.reason).to.equal(
        'pid 1000 (sh) of completed project p1 is defunct 600.001s after it ended: its parent (pid 900) never reaped it; nothing to kill',
      );
    });

    it('kills the group a defunct leftover leader left behind', () => {
      const project = finished({ pid: 1000, pidStartTime: 5000 });
      const processes = [aProcess({ state: 'Z' }), aProcess({ pid: 1001, ppid: 1, pgid: 1000 })];
      const plan = run([project], aSnapshot({ processes }), T0 + GRACE + 1);
      expect(plan.actions.map((a) => [a.kind, a.project])).to.deep.equal([['kill_tree', 'p1']]);
    });

    it('says nothing about a defunct leftover inside the grace', () => {
      const project = finished({ pid: 1000, pidStartTime: 5000 });
      const plan = run([project], aSnapshot({ processes: [aProcess({ pgid: 900, state: 'Z' })] }), T0 + GRACE);
      expect(plan.detections).to.deep.equal([]);
    });

    it("never kills a finished project's pid that now belongs to another process", () => {
      const project = finished({ pid: 1000, pidStartTime: 5000 });
      expect(
        run([project], aSnapshot({ processes: [aProcess({ startTime: 9 })] }), T0 + 100 * GRACE).actions,
      ).to.deep.equal([]);
    });
  });
});

describe('reconcile: defunct processes', () => {
  it('reports a defunct process inside a tracked tree and does nothing about it', () => {
    const processes = [aProcess(), aProcess({ pid: 1001, ppid: 1000, pgid: 1000, state: 'Z', comm: 'git' })];
    const plan = run([aProject()], aSnapshot({ processes, panes: [aPane()] }), T0 + SEC);
    expect(plan.detections).to.have.length(1);
    expect(plan.detections[0]).to.deep.include({ kind: 'defunct_process', project: 'p1', pid: 1001 });
    expect(plan.detections[0]?.reason).to.equal('1 defunct process in the tree of project p1: 1001 (git)');
    expect(plan.actions).to.deep.equal([]);
    expect(plan.transitions).to.deep.equal([]);
  });

  it("looks into the trees of the session's pane processes", () => {
    const processes = [aProcess({ pid: 2000 }), aProcess({ pid: 2001, ppid: 2000, pgid: 2001, state: 'Z' })];
    const plan = run([aProject({ pid: null })], aSnapshot({ processes, panes: [aPane({ panePid: 2000 })] }), T0 + SEC);
    expect(plan.detections.map((d) => [d.kind, d.pid])).to.deep.equal([['defunct_process', 2001]]);
  });

  it('ignores defunct processes outside every tracked tree', () => {
    const processes = [aProcess(), aProcess({ pid: 4000, ppid: 1, state: 'Z' })];
    const plan = run([aProject()], aSnapshot({ processes, panes: [aPane()] }), T0 + SEC);
    expect(plan.detections).to.deep.equal([]);
  });
});
