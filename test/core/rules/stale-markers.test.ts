import { expect } from 'chai';
import { isStaleMarker } from '../../../src/core/rules/completion.js';
import type { StaleMarker } from '../../../src/core/model/project.js';
import { reconcile } from '../../../src/core/rules/reconcile.js';
import {
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

const old: StaleMarker = { method: 'marker', file: 'COMPLETED', modifiedAt: at(-60 * MIN) };

describe('stale markers: a marker older than the attempt', () => {
  describe('isStaleMarker', () => {
    const project = aProject({ startedAt: at(0) });

    it('takes a marker modified before the attempt started (past the clock slack) as stale', () => {
      expect(isStaleMarker(T0 - 21, project)).to.equal(true);
      expect(isStaleMarker(T0 - 60 * MIN + 0.5, project)).to.equal(true);
    });

    it('counts a marker modified at or after the start, or within the 20 ms the file clock may trail', () => {
      expect(isStaleMarker(T0 + 1, project)).to.equal(false);
      expect(isStaleMarker(T0, project)).to.equal(false);
      expect(isStaleMarker(T0 - 20 + 0.25, project)).to.equal(false);
    });

    it('allows two seconds for a whole-second mtime (a file system with coarse timestamps)', () => {
      const started = aProject({ startedAt: at(1500) });
      expect(isStaleMarker(T0, started), 'whole second, 1.5 s before').to.equal(false);
      expect(isStaleMarker(T0 - 1000, started), 'whole second, 2.5 s before').to.equal(true);
      expect(isStaleMarker(T0 + 0.5, started), 'fine-grained, 1.5 s before').to.equal(true);
    });

    it('counts every marker of a project without a start time', () => {
      expect(isStaleMarker(0, aProject({ startedAt: null }))).to.equal(false);
    });
  });

  describe('reconcile', () => {
    const alive = aSnapshot({ processes: [aProcess()], panes: [aPane()] });

    it('never completes on a stale marker alone, and reports it with the attempt start', () => {
      const report = { ...anEvidenceReport(), staleMarkers: [old] };
      const plan = reconcile({
        projects: [aProject()],
        snapshot: alive,
        evidence: evidenceFor(['p1', report]),
        config: aConfig(),
        now: T0 + MIN,
      });
      expect(plan.transitions).to.deep.equal([]);
      expect(plan.detections, 'not a stuck kind').to.deep.equal([]);
      expect(plan.staleMarkers).to.deep.equal([
        {
          project: 'p1',
          startedAt: at(0),
          markers: [old],
          reason: `COMPLETED (modified ${old.modifiedAt}) older than this attempt (started ${at(0)}): ignored`,
        },
      ]);
      expect(plan.updates.find((u) => u.project === 'p1')?.patch.staleMarkers).to.deep.equal([old]);
    });

    it('does not rewrite the record when it already holds the same stale markers', () => {
      const report = { ...anEvidenceReport(), staleMarkers: [old] };
      const project = aProject({ staleMarkers: [old], lastSeenAliveAt: at(MIN) });
      const plan = reconcile({
        projects: [project],
        snapshot: alive,
        evidence: evidenceFor(['p1', report]),
        config: aConfig(),
        now: T0 + MIN + SEC,
      });
      expect(plan.updates).to.deep.equal([]);
      expect(plan.staleMarkers.map((s) => s.project)).to.deep.equal(['p1']);
    });

    it('clears them once the marker gatherers find none (the marker was rewritten during the run)', () => {
      const project = aProject({ staleMarkers: [old], lastSeenAliveAt: at(MIN) });
      const plan = reconcile({
        projects: [project],
        snapshot: alive,
        evidence: evidenceFor(['p1', anEvidenceReport()]),
        config: aConfig(),
        now: T0 + MIN + SEC,
      });
      expect(plan.updates.map((u) => u.patch.staleMarkers)).to.deep.equal([[]]);
    });

    it('keeps them while a marker gatherer could not answer', () => {
      const project = aProject({ staleMarkers: [old], lastSeenAliveAt: at(MIN) });
      const report = anEvidenceReport([], [{ method: 'marker', error: 'EACCES' }]);
      const plan = reconcile({
        projects: [project],
        snapshot: alive,
        evidence: evidenceFor(['p1', report]),
        config: aConfig(),
        now: T0 + MIN + SEC,
      });
      expect(plan.updates).to.deep.equal([]);
    });
  });
});
