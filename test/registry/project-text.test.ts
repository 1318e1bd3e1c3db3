import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { newProject } from '../../src/core/model/project.js';
import { emptyDocument, type RegistryDocument } from '../../src/core/model/registry-document.js';
import { RegistryCorruptError } from '../../src/errors.js';
import { JsonStore, serialise } from '../../src/registry/json-store.js';
import { parseByProject, projectSpans, type KnownText } from '../../src/registry/json/project-text.js';
import { parseRegistry } from '../../src/registry/json/registry-file.js';
import { aRegistryFilePerTest } from './registry-file.js';

const T0 = '2026-11-26T10:00:00.000Z';

/** Full parse and validation: what the cut must agree with. */
function whole(bytes: Buffer): RegistryDocument {
  const parsed = parseRegistry(bytes);
  if (!parsed.ok) throw new Error(parsed.issues.join('; '));
  return parsed.document;
}

/** As a store writes it: validated, so every field is there, in the schema's order. */
function docWith(...ids: string[]): RegistryDocument {
  return whole(
    Buffer.from(serialise({ ...emptyDocument(), projects: ids.map((id) => newProject({ id, enqueuedAt: T0 })) })),
  );
}

/** The bytes of a document as every writer of this project prints it, and what they validate to. */
function known(doc: RegistryDocument): KnownText {
  const bytes = Buffer.from(serialise(doc));
  const parsed = parseByProject(bytes, null);
  if (parsed === null) throw new Error('the serialiser layout was not recognised');
  return { bytes, spans: parsed.spans, projects: parsed.document.projects };
}

async function loadError(store: JsonStore): Promise<Error | null> {
  return store.load().then(
    () => null,
    (e: unknown) => e as Error,
  );
}

describe('registry/json: re-reading a file another writer changed', () => {
  const registry = aRegistryFilePerTest();

  it('takes the projects whose text did not change from the version read before', async () => {
    writeFileSync(registry.path, serialise(docWith('a', 'b', 'c')));
    const store = new JsonStore({ path: registry.path });
    const before = await store.load();
    await new JsonStore({ path: registry.path }).update((doc) => {
      if (doc.projects[1]) doc.projects[1].priority = 5;
    });
    const after = await store.load();
    expect(after.projects.map((p) => p.priority)).to.deep.equal([0, 5, 0]);
    expect(after.projects[0]).to.equal(before.projects[0]);
    expect(after.projects[2]).to.equal(before.projects[2]);
    expect(after).to.deep.equal(whole(readFileSync(registry.path)));
  });

  it('finds a project moved by one removed before it', async () => {
    writeFileSync(registry.path, serialise(docWith('a', 'b', 'c')));
    const store = new JsonStore({ path: registry.path });
    const before = await store.load();
    await new JsonStore({ path: registry.path }).update((doc) => {
      doc.projects.shift();
    });
    const after = await store.load();
    expect(after.projects.map((p) => p.id)).to.deep.equal(['b', 'c']);
    expect(after.projects[0]).to.equal(before.projects[1]);
    expect(after.projects[1]).to.equal(before.projects[2]);
  });

  it('compares with what the store itself wrote last', async () => {
    writeFileSync(registry.path, serialise(docWith('a', 'b')));
    const store = new JsonStore({ path: registry.path });
    await store.update((doc) => {
      doc.projects.push(newProject({ id: 'c', enqueuedAt: T0 }));
    });
    const written = await store.load();
    await new JsonStore({ path: registry.path }).update((doc) => {
      if (doc.projects[0]) doc.projects[0].priority = 1;
    });
    const after = await store.load();
    expect(after.projects[0]?.priority).to.equal(1);
    expect(after.projects[2]).to.equal(written.projects[2]);
  });

  it('validates to what a full parse gives, whatever another writer changed', () => {
    const base = docWith('a', 'b', 'c', 'd');
    const edits: ((doc: RegistryDocument) => void)[] = [
      (doc) => doc.projects.reverse(),
      (doc) => doc.projects.splice(1, 2),
      (doc) => doc.projects.push(newProject({ id: 'e', enqueuedAt: T0, state: 'processing', pid: 42, startedAt: T0 })),
      (doc) => doc.projects.unshift(newProject({ id: 'z', enqueuedAt: T0 })),
      (doc) => {
        doc.queue.paused = true;
        doc.intents = [];
        (doc as unknown as Record<string, unknown>)['orchestrator'] = { note: 'kept' };
      },
      (doc) => {
        doc.projects = [];
      },
      (doc) => {
        (doc.projects[2] as unknown as Record<string, unknown>)['extra'] = { nested: [1, { deeper: true }] };
      },
    ];
    const before = known(base);
    for (const edit of edits) {
      const doc = JSON.parse(JSON.stringify(base)) as RegistryDocument;
      edit(doc);
      const bytes = Buffer.from(serialise(doc));
      const parsed = parseByProject(bytes, before);
      expect(parsed, edit.toString()).to.not.equal(null);
      expect(parsed?.document, edit.toString()).to.deep.equal(whole(bytes));
    }
  });

  it('refuses an invalid project with the message a full validation gives', async () => {
    writeFileSync(registry.path, serialise(docWith('a', 'b', 'c')));
    const store = new JsonStore({ path: registry.path });
    await store.load();
    const text = readFileSync(registry.path, 'utf8').replace(
      '"id": "c",\n      "name": null',
      '"id": "c",\n      "name": 7',
    );
    writeFileSync(registry.path, text);
    const warm = await loadError(store);
    const cold = await loadError(new JsonStore({ path: registry.path }));
    expect(warm).to.be.instanceOf(RegistryCorruptError);
    expect(warm?.message).to.include('project "c" (projects[2]) field "name"');
    expect(warm?.message).to.equal(cold?.message);
  });

  it('refuses a duplicate id made of unchanged text', async () => {
    const text = serialise(docWith('a', 'b'));
    writeFileSync(registry.path, text);
    const store = new JsonStore({ path: registry.path });
    await store.load();
    const spans = projectSpans(Buffer.from(text));
    const b = text.slice(spans?.starts[1], spans?.ends[1]);
    writeFileSync(registry.path, text.replace(/\n {2}\]/, `,\n    ${b}\n  ]`));
    const err = await loadError(store);
    expect(err).to.be.instanceOf(RegistryCorruptError);
    expect(err?.message).to.include('project "b" (projects[2]) field "id": duplicate id, also used by projects[1]');
  });

  it('refuses what follows a project when it is not JSON, though each part alone would be', async () => {
    const text = serialise(docWith('a', 'b'));
    writeFileSync(registry.path, text);
    const store = new JsonStore({ path: registry.path });
    await store.load();
    writeFileSync(registry.path, text.replace('\n    },', '\n    }.5,'));
    expect(await loadError(store)).to.be.instanceOf(RegistryCorruptError);
  });

  it('reads any other layout whole', async () => {
    writeFileSync(registry.path, serialise(docWith('a', 'b')));
    const store = new JsonStore({ path: registry.path });
    await store.load();
    const compact = JSON.stringify(docWith('a', 'b', 'c'));
    expect(parseByProject(Buffer.from(compact), null)).to.equal(null);
    writeFileSync(registry.path, compact);
    expect((await store.load()).projects.map((p) => p.id)).to.deep.equal(['a', 'b', 'c']);
  });

  it('takes nothing from the cut when the rest of the file is not as the serialiser prints it', () => {
    const text = serialise(docWith('a', 'b'));
    const before = known(docWith('a', 'b'));
    // A second "projects" key wins in JSON.parse: the list the cut found is not the registry's.
    const twice = text.replace(/\n}\n$/, ',\n  "projects": []\n}\n');
    expect(parseByProject(Buffer.from(twice), before)).to.equal(null);
    expect(whole(Buffer.from(twice)).projects).to.deep.equal([]);
    expect(parseByProject(Buffer.from(text.replace('"version": 1', '"version":1')), before)).to.equal(null);
  });

  it('cuts each project at the first line that closes it, whatever braces and spaces come before', () => {
    const doc = docWith('a', 'b', 'c');
    const nested = { ...doc.projects[1], note: '}    }\\n    }', source: { queue: 'q', deep: { x: 1 } } };
    const text = serialise({ ...doc, projects: [doc.projects[0], nested, doc.projects[2]] } as RegistryDocument);
    // Reference: the project ends at the first newline, four spaces and a brace after its start.
    const close = Buffer.from('\n    }');
    const bytes = Buffer.from(text);
    const spans = projectSpans(bytes);
    expect(spans).to.not.equal(null);
    const ends = spans?.starts.map((start) => bytes.indexOf(close, start) + close.length);
    expect(spans?.ends).to.deep.equal(ends);
    expect(
      spans?.starts.map((s, i) => JSON.parse(text.slice(s, spans.ends[i])) as { id: string }).map((p) => p.id),
    ).to.deep.equal(['a', 'b', 'c']);
    // A brace behind five spaces, or four without the newline, closes nothing at the projects' depth.
    expect(projectSpans(Buffer.from(text.replace('\n    }\n  ]', '\n     }\n  ]')))).to.equal(null);
    expect(projectSpans(Buffer.from(text.replace('\n    }\n  ]', ' \n   }\n  ]')))).to.equal(null);
  });
});
