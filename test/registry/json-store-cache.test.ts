import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newProject } from '../../src/core/project.js';
import { emptyDocument, type RegistryDocument } from '../../src/core/registry-document.js';
import { RegistryCorruptError } from '../../src/errors.js';
import { JsonStore, serialise } from '../../src/registry/json-store.js';
import { tempDir } from '../helpers/cli.js';

const T0 = '2026-11-26T10:00:00.000Z';

function docWith(...ids: string[]): RegistryDocument {
  return { ...emptyDocument(), projects: ids.map((id) => newProject({ id, enqueuedAt: T0 })) };
}

describe('registry/json-store: the document cache', () => {
  let dir: ReturnType<typeof tempDir>;
  let path: string;
  beforeEach(() => {
    dir = tempDir();
    path = join(dir.path, 'registry.json');
  });
  afterEach(() => dir.cleanup());

  it('hands out one shared, frozen document while the file is unchanged', async () => {
    writeFileSync(path, serialise(docWith('a')));
    const store = new JsonStore({ path });
    const first = await store.load();
    expect(await store.load()).to.equal(first);
    expect(Object.isFrozen(first.projects[0])).to.equal(true);
    expect(() => {
      (first.projects as unknown[]).push({});
    }).to.throw(TypeError);
  });

  it('reads the file again once another writer replaced it', async () => {
    writeFileSync(path, serialise(docWith('a')));
    const store = new JsonStore({ path });
    await store.load();
    writeFileSync(path, serialise(docWith('a', 'b')));
    expect((await store.load()).projects.map((p) => p.id)).to.deep.equal(['a', 'b']);
  });

  it('sees a rewrite of the same size in place', async () => {
    writeFileSync(path, serialise(docWith('a')));
    const store = new JsonStore({ path });
    await store.load();
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(path, serialise(docWith('b')));
    expect((await store.load()).projects.map((p) => p.id)).to.deep.equal(['b']);
  });

  it('gives update a private, mutable copy and serves its own write from the cache', async () => {
    writeFileSync(path, serialise(docWith('a')));
    const store = new JsonStore({ path });
    const before = await store.load();
    await store.update((doc) => {
      expect(Object.isFrozen(doc.projects)).to.equal(false);
      doc.projects.push(newProject({ id: 'b', enqueuedAt: T0 }));
    });
    expect(before.projects.map((p) => p.id)).to.deep.equal(['a']);
    const after = await store.load();
    expect(after.projects.map((p) => p.id)).to.deep.equal(['a', 'b']);
    expect(await store.load()).to.equal(after);
  });

  it('still refuses a file that turned corrupt after it was cached', async () => {
    writeFileSync(path, serialise(docWith('a')));
    const store = new JsonStore({ path });
    await store.load();
    writeFileSync(path, '{"version": 1, "projects": [');
    const err = await store.load().then(() => null, (e: unknown) => e);
    expect(err).to.be.instanceOf(RegistryCorruptError);
  });

  it('writes nothing for an update that changes nothing', async () => {
    writeFileSync(path, serialise(docWith('a')));
    const store = new JsonStore({ path });
    await store.update(() => undefined);
    expect(store.lastWrite()).to.equal(null);
  });
});
