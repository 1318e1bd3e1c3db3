/**
 * A commit's audit lines survive a crash at any point: they are journaled
 * ahead of the registry, and the next writer completes them (once) when the
 * commit happened, or drops them when it did not. Each crash point is made by
 * hand first; then a writer process is SIGKILLed at random points.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newProject } from '../../src/core/model/project.js';
import { emptyDocument } from '../../src/core/model/registry-document.js';
import { writeFileAtomic } from '../../src/registry/json/atomic-file.js';
import { JsonStore, serialise } from '../../src/registry/json-store.js';
import { sleep } from '../helpers/processes.js';
import { aRegistryFilePerTest } from './registry-file.js';

const T0 = '2026-11-26T10:00:00.000Z';
const WRITER = fileURLToPath(new URL('./fixtures/audit-writer.mjs', import.meta.url));

const line = (project: string): string => JSON.stringify({ at: T0, type: 'note', project, by: 'test' });

/** Audit lines as written, each checked to parse. */
function auditLines(store: JsonStore): string[] {
  if (!existsSync(store.auditPath)) return [];
  const text = readFileSync(store.auditPath, 'utf8');
  expect(text === '' || text.endsWith('\n'), 'the audit log ends with a whole line').to.equal(true);
  const lines = text.split('\n').filter(Boolean);
  for (const l of lines) expect(() => JSON.parse(l), l).to.not.throw();
  return lines;
}

describe('registry/json audit journal', function () {
  this.timeout(60_000);
  const registry = aRegistryFilePerTest();

  /** The registry with one project, as committed before the crash, and a store on it. */
  async function committedBefore(): Promise<{ store: JsonStore; next: string }> {
    const store = new JsonStore({ path: registry.path });
    await store.update((doc, tx) => {
      doc.projects.push(newProject({ id: 'p0', enqueuedAt: T0 }));
      tx.audit(JSON.parse(line('p0')));
    });
    const doc = emptyDocument();
    doc.projects.push(newProject({ id: 'p0', enqueuedAt: T0 }), newProject({ id: 'p1', enqueuedAt: T0 }));
    return { store, next: serialise(doc) };
  }

  it('drops the lines of a commit that never happened (crash before the registry was renamed)', async () => {
    const { store } = await committedBefore();
    await store.journal.begin(true, [line('p1')]);
    const result = await store.journal.recover();
    expect(result).to.deep.equal({ appended: 0, dropped: 1 });
    expect(auditLines(store)).to.deep.equal([line('p0')]);
    expect(existsSync(store.journal.path)).to.equal(false);
  });

  it('appends the lines of a commit whose append never started', async () => {
    const { store, next } = await committedBefore();
    await store.journal.begin(true, [line('p1'), line('p1b')]);
    await writeFileAtomic(registry.path, next);
    // The next writer completes them before its own change, whose line follows.
    await store.update((doc, tx) => {
      doc.projects.push(newProject({ id: 'p2', enqueuedAt: T0 }));
      tx.audit(JSON.parse(line('p2')));
    });
    expect(auditLines(store)).to.deep.equal([line('p0'), line('p1'), line('p1b'), line('p2')]);
    expect(existsSync(store.journal.path)).to.equal(false);
  });

  it('cuts a torn line and completes the append without writing a line twice', async () => {
    const { store, next } = await committedBefore();
    const lines = [line('p1'), line('p1b'), line('p1c')];
    await store.journal.begin(true, lines);
    await writeFileAtomic(registry.path, next);
    // Killed in the middle of the append: the first line whole, the second torn.
    appendFileSync(store.auditPath, `${lines[0]}\n${lines[1]!.slice(0, 17)}`);
    expect(await store.journal.recover()).to.deep.equal({ appended: 2, dropped: 0 });
    expect(auditLines(store)).to.deep.equal([line('p0'), ...lines]);
  });

  it('appends nothing when the append finished and only the journal was left', async () => {
    const { store, next } = await committedBefore();
    await store.journal.begin(true, [line('p1')]);
    await writeFileAtomic(registry.path, next);
    appendFileSync(store.auditPath, `${line('p1')}\n`);
    expect(await store.journal.recover()).to.deep.equal({ appended: 0, dropped: 0 });
    expect(auditLines(store)).to.deep.equal([line('p0'), line('p1')]);
  });

  it('keeps identical lines of one commit apart: two recorded, one written, one appended', async () => {
    const { store, next } = await committedBefore();
    await store.journal.begin(true, [line('p1'), line('p1')]);
    await writeFileAtomic(registry.path, next);
    appendFileSync(store.auditPath, `${line('p1')}\n`);
    expect(await store.journal.recover()).to.deep.equal({ appended: 1, dropped: 0 });
    expect(auditLines(store)).to.deep.equal([line('p0'), line('p1'), line('p1')]);
  });

  it('completes the lines of an update that changed no project', async () => {
    const { store } = await committedBefore();
    await store.journal.begin(false, [line('note')]);
    await store.update(() => undefined);
    expect(auditLines(store)).to.deep.equal([line('p0'), line('note')]);
  });

  it('drops the lines of an update whose document does not validate, and leaves no journal', async () => {
    const { store } = await committedBefore();
    const failed = store.update((doc, tx) => {
      doc.projects.push(newProject({ id: 'p0', enqueuedAt: T0 }));
      tx.audit(JSON.parse(line('dup')));
    });
    expect(
      await failed.then(
        () => 'committed',
        (err: Error) => err.message,
      ),
    ).to.match(/p0/);
    expect(auditLines(store)).to.deep.equal([line('p0')]);
    expect(existsSync(store.journal.path)).to.equal(false);
  });

  it('completes the lines of the very first commit (no registry before it)', async () => {
    const store = new JsonStore({ path: registry.path });
    await store.journal.begin(true, [line('p1')]);
    await writeFileAtomic(registry.path, serialise(emptyDocument()));
    expect(await store.journal.recover()).to.deep.equal({ appended: 1, dropped: 0 });
    expect(auditLines(store)).to.deep.equal([line('p1')]);
  });

  it('drops the lines of a very first commit that never happened', async () => {
    const store = new JsonStore({ path: registry.path });
    await store.journal.begin(true, [line('p1')]);
    expect(await store.journal.recover()).to.deep.equal({ appended: 0, dropped: 1 });
    expect(auditLines(store)).to.deep.equal([]);
  });

  it('drops a journal torn while it was written: its commit had not begun', async () => {
    const { store } = await committedBefore();
    writeFileSync(store.journal.path, '{"v":1,"replaces":12,"auditEnd":null,"lines":["{\\"at\\"');
    await store.update(() => undefined);
    expect(existsSync(store.journal.path)).to.equal(false);
    expect(auditLines(store)).to.deep.equal([line('p0')]);
  });

  it('a writer SIGKILLed at random points: every committed project has exactly one audit line, no line names another', async () => {
    const rounds = 12;
    let insideWindow = 0;
    for (let round = 0; round < rounds; round++) {
      const child = spawn(process.execPath, [WRITER, registry.path, `r${round}`], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((r) => child.once('exit', r));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`the writer exited with ${code} before its first commit`)));
      });
      await sleep(Math.random() * 150);
      child.kill('SIGKILL');
      await exited;
      if (existsSync(join(registry.dir, 'registry.json.audit-pending'))) insideWindow += 1;
      // The writer is dead: its lock goes as a stale takeover would, without the wait. The next writer settles the rest.
      rmSync(`${registry.path}.lock`, { recursive: true, force: true });
      const store = new JsonStore({ path: registry.path });
      await store.update(() => undefined);
      const projects = (await store.load()).projects.map((p) => p.id);
      const named = auditLines(store).map((l) => (JSON.parse(l) as { project: string }).project);
      expect([...named].sort(), `round ${round}: one audit line per committed project, no other`).to.deep.equal(
        [...projects].sort(),
      );
    }
    console.log(`      audit journal: ${rounds} crashes, ${insideWindow} left a journal to settle`);
  });
});
