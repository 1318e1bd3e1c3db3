/**
 * A completion marker left by an earlier run, as a user meets it: enqueue a
 * command in a project directory that already holds an old COMPLETED, run
 * cycles with the built CLI. The old marker never completes the new run, it
 * is shown as stale where an operator looks, and a marker the run writes
 * completes it.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

describe('e2e: a stale completion marker', function () {
  this.timeout(90_000);
  let q: TestQueue;
  let dir: string;
  // Whole seconds: utimes and stat round trips keep them exactly.
  const HOUR_AGO = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);
  beforeEach(() => {
    q = new TestQueue();
    dir = join(q.dir.path, 'project');
    mkdirSync(dir);
    writeFileSync(join(dir, 'COMPLETED'), 'from the last run\n');
    utimesSync(join(dir, 'COMPLETED'), HOUR_AGO, HOUR_AGO);
  });
  afterEach(async () => {
    await q.destroy();
  });

  it('never completes the next run, is shown as stale by status, list-stuck and diagnostics, and a marker written by the run completes it', async () => {
    // The command waits for a go-ahead, then writes its own marker.
    const script = 'while [ ! -e go ]; do sleep 0.1; done; touch COMPLETED; exec sleep 600';
    const enqueued = await q.agent([
      'enqueue',
      '--id',
      'p1',
      '--tmux-socket',
      q.tmux.socket,
      '--cwd',
      dir,
      '--project-dir',
      dir,
      '--',
      'sh',
      '-c',
      script,
    ]);
    expect(enqueued.code, enqueued.stderr).to.equal(0);
    const launch = await q.heal();
    expect(
      launch.result.actions.map((a) => `${a.action}:${a.outcome}`),
      JSON.stringify(launch.result),
    ).to.deep.equal(['launch:success']);
    q.processes.track(q.get('p1').pid as number);

    const next = await q.heal();
    expect(next.result.transitions, 'the old marker completes nothing').to.deep.equal([]);
    expect(q.get('p1').state).to.equal('processing');
    expect(q.get('p1').staleMarkers).to.deep.equal([
      { method: 'marker', file: 'COMPLETED', modifiedAt: HOUR_AGO.toISOString() },
    ]);

    const status = await q.agent(['status']);
    expect(status.stdout).to.match(
      /stale markers \(older than the attempt, never evidence\):\nPROJECT\s+MARKER\s+MODIFIED\s+ATTEMPT STARTED\np1\s+COMPLETED\s+\S+/,
    );
    const statusJson = JSON.parse((await q.agent(['status', '--json'])).stdout) as {
      projects: { id: string; staleMarkers: unknown[] }[];
    };
    expect(statusJson.projects.find((p) => p.id === 'p1')?.staleMarkers).to.have.length(1);

    const stuck = await q.agent(['list-stuck', '--json']);
    const stuckJson = JSON.parse(stuck.stdout) as {
      stuck: unknown[];
      staleMarkers: { project: string; reason: string }[];
    };
    expect(stuckJson.stuck, 'a stale marker is not a stuck project').to.deep.equal([]);
    expect(stuckJson.staleMarkers.map((s) => s.project)).to.deep.equal(['p1']);
    expect(stuckJson.staleMarkers[0]?.reason).to.match(
      /^COMPLETED \(modified .*\) older than this attempt \(started .*\): ignored$/,
    );
    expect(stuck.code, 'nothing stuck').to.equal(0);
    expect((await q.agent(['list-stuck'])).stdout).to.match(/stale markers[^\n]*\n[^\n]*\np1\s+COMPLETED/);

    const diagnostics = JSON.parse((await q.agent(['diagnostics', '--json'])).stdout) as {
      staleMarkers: { project: string }[];
    };
    expect(diagnostics.staleMarkers.map((s) => s.project)).to.deep.equal(['p1']);
    expect((await q.agent(['diagnostics'])).stdout).to.match(/stale markers[^\n]*\n[^\n]*\np1\s+COMPLETED/);

    writeFileSync(join(dir, 'go'), '');
    await waitUntil(
      () => statSync(join(dir, 'COMPLETED')).mtimeMs > HOUR_AGO.getTime() + 1000,
      10_000,
      'the run to write its marker',
    );
    const done = await q.heal();
    expect(
      done.result.transitions.map((t) => `${t.project}:${t.from}->${t.to}`),
      JSON.stringify(done.result),
    ).to.deep.equal(['p1:processing->completed']);
    const p1 = q.get('p1');
    expect(p1.completion?.evidence.map((e) => e.method)).to.deep.equal(['marker']);
    expect(p1.staleMarkers, 'the marker belongs to this attempt now').to.deep.equal([]);
  });

  it('counts a marker a fast command writes the instant it starts (the attempt starts before the launch)', async () => {
    // The command holds the registry lock for a second around its marker, so the launch is recorded well after
    // the marker was written: an attempt start taken at that commit would make the command's own marker stale.
    const lock = `${q.registry}.lock`;
    const script = `until mkdir '${lock}' 2>/dev/null; do sleep 0.01; done; touch COMPLETED; sleep 1; rmdir '${lock}'; exec sleep 600`;
    const enqueued = await q.agent([
      'enqueue',
      '--id',
      'p2',
      '--tmux-socket',
      q.tmux.socket,
      '--cwd',
      dir,
      '--project-dir',
      dir,
      '--',
      'sh',
      '-c',
      script,
    ]);
    expect(enqueued.code, enqueued.stderr).to.equal(0);
    await q.heal();
    q.processes.track(q.get('p2').pid as number);
    await waitUntil(
      () => statSync(join(dir, 'COMPLETED')).mtimeMs > HOUR_AGO.getTime() + 1000,
      10_000,
      'the command to write its marker',
    );
    const next = await q.heal();
    expect(
      next.result.transitions.map((t) => `${t.project}:${t.to}`),
      JSON.stringify(next.result),
    ).to.deep.equal(['p2:completed']);
    expect(Date.parse(q.get('p2').startedAt ?? '')).to.be.at.most(statSync(join(dir, 'COMPLETED')).mtimeMs + 20);
  });

  it('never fails a run on a FAILED marker left by an earlier one', async () => {
    writeFileSync(join(dir, 'FAILED'), '');
    utimesSync(join(dir, 'FAILED'), HOUR_AGO, HOUR_AGO);
    await q.agent([
      'enqueue',
      '--id',
      'p3',
      '--tmux-socket',
      q.tmux.socket,
      '--cwd',
      dir,
      '--project-dir',
      dir,
      '--',
      'sleep',
      '600',
    ]);
    await q.heal();
    q.processes.track(q.get('p3').pid as number);
    const next = await q.heal();
    expect(next.result.transitions).to.deep.equal([]);
    expect(q.get('p3').state).to.equal('processing');
    expect(
      q
        .get('p3')
        .staleMarkers.map((m) => `${m.method}:${m.file}`)
        .sort(),
    ).to.deep.equal(['failure_marker:FAILED', 'marker:COMPLETED']);
    expect(existsSync(join(dir, 'FAILED'))).to.equal(true);
  });
});
