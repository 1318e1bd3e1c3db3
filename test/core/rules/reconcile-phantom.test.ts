import { expect } from 'chai';
import type { EvidenceReport } from '../../../src/core/rules/completion.js';
import type { Plan } from '../../../src/core/model/plan.js';
import type { Project } from '../../../src/core/model/project.js';
import { reconcile } from '../../../src/core/rules/reconcile.js';
import {
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

const GRACE = 900 * SEC; // PHANTOM_GRACE_PERIOD_SEC default

function run(
  project: Project,
  now: number,
  evidence: Map<string, EvidenceReport> = evidenceFor(['p1', anEvidenceReport()]),
): Plan {
  return reconcile({ projects: [project], snapshot: aSnapshot(), evidence, config: aConfig(), now });
}

describe('reconcile: phantoms', () => {
  it('reports nothing one millisecond inside the grace', () => {
    const plan = run(aProject(), T0 + GRACE - 1);
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.detections).to.deep.equal([]);
  });

  it('reports nothing at exactly the grace', () => {
    const plan = run(aProject(), T0 + GRACE);
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.detections).to.deep.equal([]);
  });

  it('fails a phantom one millisecond past the grace', () => {
    const plan = run(aProject(), T0 + GRACE + 1);
    expect(plan.transitions).to.have.length(1);
    expect(plan.transitions[0]).to.deep.include({
      project: 'p1',
      from: 'processing',
      to: 'failed',
      patch: { failureReason: 'phantom' },
    });
    expect(plan.transitions[0]?.reason).to.equal(
      'phantom: neither alive: pid 1000 gone, session w-1 missing on the default tmux server; last sign of life 900.001s ago (phantom grace 900s)',
    );
    expect(plan.detections.map((d) => d.kind)).to.deep.equal(['phantom']);
    expect(plan.actions).to.deep.equal([]);
  });

  it('counts the grace from startedAt when it was never seen alive', () => {
    const project = aProject({ lastSeenAliveAt: null, startedAt: at(0) });
    expect(run(project, T0 + GRACE).transitions).to.deep.equal([]);
    expect(run(project, T0 + GRACE + 1).transitions.map((t) => t.to)).to.deep.equal(['failed']);
  });

  it('counts the grace from lastSeenAliveAt, not from the start', () => {
    const project = aProject({ startedAt: at(-10 * GRACE), lastSeenAliveAt: at(0) });
    expect(run(project, T0 + GRACE).transitions).to.deep.equal([]);
  });

  it('takes a later heartbeat as a sign of life', () => {
    const project = aProject({ lastSeenAliveAt: at(0), heartbeatAt: at(60 * SEC) });
    expect(run(project, T0 + GRACE + 1).transitions).to.deep.equal([]);
    expect(run(project, T0 + 60 * SEC + GRACE + 1).transitions.map((t) => t.to)).to.deep.equal(['failed']);
  });

  it('completes a phantom with a completion marker instead of failing it', () => {
    const evidence = evidenceFor(['p1', anEvidenceReport([anEvidence('marker', 1, 'COMPLETED exists')])]);
    const plan = run(aProject(), T0 + GRACE + 1, evidence);
    expect(plan.transitions.map((t) => t.to)).to.deep.equal(['completed']);
    expect(plan.transitions.some((t) => t.to === 'failed')).to.equal(false);
  });

  it('completes a dead project inside the grace once completion is decided', () => {
    const project = aProject({ phases: [{ name: 'all', done: true }] });
    expect(run(project, T0 + 1).transitions.map((t) => t.to)).to.deep.equal(['completed']);
  });

  it('holds the failure of a phantom whose evidence is unavailable', () => {
    const evidence = evidenceFor([
      'p1',
      anEvidenceReport([], [{ method: 'marker', error: 'EACCES: permission denied' }]),
    ]);
    const plan = run(aProject(), T0 + GRACE + 1, evidence);
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.detections).to.have.length(1);
    expect(plan.detections[0]?.kind).to.equal('phantom');
    expect(plan.detections[0]?.reason).to.contain('failure held').and.to.contain('EACCES');
  });

  it('holds the failure of a phantom whose evidence was not gathered', () => {
    const plan = run(aProject(), T0 + GRACE + 1, new Map());
    expect(plan.transitions).to.deep.equal([]);
    expect(plan.detections.map((d) => d.kind)).to.deep.equal(['phantom']);
  });

  it('fails a phantom whose pid was reused by another process', () => {
    const plan = reconcile({
      projects: [aProject()],
      snapshot: aSnapshot({ processes: [aProcess({ startTime: 6000 })] }),
      evidence: evidenceFor(['p1', anEvidenceReport()]),
      config: aConfig(),
      now: T0 + GRACE + 1,
    });
    expect(plan.transitions[0]?.reason).to.contain(
      'pid 1000 now belongs to another process (start time 6000, recorded 5000)',
    );
    expect(plan.actions).to.deep.equal([]);
  });

  it('fails a phantom whose session is left with dead panes only', () => {
    const plan = reconcile({
      projects: [aProject()],
      snapshot: aSnapshot({ panes: [aPane({ paneDead: true })] }),
      evidence: evidenceFor(['p1', anEvidenceReport()]),
      config: aConfig(),
      now: T0 + GRACE + 1,
    });
    expect(plan.transitions.map((t) => t.patch?.failureReason)).to.deep.equal(['phantom']);
  });
});
