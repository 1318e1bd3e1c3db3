import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateDocument } from '../../src/registry/schema.js';
import { runCli, tempDir } from '../helpers/cli.js';

/** Updates per writer: 400 contended lock takes in all, each one a whole registry write. */
const PER_WRITER = 100;
const WRITER = fileURLToPath(new URL('../fixtures/cli-writer.mjs', import.meta.url));

function runWriter(
  registry: string,
  prefix: string,
  count: number,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [WRITER, registry, prefix, String(count)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('registry under concurrent writers', function () {
  this.timeout(300_000);
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  it('4 writer processes x 100 CLI updates lose nothing, and a polling reader never sees a partial file', async () => {
    const registry = join(dir.path, 'registry.json');
    let reads = 0;
    let unparsable = 0;
    let polling = true;
    const reader = (async () => {
      while (polling) {
        try {
          const text = readFileSync(registry, 'utf8');
          reads += 1;
          if (!validateDocument(JSON.parse(text)).ok) unparsable += 1;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') unparsable += 1;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const writers = await Promise.all(['a', 'b', 'c', 'd'].map((prefix) => runWriter(registry, prefix, PER_WRITER)));
    polling = false;
    await reader;
    for (const w of writers) expect(w.code, w.err.slice(0, 2000)).to.equal(0);

    const doc = JSON.parse(readFileSync(registry, 'utf8'));
    const ids = new Set<string>(doc.projects.map((p: { id: string }) => p.id));
    expect(ids.size).to.equal(4 * PER_WRITER);
    for (const prefix of ['a', 'b', 'c', 'd'])
      for (let k = 0; k < PER_WRITER; k++) expect(ids.has(`${prefix}-${k}`)).to.equal(true);
    const audit = readFileSync(join(dir.path, 'audit.jsonl'), 'utf8').trimEnd().split('\n');
    expect(audit).to.have.length(4 * PER_WRITER);
    for (const line of audit)
      expect(JSON.parse(line)).to.include({ type: 'transition', to: 'queued', reason: 'enqueued' });
    expect(reads).to.be.greaterThan(10);
    expect(unparsable).to.equal(0);
  });

  it('separate CLI processes racing on one registry lose nothing', async () => {
    const registry = join(dir.path, 'registry.json');
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        runCli(['--registry', registry, 'enqueue', '--id', `p${i}`], { cwd: dir.path }),
      ),
    );
    for (const r of results) expect(r.code, r.stderr).to.equal(0);
    const doc = validateDocument(JSON.parse(readFileSync(registry, 'utf8')));
    expect(doc.ok && doc.document.projects.length).to.equal(12);
  });
});
