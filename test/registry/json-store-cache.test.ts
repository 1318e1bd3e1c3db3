import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { newProject } from '../../src/core/model/project.js';
import { emptyDocument, type RegistryDocument } from '../../src/core/model/registry-document.js';
import { RegistryCorruptError } from '../../src/errors.js';
import { JsonStore, serialise } from '../../src/registry/json-store.js';
import { sameJson } from '../../src/registry/json/validate-changes.js';
import { aRegistryFilePerTest } from './registry-file.js';

const T0 = '2026-11-26T10:00:00.000Z';

function docWith(...ids: string[]): RegistryDocument {
  return { ...emptyDocument(), projects: ids.map((id) => newProject({ id, enqueuedAt: T0 })) };
}

describe('registry/json-store: the document cache', () => {
  const registry = aRegistryFilePerTest();

  it('hands out one shared, frozen document while the file is unchanged', async () => {
    writeFileSync(registry.path, serialise(docWith('a')));
    const store = new JsonStore({ path: registry.path });
    const first = await store.load();
    expect(await store.load()).to.equal(first);
    expect(Object.isFrozen(first.projects[0])).to.equal(true);
    expect(() => {
      (first.projects as unknown[]).push({});
    }).to.throw(TypeError);
  });

  it('reads the file again once another writer replaced it', async () => {
    writeFileSync(registry.path, serialise(docWith('a')));
    const store = new JsonStore({ path: registry.path });
    await store.load();
    writeFileSync(registry.path, serialise(docWith('a', 'b')));
    expect((await store.load()).projects.map((p) => p.id)).to.deep.equal(['a', 'b']);
  });

  it('sees a rewrite of the same size in place', async () => {
    writeFileSync(registry.path, serialise(docWith('a')));
    const store = new JsonStore({ path: registry.path });
    await store.load();
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(registry.path, serialise(docWith('b')));
    expect((await store.load()).projects.map((p) => p.id)).to.deep.equal(['b']);
  });

  it('gives update a private, mutable copy and serves its own write from the cache', async () => {
    writeFileSync(registry.path, serialise(docWith('a')));
    const store = new JsonStore({ path: registry.path });
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
    writeFileSync(registry.path, serialise(docWith('a')));
    const store = new JsonStore({ path: registry.path });
    await store.load();
    writeFileSync(registry.path, '{"version": 1, "projects": [');
    const err = await store.load().then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(RegistryCorruptError);
  });

  it('writes nothing for an update that changes nothing', async () => {
    writeFileSync(registry.path, serialise(docWith('a')));
    const store = new JsonStore({ path: registry.path });
    await store.update(() => undefined);
    expect(store.lastWrite()).to.equal(null);
  });
});

describe('registry/json-store: writes validate what changed', () => {
  const registry = aRegistryFilePerTest();

  it('keeps the unchanged projects of the committed document as they were', async () => {
    writeFileSync(registry.path, serialise(docWith('a', 'b', 'c')));
    const store = new JsonStore({ path: registry.path });
    const before = await store.load();
    await store.update((doc) => {
      const a = doc.projects[0];
      if (a) a.priority = 7;
    });
    const after = await store.load();
    expect(after.projects.map((p) => p.priority)).to.deep.equal([7, 0, 0]);
    expect(after.projects[1]).to.equal(before.projects[1]);
    expect(after.projects[0]).to.not.equal(before.projects[0]);
  });

  it('refuses an invalid change, naming its position in the whole registry', async () => {
    writeFileSync(registry.path, serialise(docWith('a', 'b', 'c')));
    const store = new JsonStore({ path: registry.path });
    const err = await store
      .update((doc) => {
        const c = doc.projects[2];
        if (c) c.session = 'not:valid';
      })
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(err?.message).to.include('refusing to write').and.include('projects[2]').and.include('session');
    expect((await store.load()).projects[2]?.session).to.equal(null);
  });

  it('refuses a duplicate id, even of an unchanged project', async () => {
    writeFileSync(registry.path, serialise(docWith('a', 'b')));
    const store = new JsonStore({ path: registry.path });
    const err = await store
      .update((doc) => {
        doc.projects.push(newProject({ id: 'a', enqueuedAt: T0 }));
      })
      .then(
        () => null,
        (e: unknown) => e as Error,
      );
    expect(err?.message).to.include('duplicate id');
  });

  it('normalises a new project on write', async () => {
    writeFileSync(registry.path, serialise(docWith('a')));
    const store = new JsonStore({ path: registry.path });
    await store.update((doc) => {
      doc.projects.push({
        id: 'b',
        state: 'queued',
        enqueuedAt: T0,
      } as unknown as RegistryDocument['projects'][number]);
    });
    expect((await store.load()).projects[1]).to.deep.include({ id: 'b', priority: 0, history: [], session: null });
  });
});

describe('registry/json-store: sameJson', () => {
  it('compares as JSON.stringify would print, key order aside', () => {
    expect(sameJson({ a: 1, b: [1, { c: null }] }, { b: [1, { c: null }], a: 1 })).to.equal(true);
    expect(sameJson({ a: 1, u: undefined }, { a: 1 })).to.equal(true);
    expect(sameJson({ a: 1 }, { a: 1, b: null })).to.equal(false);
    expect(sameJson([1, 2], [2, 1])).to.equal(false);
    expect(sameJson({ a: [] }, { a: {} })).to.equal(false);
    expect(sameJson('1', 1)).to.equal(false);
  });
});
