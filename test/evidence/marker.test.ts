import { execFile, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { expect } from 'chai';

import { completionMarkerGatherer, failureMarkerGatherer, markerNameProblem } from '../../src/evidence/marker.js';
import type { GatherResult } from '../../src/evidence/types.js';
import type { Project } from '../../src/core/model/project.js';
import { aConfig, aProject, TempDirs } from './fixtures.js';

const DIST = fileURLToPath(new URL('../../dist/', import.meta.url));

/** The completion marker gatherer of the build (dist/), run as user nobody; resolves with its result. */
async function gatherAsNobody(project: Project): Promise<GatherResult> {
  const script = [
    `const { completionMarkerGatherer } = await import(${JSON.stringify(`${DIST}evidence/marker.js`)});`,
    `const { DEFAULT_CONFIG } = await import(${JSON.stringify(`${DIST}config/keys.js`)});`,
    'const project = JSON.parse(process.argv[1]);',
    'const result = await completionMarkerGatherer.gather(project, { config: { ...DEFAULT_CONFIG, evidenceTimeoutMs: 3000 } });',
    'process.stdout.write(JSON.stringify(result));',
  ].join('\n');
  const args = [
    '--reuid=nobody',
    '--regid=nogroup',
    '--clear-groups',
    '--',
    process.execPath,
    '--input-type=module',
    '-e',
    script,
  ];
  const { stdout } = await promisify(execFile)('setpriv', [...args, JSON.stringify(project)], {
    cwd: '/',
    timeout: 30_000,
  });
  return JSON.parse(stdout) as GatherResult;
}

describe('evidence: marker files', () => {
  const temp = new TempDirs();
  afterEach(() => temp.cleanup());

  it('finds nothing when no marker exists', async () => {
    const dir = temp.make();
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), { config: aConfig() });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('reports a COMPLETED file as marker evidence of weight 1.0', async () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'COMPLETED'), '');
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), { config: aConfig() });
    expect(result).to.deep.equal({
      evidence: { method: 'marker', weight: 1.0, detail: 'marker file COMPLETED present' },
    });
  });

  it('reports a marker older than the attempt as stale, not as evidence', async () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'COMPLETED'), '');
    const then = new Date('2026-01-01T08:00:00.500Z');
    utimesSync(join(dir, 'COMPLETED'), then, then);
    const project = aProject({ projectDir: dir, startedAt: '2026-01-01T09:00:00.000Z' });
    expect(await completionMarkerGatherer.gather(project, { config: aConfig() })).to.deep.equal({
      evidence: null,
      staleMarkers: [{ method: 'marker', file: 'COMPLETED', modifiedAt: '2026-01-01T08:00:00.500Z' }],
    });
  });

  it('takes a fresh marker as evidence even beside a stale one, and reports the stale one', async () => {
    const dir = temp.make();
    mkdirSync(join(dir, '.orchestrator'));
    writeFileSync(join(dir, 'COMPLETED'), '');
    writeFileSync(join(dir, '.orchestrator', 'COMPLETION_MARKER'), '');
    const then = new Date(Date.now() - 3_600_000);
    utimesSync(join(dir, 'COMPLETED'), then, then);
    const project = aProject({ projectDir: dir, startedAt: new Date(Date.now() - 60_000).toISOString() });
    const result = await completionMarkerGatherer.gather(project, { config: aConfig() });
    expect(result).to.deep.include({
      evidence: { method: 'marker', weight: 1.0, detail: 'marker file .orchestrator/COMPLETION_MARKER present' },
    });
    expect(result).to.have.nested.property('staleMarkers[0].file', 'COMPLETED');
  });

  it('never takes a stale FAILED file for a failure', async () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'FAILED'), '');
    const then = new Date(Date.now() - 3_600_000);
    utimesSync(join(dir, 'FAILED'), then, then);
    const project = aProject({ projectDir: dir, startedAt: new Date().toISOString() });
    const result = await failureMarkerGatherer.gather(project, { config: aConfig() });
    expect(result).to.deep.include({ evidence: null });
    expect(result).to.have.nested.property('staleMarkers[0].method', 'failure_marker');
  });

  it('finds a marker in a subdirectory', async () => {
    const dir = temp.make();
    mkdirSync(join(dir, '.orchestrator'));
    writeFileSync(join(dir, '.orchestrator', 'COMPLETION_MARKER'), '');
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), { config: aConfig() });
    expect(result).to.deep.equal({
      evidence: { method: 'marker', weight: 1.0, detail: 'marker file .orchestrator/COMPLETION_MARKER present' },
    });
  });

  it('reports a FAILED file as failure_marker evidence', async () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'FAILED'), '');
    const config = aConfig();
    expect(await failureMarkerGatherer.gather(aProject({ projectDir: dir }), { config })).to.deep.equal({
      evidence: { method: 'failure_marker', weight: 1.0, detail: 'failure marker file FAILED present' },
    });
    expect(await completionMarkerGatherer.gather(aProject({ projectDir: dir }), { config })).to.deep.equal({
      evidence: null,
    });
  });

  it('gathers nothing, and is not unavailable, for a project without projectDir', async () => {
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: null }), { config: aConfig() });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('treats a missing projectDir as no marker', async () => {
    const dir = join(temp.make(), 'gone');
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), { config: aConfig() });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('refuses a marker name that escapes projectDir, even when that file exists', async () => {
    const root = temp.make();
    const dir = join(root, 'project');
    mkdirSync(dir);
    writeFileSync(join(root, 'escape'), '');
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), {
      config: aConfig({ completionMarkerFiles: ['../escape'] }),
    });
    expect(result)
      .to.have.property('unavailable')
      .that.matches(/"\.\.\/escape" escapes projectDir/);
  });

  it('refuses an absolute marker name', async () => {
    const dir = temp.make();
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), {
      config: aConfig({ completionMarkerFiles: ['/etc/hostname'] }),
    });
    expect(result)
      .to.have.property('unavailable')
      .that.matches(/is absolute/);
  });

  it('still reports a present marker when another name is refused, with a note', async () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'COMPLETED'), '');
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), {
      config: aConfig({ completionMarkerFiles: ['../escape', 'COMPLETED'] }),
    });
    expect(result).to.have.deep.property('evidence', {
      method: 'marker',
      weight: 1.0,
      detail: 'marker file COMPLETED present',
    });
    expect(result)
      .to.have.property('note')
      .that.matches(/escapes projectDir/);
  });

  it('reports a marker that cannot be checked (symlink loop) as unavailable', async () => {
    const dir = temp.make();
    symlinkSync('COMPLETED', join(dir, 'COMPLETED'));
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), { config: aConfig() });
    expect(result).to.have.property('unavailable').that.matches(/ELOOP/);
  });

  it('reports an unreadable projectDir (EACCES) as unavailable', async function () {
    // Root reads through any mode: as root, the gatherer runs as nobody (setpriv, util-linux).
    const asNobody = process.getuid?.() === 0;
    if (asNobody && spawnSync('setpriv', ['--version']).status !== 0) this.skip(); // apt-get install util-linux
    const parent = temp.make();
    chmodSync(parent, 0o755);
    const dir = join(parent, 'project');
    mkdirSync(dir);
    chmodSync(dir, 0o000);
    const project = aProject({ projectDir: dir });
    const result = asNobody
      ? await gatherAsNobody(project)
      : await completionMarkerGatherer.gather(project, { config: aConfig() });
    expect(result)
      .to.have.property('unavailable')
      .that.matches(/EACCES/);
  });

  it('accepts names inside projectDir and refuses the rest', () => {
    expect(markerNameProblem('/p', 'COMPLETED')).to.equal(null);
    expect(markerNameProblem('/p', 'a/../COMPLETED')).to.equal(null);
    expect(markerNameProblem('/p', 'a/../../x')).to.match(/escapes/);
    expect(markerNameProblem('/p', '..')).to.match(/escapes/);
    expect(markerNameProblem('/p', '.')).to.match(/projectDir itself/);
    expect(markerNameProblem('/p', '')).to.match(/empty/);
  });
});
