import { expect } from 'chai';
import { GUARD_REASONS, STUCK_KINDS } from '../../src/core/model/plan.js';
import type { AuditEntry } from '../../src/registry/store.js';
import {
  aBusyOutcome,
  aDetection,
  anOutcome,
  anUnreadableRegistryOutcome,
  aProjectIn,
  aRegistry,
  aResult,
  at,
  aTransition,
  HOUR,
  MIN,
  samplesOf,
  scrape,
  someMetrics,
  T0,
  valueOf,
} from './fixtures.js';

describe('metrics counters', () => {
  describe('zero start', () => {
    it('pre-initialises every label combination alerts and dashboards rely on', async () => {
      const e = await scrape(someMetrics());
      for (const action of ['kill_tree', 'kill_session', 'launch']) {
        for (const outcome of ['success', 'failure', 'skipped'])
          expect(valueOf(e, 'orchestrator_heal_actions_total', { action, outcome })).to.equal(0);
      }
      for (const reason of GUARD_REASONS) expect(valueOf(e, 'orchestrator_heal_blocked_total', { reason })).to.equal(0);
      for (const source of ['processes', 'tmux', 'registry', 'evidence'])
        expect(valueOf(e, 'orchestrator_scan_errors_total', { source })).to.equal(0);
      for (const kind of STUCK_KINDS) expect(valueOf(e, 'orchestrator_detections_total', { kind })).to.equal(0);
      for (const from of ['processing', 'timing_out', 'zombie'])
        expect(valueOf(e, 'orchestrator_state_transitions_total', { from, to: 'failed' })).to.equal(0);
      for (const from of ['processing', 'timing_out'])
        expect(valueOf(e, 'orchestrator_state_transitions_total', { from, to: 'completed' })).to.equal(0);
      expect(valueOf(e, 'orchestrator_state_transitions_total', { from: 'failed', to: 'queued' })).to.equal(0);
      expect(valueOf(e, 'orchestrator_retries_total')).to.equal(0);
      for (const outcome of ['completed', 'failed'])
        expect(valueOf(e, 'orchestrator_project_duration_seconds_count', { outcome })).to.equal(0);
      expect(valueOf(e, 'orchestrator_scan_duration_seconds_count')).to.equal(0);
    });
  });

  describe('from cycles', () => {
    it('counts heal actions by action and outcome, guard holds by reason, and retries', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(aBusyOutcome(), T0);
      metrics.observeCycle(aBusyOutcome(), T0 + 15_000);
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_heal_actions_total', { action: 'kill_tree', outcome: 'success' })).to.equal(2);
      expect(valueOf(e, 'orchestrator_heal_actions_total', { action: 'kill_session', outcome: 'skipped' })).to.equal(2);
      expect(valueOf(e, 'orchestrator_heal_actions_total', { action: 'launch', outcome: 'failure' })).to.equal(2);
      expect(valueOf(e, 'orchestrator_heal_actions_total', { action: 'launch', outcome: 'success' })).to.equal(0);
      expect(valueOf(e, 'orchestrator_heal_blocked_total', { reason: 'scan_failed' })).to.equal(2);
      expect(valueOf(e, 'orchestrator_retries_total')).to.equal(4);
    });

    it('counts a failing source once per cycle, however many errors it reported', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(aBusyOutcome(), T0);
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_scan_errors_total', { source: 'evidence' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_scan_errors_total', { source: 'tmux' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_scan_errors_total', { source: 'processes' })).to.equal(0);
      expect(valueOf(e, 'orchestrator_scan_errors_total', { source: 'registry' })).to.equal(0);
    });

    it('counts registry errors from cycles and from outside them', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(anUnreadableRegistryOutcome(), T0);
      metrics.observeRegistryError();
      expect(valueOf(await scrape(metrics), 'orchestrator_scan_errors_total', { source: 'registry' })).to.equal(2);
    });

    it('observes each cycle duration in seconds', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(anOutcome(aRegistry([]), { durationMs: 120 }), T0);
      metrics.observeCycle(anOutcome(aRegistry([]), { durationMs: 2300 }), T0 + MIN);
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_scan_duration_seconds_count')).to.equal(2);
      expect(valueOf(e, 'orchestrator_scan_duration_seconds_sum')).to.be.closeTo(2.42, 1e-9);
      expect(valueOf(e, 'orchestrator_scan_duration_seconds_bucket', { le: '0.005' })).to.equal(0);
      expect(valueOf(e, 'orchestrator_scan_duration_seconds_bucket', { le: '0.25' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_scan_duration_seconds_bucket', { le: '30' })).to.equal(2);
    });

    it('records nothing for a dry run', async () => {
      const metrics = someMetrics();
      const before = (await metrics.render(false)).body;
      metrics.observeCycle(
        {
          result: aResult({
            dryRun: true,
            actions: [{ project: 'a', action: 'kill_tree', outcome: 'planned', detail: '', reason: 'zombie' }],
            detections: [aDetection('zombie', 'a')],
            counts: { retries: 1, breakerTrips: 0, launches: 0, queueTrips: 0, extensions: 0 },
          }),
          registry: aRegistry([aProjectIn('a', 'zombie')]),
        },
        T0,
      );
      const lines = (text: string) => text.split('\n').filter((l) => l.startsWith('orchestrator_'));
      expect(lines((await metrics.render(false)).body)).to.deep.equal(lines(before));
    });
  });

  describe('detections', () => {
    const registry = aRegistry([aProjectIn('a', 'zombie'), aProjectIn('b', 'processing')]);

    it('counts a detection once while it persists', async () => {
      const metrics = someMetrics();
      for (let i = 0; i < 5; i++)
        metrics.observeCycle(anOutcome(registry, { detections: [aDetection('zombie', 'a')] }), T0 + i * 15_000);
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_detections_total', { kind: 'zombie' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_stuck_projects', { kind: 'zombie' })).to.equal(1);
    });

    it('counts it again when it comes back after a cycle without it', async () => {
      const metrics = someMetrics();
      const seen = anOutcome(registry, { detections: [aDetection('zombie', 'a')] });
      metrics.observeCycle(seen, T0);
      metrics.observeCycle(anOutcome(registry), T0 + 15_000);
      expect(valueOf(await scrape(metrics), 'orchestrator_stuck_projects', { kind: 'zombie' })).to.equal(0);
      metrics.observeCycle(seen, T0 + 30_000);
      expect(valueOf(await scrape(metrics), 'orchestrator_detections_total', { kind: 'zombie' })).to.equal(2);
    });

    it('counts a new project, session or kind as a new detection', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(anOutcome(registry, { detections: [aDetection('heartbeat_stale', 'b')] }), T0);
      metrics.observeCycle(
        anOutcome(registry, {
          detections: [
            aDetection('heartbeat_stale', 'b'),
            aDetection('zombie', 'a'),
            aDetection('orphan_session', null, { session: 'w-1' }),
            aDetection('orphan_session', null, { session: 'w-2' }),
          ],
        }),
        T0 + 15_000,
      );
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_detections_total', { kind: 'heartbeat_stale' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_detections_total', { kind: 'zombie' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_detections_total', { kind: 'orphan_session' })).to.equal(2);
      expect(valueOf(e, 'orchestrator_stuck_projects', { kind: 'orphan_session' })).to.equal(2);
    });

    it('does not recount a persisting detection after a cycle that could not read the registry', async () => {
      const metrics = someMetrics();
      const seen = anOutcome(registry, { detections: [aDetection('zombie', 'a')] });
      metrics.observeCycle(seen, T0);
      metrics.observeCycle(anUnreadableRegistryOutcome(), T0 + 15_000);
      metrics.observeCycle(seen, T0 + 30_000);
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_detections_total', { kind: 'zombie' })).to.equal(1);
    });
  });

  describe('from the audit log', () => {
    it('counts real moves between states by from and to, from every writer', async () => {
      const metrics = someMetrics();
      metrics.observeAudit(
        [
          aTransition('a', 'queued', 'processing', at(0), { by: 'cli@build-01' }),
          aTransition('a', 'processing', 'zombie', at(MIN)),
          aTransition('a', 'zombie', 'failed', at(2 * MIN), { by: 'api@build-01' }),
          aTransition('b', 'queued', 'processing', at(0)),
        ],
        null,
      );
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_state_transitions_total', { from: 'queued', to: 'processing' })).to.equal(2);
      expect(valueOf(e, 'orchestrator_state_transitions_total', { from: 'processing', to: 'zombie' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_state_transitions_total', { from: 'zombie', to: 'failed' })).to.equal(1);
    });

    it('ignores enqueues, notes, actions, same-state entries and unknown states', async () => {
      const metrics = someMetrics();
      const before = (await scrape(metrics)).samples.filter((s) => s.name === 'orchestrator_state_transitions_total');
      const noise: AuditEntry[] = [
        aTransition('a', null, 'queued', at(0)),
        aTransition('a', 'processing', 'processing', at(0), { reason: 'extended' }),
        { ...aTransition('a', 'processing', 'processing', at(0)), type: 'note' },
        { at: at(0), type: 'action', project: 'a', by: 'agent@x', action: 'kill_tree', outcome: 'success' },
        aTransition('a', 'processing', 'exploded' as never, at(0)),
        { at: at(0), type: 'archive', project: 'a', by: 'agent@x' },
      ];
      metrics.observeAudit(noise, null);
      const after = (await scrape(metrics)).samples.filter((s) => s.name === 'orchestrator_state_transitions_total');
      expect(after).to.deep.equal(before);
    });

    it('observes the duration of finished attempts from their start', async () => {
      const metrics = someMetrics();
      const registry = aRegistry([
        aProjectIn('done', 'completed', { startedAt: at(-2 * HOUR) }),
        aProjectIn('lost', 'failed', { startedAt: at(-10 * MIN) }),
      ]);
      metrics.observeAudit(
        [aTransition('done', 'processing', 'completed', at(0)), aTransition('lost', 'timing_out', 'failed', at(0))],
        registry,
      );
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_project_duration_seconds_sum', { outcome: 'completed' })).to.equal(7200);
      expect(valueOf(e, 'orchestrator_project_duration_seconds_count', { outcome: 'failed' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_project_duration_seconds_sum', { outcome: 'failed' })).to.equal(600);
      expect(valueOf(e, 'orchestrator_project_duration_seconds_bucket', { outcome: 'failed', le: '600' })).to.equal(1);
      expect(valueOf(e, 'orchestrator_project_duration_seconds_bucket', { outcome: 'completed', le: '3600' })).to.equal(
        0,
      );
    });

    it('uses the history for an attempt that ended before the project started again', async () => {
      const metrics = someMetrics();
      const restarted = aProjectIn('r', 'processing', {
        startedAt: at(HOUR),
        history: [
          { at: at(-30 * MIN), from: 'queued', to: 'processing', reason: 'started', by: 'agent@x' },
          { at: at(0), from: 'processing', to: 'failed', reason: 'phantom', by: 'agent@x' },
          { at: at(30 * MIN), from: 'failed', to: 'queued', reason: 'retry', by: 'agent@x' },
          { at: at(HOUR), from: 'queued', to: 'processing', reason: 'started', by: 'agent@x' },
        ],
      });
      metrics.observeAudit([aTransition('r', 'processing', 'failed', at(0))], aRegistry([restarted]));
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_project_duration_seconds_sum', { outcome: 'failed' })).to.equal(1800);
    });

    it('counts the move but observes no duration when the start is unknown', async () => {
      const metrics = someMetrics();
      const registry = aRegistry([aProjectIn('nostart', 'failed', { startedAt: null })]);
      metrics.observeAudit(
        [
          aTransition('nostart', 'processing', 'failed', at(0)),
          aTransition('archived', 'processing', 'completed', at(0)),
          aTransition('x', 'processing', 'completed', at(0)),
        ],
        registry,
      );
      metrics.observeAudit([aTransition('y', 'processing', 'completed', at(0))], null);
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_state_transitions_total', { from: 'processing', to: 'completed' })).to.equal(3);
      expect(samplesOf(e, 'orchestrator_project_duration_seconds_count').map((s) => s.value)).to.deep.equal([0, 0]);
    });

    it('leaves transitions to the audit log: a cycle report does not count them', async () => {
      const metrics = someMetrics();
      metrics.observeCycle(
        anOutcome(aRegistry([]), {
          transitions: [{ project: 'a', from: 'processing', to: 'failed', reason: 'phantom' }],
        }),
        T0,
      );
      const e = await scrape(metrics);
      expect(valueOf(e, 'orchestrator_state_transitions_total', { from: 'processing', to: 'failed' })).to.equal(0);
    });
  });
});
