import { expect } from 'chai';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { newProject } from '../../src/core/model/project.js';
import { emptyDocument } from '../../src/core/model/registry-document.js';
import { RegistryCorruptError, RegistryUnreadableError } from '../../src/errors.js';
import { JsonStore, serialise } from '../../src/registry/json-store.js';
import { validateDocument } from '../../src/registry/schema.js';
import { runCli } from '../helpers/cli.js';
import { aRegistryFilePerTest } from './registry-file.js';

const T0 = '2026-11-26T10:00:00.000Z';

function validDoc(extra: Record<string, unknown> = {}) {
  const doc = emptyDocument();
  doc.projects.push(newProject({ id: 'p1', enqueuedAt: T0 }));
  return { ...doc, ...extra };
}

const CORRUPT: Record<string, string> = {
  truncated: serialise(validDoc()).slice(0, 120),
  'wrong types': JSON.stringify({
    version: 1,
    projects: [{ id: 'p1', state: 'queued', enqueuedAt: T0, priority: 'high' }],
  }),
  'unknown state': JSON.stringify({ version: 1, projects: [{ id: 'p1', state: 'running', enqueuedAt: T0 }] }),
  'duplicate ids': JSON.stringify({
    version: 1,
    projects: [
      { id: 'p1', state: 'queued', enqueuedAt: T0 },
      { id: 'p1', state: 'queued', enqueuedAt: T0 },
    ],
  }),
  'invalid session name': JSON.stringify({
    version: 1,
    projects: [{ id: 'p1', state: 'queued', enqueuedAt: T0, session: 'a:b' }],
  }),
  'empty file': '',
  'bad timestamp': JSON.stringify({ version: 1, projects: [{ id: 'p1', state: 'queued', enqueuedAt: 'yesterday' }] }),
  'unknown version': JSON.stringify({ version: 2, projects: [] }),
};
const EXPECTED: Record<string, RegExp> = {
  truncated: /not valid JSON/,
  'wrong types': /project "p1" \(projects\[0\]\) field "priority"/,
  'unknown state': /project "p1" \(projects\[0\]\) field "state": must be one of queued, processing/,
  'duplicate ids': /project "p1" \(projects\[1\]\) field "id": duplicate id/,
  'invalid session name': /project "p1" \(projects\[0\]\) field "session"/,
  'empty file': /the file is empty/,
  'bad timestamp': /field "enqueuedAt": must be an ISO-8601/,
  'unknown version': /field "version": must be 1/,
};

describe('registry/json-store', () => {
  const registry = aRegistryFilePerTest();

  it('treats a missing file as an empty registry and creates it on the first write', async () => {
    const store = new JsonStore({ path: registry.path });
    expect((await store.load()).projects).to.deep.equal([]);
    await store.update((doc) => void doc.projects.push(newProject({ id: 'p1', enqueuedAt: T0 })));
    expect(validateDocument(JSON.parse(readFileSync(registry.path, 'utf8'))).ok).to.equal(true);
  });

  it('never writes over a file another program replaced or rewrote without the lock while an update ran', async () => {
    const store = new JsonStore({ path: registry.path });
    await store.update((doc) => void doc.projects.push(newProject({ id: 'p1', enqueuedAt: T0 })));
    const elsewhere = `${registry.path}.elsewhere`;
    writeFileSync(elsewhere, readFileSync(registry.path));
    const swaps: Array<[string, () => void, RegExp]> = [
      [
        'a symbolic link',
        () => (rmSync(registry.path), symlinkSync(elsewhere, registry.path)),
        /replaced by a symbolic link/,
      ],
      [
        'a rewrite',
        () => writeFileSync(registry.path, readFileSync(elsewhere, 'utf8') + ' '),
        /was rewritten by another program/,
      ],
      ['a removal', () => rmSync(registry.path), /was removed by another program/],
    ];
    for (const [what, swap, message] of swaps) {
      rmSync(registry.path, { force: true });
      writeFileSync(registry.path, readFileSync(elsewhere), { mode: 0o600 });
      const before = readFileSync(elsewhere);
      const err = await store
        .update((doc) => {
          swap();
          doc.projects.push(newProject({ id: 'p2', enqueuedAt: T0 }));
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect(err, what).to.be.instanceOf(RegistryUnreadableError);
      expect((err as Error).message, what)
        .to.match(message)
        .and.include('nothing written');
      expect(readFileSync(elsewhere).equals(before), `${what}: the other file untouched`).to.equal(true);
      if (what === 'a symbolic link')
        expect(lstatSync(registry.path).isSymbolicLink(), 'the link left as it is').to.equal(true);
    }
  });

  it('creates the registry, its last good copy and the audit log owner-only', async () => {
    const store = new JsonStore({ path: registry.path });
    await store.update((doc, tx) => {
      doc.projects.push(newProject({ id: 'p1', enqueuedAt: T0 }));
      tx.audit({ at: T0, type: 'note', project: 'p1', by: 'test' });
    });
    for (const file of [registry.path, store.lastGoodPath, store.auditPath]) {
      expect(statSync(file).mode & 0o777, file).to.equal(0o600);
    }
  });

  it('preserves unknown fields of projects and of the document on rewrite', async () => {
    const doc = validDoc({ orchestrator: { shard: 3 } });
    (doc.projects[0] as Record<string, unknown>)['spec'] = { file: 'spec.md', tokens: 12 };
    writeFileSync(registry.path, JSON.stringify(doc));
    const store = new JsonStore({ path: registry.path });
    await store.update((d) => {
      d.projects[0]!.priority = 5;
    });
    const written = JSON.parse(readFileSync(registry.path, 'utf8'));
    expect(written.orchestrator).to.deep.equal({ shard: 3 });
    expect(written.projects[0].spec).to.deep.equal({ file: 'spec.md', tokens: 12 });
    expect(written.projects[0].priority).to.equal(5);
  });

  it('does not rewrite an unchanged registry', async () => {
    writeFileSync(registry.path, JSON.stringify(validDoc()));
    const before = readFileSync(registry.path, 'utf8');
    await new JsonStore({ path: registry.path }).update(() => undefined);
    expect(readFileSync(registry.path, 'utf8')).to.equal(before);
  });

  it('writes nothing when the change throws', async () => {
    writeFileSync(registry.path, JSON.stringify(validDoc()));
    const before = readFileSync(registry.path);
    const store = new JsonStore({ path: registry.path });
    let caught: unknown;
    try {
      await store.update((d) => {
        d.projects.length = 0;
        throw new Error('boom');
      });
    } catch (err) {
      caught = err;
    }
    expect((caught as Error).message).to.equal('boom');
    expect(readFileSync(registry.path).equals(before)).to.equal(true);
  });

  it('refuses to write a document that does not validate', async () => {
    writeFileSync(registry.path, JSON.stringify(validDoc()));
    const before = readFileSync(registry.path);
    let caught: unknown;
    try {
      await new JsonStore({ path: registry.path }).update((d) => {
        (d.projects[0] as { state: string }).state = 'lost';
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(RegistryCorruptError);
    expect(readFileSync(registry.path).equals(before)).to.equal(true);
  });

  it('refuses a registry that is a symbolic link', async () => {
    const real = join(registry.dir, 'elsewhere.json');
    writeFileSync(real, JSON.stringify(validDoc()));
    symlinkSync(real, registry.path);
    let caught: unknown;
    try {
      await new JsonStore({ path: registry.path }).load();
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(RegistryUnreadableError);
    expect((caught as Error).message).to.match(/symbolic link/);
  });

  for (const [name, bytes] of Object.entries(CORRUPT)) {
    it(`a corrupt registry (${name}) stops every command with exit 3, a clear message, and untouched bytes`, async () => {
      writeFileSync(registry.path, bytes);
      for (const args of [['status'], ['enqueue', '--id', 'p2'], ['heartbeat', 'p1'], ['registry', 'check']]) {
        const result = await runCli(['--registry', registry.path, ...args], { cwd: registry.dir });
        expect(result.code, `${args.join(' ')}: ${result.stderr}`).to.equal(3);
        expect(result.stderr + result.stdout, args.join(' ')).to.match(EXPECTED[name]!);
        expect(readFileSync(registry.path, 'utf8'), args.join(' ')).to.equal(bytes);
      }
      const copies = readdirSync(registry.dir).filter((f) => f.startsWith('registry.json.corrupt-'));
      expect(copies, 'one copy per distinct content').to.have.length(1);
      expect(readFileSync(join(registry.dir, copies[0]!), 'utf8')).to.equal(bytes);
    });
  }

  it('a directory in place of the registry stops commands with exit 3', async () => {
    mkdirSync(registry.path);
    const result = await runCli(['--registry', registry.path, 'status'], { cwd: registry.dir });
    expect(result.code).to.equal(3);
    expect(result.stderr).to.contain('not a regular file (a directory)');
    expect(statSync(registry.path).isDirectory()).to.equal(true);
  });

  it('repair restores the last good version and keeps the bad bytes', async () => {
    const ok = await runCli(['--registry', registry.path, 'enqueue', '--id', 'p1'], { cwd: registry.dir });
    expect(ok.code, ok.stderr).to.equal(0);
    const good = readFileSync(registry.path, 'utf8');
    writeFileSync(registry.path, '{"version": 1, "projects": [');
    expect((await runCli(['--registry', registry.path, 'status'], { cwd: registry.dir })).code).to.equal(3);
    const repaired = await runCli(['--registry', registry.path, 'registry', 'repair'], { cwd: registry.dir });
    expect(repaired.code, repaired.stderr).to.equal(0);
    expect(repaired.stdout).to.match(/restored .* \(1 project\)/);
    expect(readFileSync(registry.path, 'utf8')).to.equal(good);
    expect((await runCli(['--registry', registry.path, 'registry', 'check'], { cwd: registry.dir })).code).to.equal(0);
    expect(readdirSync(registry.dir).some((f) => f.startsWith('registry.json.corrupt-'))).to.equal(true);
  });

  it('repair without a last good copy refuses with exit 3 and changes nothing', async () => {
    writeFileSync(registry.path, 'garbage');
    const result = await runCli(['--registry', registry.path, 'registry', 'repair'], { cwd: registry.dir });
    expect(result.code).to.equal(3);
    expect(result.stderr).to.contain('no last good copy');
    expect(readFileSync(registry.path, 'utf8')).to.equal('garbage');
    expect(existsSync(`${registry.path}.last-good`)).to.equal(false);
  });
});
