import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import type { CompletionMethod } from '../../src/core/model/project.js';
import { gatherEvidence, type GatherNote } from '../../src/evidence/gather.js';
import type { EvidenceGatherer, GatherResult } from '../../src/evidence/types.js';
import { PrivateTmux } from '../helpers/tmux.js';
import { aConfig, aProject, destroyTmux, TempDirs, waitFor } from './fixtures.js';

const NOW = Date.parse('2026-01-01T12:00:00.000Z');

function fixed(method: CompletionMethod, gather: () => Promise<GatherResult>): EvidenceGatherer {
  return { method, gather };
}

describe('evidence: gatherEvidence', function () {
  this.timeout(15000);
  const temp = new TempDirs();
  let tmux: PrivateTmux;

  beforeEach(() => {
    tmux = new PrivateTmux('gather');
  });
  afterEach(() => {
    destroyTmux(tmux);
    temp.cleanup();
  });

  it('collects marker, git and output evidence of one project from the real sources', async () => {
    const dir = temp.make('project');
    const env = { ...process.env, LC_ALL: 'C', GIT_COMMITTER_DATE: '2026-01-01T11:00:00Z' };
    execFileSync('git', ['init', '-q'], { cwd: dir, env });
    execFileSync(
      'git',
      [
        '-c',
        'user.name=t',
        '-c',
        'user.email=t@t',
        'commit',
        '-q',
        '--allow-empty',
        '-m',
        '[orchestrator] complete',
        '--date=2026-01-01T11:00:00Z',
      ],
      { cwd: dir, env },
    );
    writeFileSync(join(dir, 'COMPLETED'), '');
    tmux.newSession('work-1', [process.execPath, '-e', 'console.log("all phases done"); setTimeout(() => {}, 60000)']);
    await waitFor(
      () => tmux.run(['capture-pane', '-p', '-t', '=work-1:']).includes('all phases done'),
      15_000,
      'pane output',
    );

    const project = aProject({
      id: 'p1',
      projectDir: dir,
      startedAt: '2026-01-01T10:00:00.000Z',
      session: 'work-1',
      tmuxSocket: tmux.socket,
    });
    const reports = await gatherEvidence([project], { config: aConfig(), now: NOW });

    const report = reports.get('p1');
    expect(report?.gatheredAt).to.equal(NOW);
    expect(report?.unavailable).to.deep.equal([]);
    expect(report?.evidence.map((e) => [e.method, e.weight])).to.deep.equal([
      ['marker', 1.0],
      ['git', 0.6],
      ['output', 0.5],
    ]);
  });

  it('returns an empty report for a project with nothing to look at', async () => {
    const reports = await gatherEvidence([aProject({ id: 'bare' })], { config: aConfig(), now: NOW });
    expect(reports.get('bare')).to.deep.equal({ evidence: [], unavailable: [], gatheredAt: NOW });
  });

  it('reports a gatherer that throws as unavailable for its method only', async () => {
    const gatherers = [
      fixed('marker', async () => ({
        evidence: { method: 'marker', weight: 1, detail: 'marker file COMPLETED present' },
      })),
      fixed('git', async () => {
        throw new Error('boom');
      }),
    ];
    const reports = await gatherEvidence([aProject()], { config: aConfig(), gatherers, now: NOW });
    expect(reports.get('p1')).to.deep.equal({
      evidence: [{ method: 'marker', weight: 1, detail: 'marker file COMPLETED present' }],
      unavailable: [{ method: 'git', error: 'boom' }],
      gatheredAt: NOW,
    });
  });

  it('writes off a gatherer that never answers as unavailable', async () => {
    const gatherers = [fixed('output', () => new Promise(() => {}))];
    const started = Date.now();
    const reports = await gatherEvidence([aProject()], { config: aConfig({ evidenceTimeoutMs: 100 }), gatherers });
    expect(reports.get('p1')?.unavailable).to.have.length(1);
    expect(reports.get('p1')?.unavailable[0]?.error).to.match(/output evidence for project p1 timed out/);
    expect(Date.now() - started).to.be.below(10_000);
  });

  it('passes notes (such as a veto) to onNote', async () => {
    const notes: GatherNote[] = [];
    const gatherers = [
      fixed('output', async () => ({ evidence: null, note: 'output evidence vetoed: pane %1: error line "fatal: x"' })),
    ];
    await gatherEvidence([aProject()], { config: aConfig(), gatherers, onNote: (n) => notes.push(n) });
    expect(notes).to.deep.equal([
      { project: 'p1', method: 'output', note: 'output evidence vetoed: pane %1: error line "fatal: x"' },
    ]);
  });

  it('runs no more gatherers at once than the concurrency limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const slow = fixed('git', async () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight -= 1;
      return { evidence: null };
    });
    const projects = Array.from({ length: 20 }, (_, i) => aProject({ id: `p${i}` }));
    const reports = await gatherEvidence(projects, {
      config: aConfig(),
      gatherers: [slow, { ...slow, method: 'output' }],
      concurrency: 3,
    });
    expect(reports.size).to.equal(20);
    expect(peak).to.equal(3);
  });

  it('keeps one report per project id, in input order', async () => {
    const reports = await gatherEvidence([aProject({ id: 'b' }), aProject({ id: 'a' }), aProject({ id: 'b' })], {
      config: aConfig(),
      gatherers: [],
    });
    expect([...reports.keys()]).to.deep.equal(['b', 'a']);
  });

  it('rejects a concurrency below 1', async () => {
    let error: unknown;
    try {
      await gatherEvidence([], { config: aConfig(), concurrency: 0 });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(RangeError);
  });
});
