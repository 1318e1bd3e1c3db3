import { expect } from 'chai';
import { aResult, aSourceReport, anOutcome, aRegistry, scrape, someMetrics, T0, valueOf } from './fixtures.js';

describe('source metrics', () => {
  it('set orchestrator_source_up per source from the last pass', async () => {
    const metrics = someMetrics();
    metrics.observeCycle(
      anOutcome(aRegistry([]), {
        sourceSync: [aSourceReport(), aSourceReport({ source: 'squad', ok: false, error: 'tmux failed' })],
      }),
      T0,
    );
    let e = await scrape(metrics);
    expect(valueOf(e, 'orchestrator_source_up', { source: 'tmux-orchestrator' })).to.equal(1);
    expect(valueOf(e, 'orchestrator_source_up', { source: 'squad' })).to.equal(0);
    metrics.observeCycle(
      anOutcome(aRegistry([]), {
        sourceSync: [aSourceReport({ ok: false, error: 'locked' }), aSourceReport({ source: 'squad' })],
      }),
      T0,
    );
    e = await scrape(metrics);
    expect(valueOf(e, 'orchestrator_source_up', { source: 'tmux-orchestrator' })).to.equal(0);
    expect(valueOf(e, 'orchestrator_source_up', { source: 'squad' })).to.equal(1);
  });

  it('observe the duration of every pass', async () => {
    const metrics = someMetrics();
    for (const ms of [0.6, 30, 2500])
      metrics.observeCycle(anOutcome(aRegistry([]), { sourceSync: [aSourceReport({ durationMs: ms })] }), T0);
    const e = await scrape(metrics);
    expect(valueOf(e, 'orchestrator_source_sync_duration_seconds_count', { source: 'tmux-orchestrator' })).to.equal(3);
    expect(
      valueOf(e, 'orchestrator_source_sync_duration_seconds_bucket', { source: 'tmux-orchestrator', le: '0.001' }),
    ).to.equal(1);
    expect(valueOf(e, 'orchestrator_source_sync_duration_seconds_sum', { source: 'tmux-orchestrator' })).to.be.closeTo(
      2.5306,
      1e-6,
    );
  });

  it('are absent without sources, and a dry run records nothing', async () => {
    const metrics = someMetrics();
    metrics.observeCycle(anOutcome(aRegistry([])), T0);
    metrics.observeCycle(
      { result: { ...aResult({ sourceSync: [aSourceReport()] }), dryRun: true }, registry: null },
      T0,
    );
    const e = await scrape(metrics);
    expect(e.samples.filter((s) => s.name.startsWith('orchestrator_source_'))).to.deep.equal([]);
  });
});
