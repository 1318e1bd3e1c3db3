import { expect } from 'chai';
import { completionScore, decideCompletion, mayFail } from '../../../src/core/rules/completion.js';
import { T0, aProject, anEvidence, anEvidenceReport } from '../../helpers/builders.js';

describe('decideCompletion', () => {
  it('completes on a marker alone', () => {
    const verdict = decideCompletion(aProject(), anEvidenceReport([anEvidence('marker', 1.0, 'COMPLETED exists')]), T0);
    expect(verdict.outcome).to.equal('completed');
    if (verdict.outcome !== 'completed') return;
    expect(verdict.record).to.deep.equal({
      decision: 'completed',
      at: '2026-11-26T10:00:00.000Z',
      score: 1,
      evidence: [{ method: 'marker', weight: 1, detail: 'COMPLETED exists' }],
    });
  });

  it('completes when git and output together reach 1.0', () => {
    const verdict = decideCompletion(
      aProject(),
      anEvidenceReport([anEvidence('git', 0.6), anEvidence('output', 0.5)]),
      T0,
    );
    expect(verdict.outcome).to.equal('completed');
  });

  it('counts one method once however often it is reported', () => {
    const verdict = decideCompletion(
      aProject(),
      anEvidenceReport([anEvidence('output', 0.5), anEvidence('output', 0.5)]),
      T0,
    );
    expect(verdict).to.deep.include({ outcome: 'incomplete', score: 0.5 });
  });

  it('reaches the threshold despite float sums', () => {
    expect(completionScore([anEvidence('git', 0.3), anEvidence('output', 0.7)])).to.equal(1);
    const verdict = decideCompletion(
      aProject(),
      anEvidenceReport([anEvidence('git', 0.3), anEvidence('output', 0.7)]),
      T0,
    );
    expect(verdict.outcome).to.equal('completed');
  });

  it('completes from the record when every phase is done, without any report', () => {
    const project = aProject({
      phases: [
        { name: 'plan', done: true },
        { name: 'build', done: true },
      ],
    });
    const verdict = decideCompletion(project, undefined, T0);
    expect(verdict.outcome).to.equal('completed');
    if (verdict.outcome === 'completed') expect(verdict.record.evidence[0]?.method).to.equal('phases');
  });

  it('does not count phases when one is not done', () => {
    const project = aProject({
      phases: [
        { name: 'plan', done: true },
        { name: 'build', done: false },
      ],
    });
    expect(decideCompletion(project, anEvidenceReport(), T0)).to.deep.include({ outcome: 'incomplete', score: 0 });
  });

  it('does not count empty phases', () => {
    expect(decideCompletion(aProject({ phases: [] }), anEvidenceReport(), T0).outcome).to.equal('incomplete');
  });

  it('decides failed on a failure marker when every method answered', () => {
    const verdict = decideCompletion(
      aProject(),
      anEvidenceReport([anEvidence('failure_marker', 1, 'FAILED exists')]),
      T0,
    );
    expect(verdict.outcome).to.equal('failed');
    expect(mayFail(verdict)).to.equal(true);
  });

  it('lets completion win over a failure marker', () => {
    const report = anEvidenceReport([anEvidence('failure_marker', 1), anEvidence('marker', 1)]);
    const verdict = decideCompletion(aProject(), report, T0);
    expect(verdict.outcome).to.equal('completed');
    if (verdict.outcome === 'completed') expect(verdict.record.evidence.map((e) => e.method)).to.deep.equal(['marker']);
  });

  it('is unknown, not incomplete, when a method was unavailable', () => {
    const report = anEvidenceReport([anEvidence('output', 0.5)], [{ method: 'git', error: 'timed out after 5000 ms' }]);
    const verdict = decideCompletion(aProject(), report, T0);
    expect(verdict.outcome).to.equal('unknown');
    expect(mayFail(verdict)).to.equal(false);
    if (verdict.outcome === 'unknown') expect(verdict.why).to.contain('git (timed out after 5000 ms)');
  });

  it('holds a failure marker while another method was unavailable', () => {
    const report = anEvidenceReport([anEvidence('failure_marker', 1)], [{ method: 'marker', error: 'EACCES' }]);
    expect(decideCompletion(aProject(), report, T0).outcome).to.equal('unknown');
  });

  it('still completes when a method was unavailable but the rest reached 1.0', () => {
    const report = anEvidenceReport([anEvidence('marker', 1)], [{ method: 'git', error: 'timed out' }]);
    expect(decideCompletion(aProject(), report, T0).outcome).to.equal('completed');
  });

  it('is unknown when no evidence was gathered', () => {
    const verdict = decideCompletion(aProject(), undefined, T0);
    expect(verdict.outcome).to.equal('unknown');
    expect(mayFail(verdict)).to.equal(false);
  });

  it('is incomplete when every method answered with nothing', () => {
    const verdict = decideCompletion(aProject(), anEvidenceReport(), T0);
    expect(verdict).to.deep.equal({ outcome: 'incomplete', score: 0, evidence: [] });
    expect(mayFail(verdict)).to.equal(true);
  });
});
