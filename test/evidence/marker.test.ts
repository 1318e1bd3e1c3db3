import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { expect } from 'chai';

import { completionMarkerGatherer, failureMarkerGatherer, markerNameProblem } from '../../src/evidence/marker.js';
import { aConfig, aProject, TempDirs } from './fixtures.js';

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
    expect(result).to.deep.equal({ evidence: { method: 'marker', weight: 1.0, detail: 'marker file COMPLETED present' } });
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
    expect(await completionMarkerGatherer.gather(aProject({ projectDir: dir }), { config })).to.deep.equal({ evidence: null });
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
    expect(result).to.have.property('unavailable').that.matches(/"\.\.\/escape" escapes projectDir/);
  });

  it('refuses an absolute marker name', async () => {
    const dir = temp.make();
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), {
      config: aConfig({ completionMarkerFiles: ['/etc/hostname'] }),
    });
    expect(result).to.have.property('unavailable').that.matches(/is absolute/);
  });

  it('still reports a present marker when another name is refused, with a note', async () => {
    const dir = temp.make();
    writeFileSync(join(dir, 'COMPLETED'), '');
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), {
      config: aConfig({ completionMarkerFiles: ['../escape', 'COMPLETED'] }),
    });
    expect(result).to.have.deep.property('evidence', { method: 'marker', weight: 1.0, detail: 'marker file COMPLETED present' });
    expect(result).to.have.property('note').that.matches(/escapes projectDir/);
  });

  it('reports a marker that cannot be checked (symlink loop) as unavailable', async () => {
    const dir = temp.make();
    symlinkSync('COMPLETED', join(dir, 'COMPLETED'));
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), { config: aConfig() });
    expect(result).to.have.property('unavailable').that.matches(/ELOOP/);
  });

  it('reports an unreadable projectDir (EACCES) as unavailable', async function () {
    if (process.getuid?.() === 0) this.skip(); // root reads through any mode
    const dir = temp.make();
    const { chmodSync } = await import('node:fs');
    chmodSync(dir, 0o000);
    const result = await completionMarkerGatherer.gather(aProject({ projectDir: dir }), { config: aConfig() });
    expect(result).to.have.property('unavailable').that.matches(/EACCES/);
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
