/**
 * The registry watch on a real directory: a write by another process (an
 * atomic rename, as every writer does) asks for a cycle, the store's own
 * write does not, and the watch keeps working when the registry or its whole
 * directory is replaced under it.
 */
import { expect } from 'chai';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { newProject } from '../../src/core/model/project.js';
import { RegistryWatch } from '../../src/events/registry-watch.js';
import { JsonStore } from '../../src/registry/json-store.js';
import { tempDir } from '../helpers/cli.js';
import { eventually as poll } from '../helpers/daemon.js';
import { sleep } from '../helpers/processes.js';
import { Triggers } from './triggers.js';

const T0 = '2026-11-26T10:00:00.000Z';

describe('events/registry-watch', function () {
  this.timeout(60_000);
  let dir: ReturnType<typeof tempDir>;
  let registry: string;
  let watch: RegistryWatch | null = null;
  let triggers: Triggers;
  /** The daemon's store (its writes are its own) and another writer's (a CLI). */
  let own: JsonStore;
  let other: JsonStore;

  const enqueue = (store: JsonStore, id: string): Promise<void> =>
    store.update((doc) => void doc.projects.push(newProject({ id, enqueuedAt: T0 })));

  beforeEach(async () => {
    dir = tempDir('toa-watch-');
    registry = join(dir.path, 'data', 'registry.json');
    mkdirSync(join(dir.path, 'data'));
    own = new JsonStore({ path: registry });
    other = new JsonStore({ path: registry });
    await own.update(() => undefined);
    triggers = new Triggers();
    watch = new RegistryWatch(registry, triggers.trigger, () => own.settledWrite(), 20, 100);
    await watch.start();
    expect(watch.health()).to.deep.equal({ up: true, detail: `watching ${registry}` });
  });
  afterEach(async () => {
    await watch?.stop();
    watch = null;
    dir.cleanup();
  });

  it('asks for a cycle when another writer commits', async () => {
    await enqueue(other, 'p1');
    expect(await triggers.after(0, /registry changed/, 'the write of another store')).to.equal('registry changed');
  });

  it('asks for nothing when the store commits itself', async () => {
    await enqueue(own, 'p1');
    // Nothing to wait for: give the debounced look ample time to have run, then a write by another settles it.
    await sleep(1000);
    expect(triggers.reasons).to.deep.equal([]);
    await enqueue(other, 'p2');
    await triggers.after(0, /registry changed/, 'the write of another store');
    expect(triggers.reasons).to.deep.equal(['registry changed']);
  });

  it('keeps seeing writes after the registry is replaced by a rename, again and again', async () => {
    for (let i = 0; i < 3; i++) {
      const seen = triggers.reasons.length;
      const temp = join(dir.path, 'data', `next-${i}.json`);
      writeFileSync(temp, JSON.stringify({ version: 1, projects: [newProject({ id: `r${i}`, enqueuedAt: T0 })] }));
      renameSync(temp, registry);
      await triggers.after(seen, /registry changed/, `rename ${i + 1}`);
    }
  });

  it('keeps seeing writes after the registry is deleted and written anew', async () => {
    rmSync(registry);
    await triggers.after(0, /registry changed/, 'the deletion');
    const seen = triggers.reasons.length;
    writeFileSync(registry, JSON.stringify({ version: 1, projects: [] }));
    await triggers.after(seen, /registry changed/, 'the new file');
    expect(watch?.health().up).to.equal(true);
  });

  it('watches the directory again when it is removed and created anew', async () => {
    rmSync(join(dir.path, 'data'), { recursive: true });
    mkdirSync(join(dir.path, 'data'));
    await triggers.after(0, /registry directory re-created/, 'the watch on the new directory');
    expect(watch?.health().up).to.equal(true);
    const seen = triggers.reasons.length;
    writeFileSync(registry, JSON.stringify({ version: 1, projects: [] }));
    await triggers.after(seen, /registry changed/, 'a write in the new directory');
  });

  it('watches the directory again when another one is renamed into its place', async () => {
    const next = join(dir.path, 'next');
    mkdirSync(next);
    writeFileSync(join(next, 'registry.json'), JSON.stringify({ version: 1, projects: [] }));
    renameSync(join(dir.path, 'data'), join(dir.path, 'old'));
    renameSync(next, join(dir.path, 'data'));
    await triggers.after(0, /registry directory re-created|registry changed/, 'the watch on the directory moved in');
    await eventually(() => watch?.health().up, 'the watch to be up again');
    const seen = triggers.reasons.length;
    await enqueue(other, 'p9');
    await triggers.after(seen, /registry changed/, 'a write in the directory moved in');
    // The old directory is no longer watched: a write there is not the registry.
    const before = triggers.reasons.length;
    writeFileSync(join(dir.path, 'old', 'registry.json'), JSON.stringify({ version: 1, projects: [] }));
    await enqueue(other, 'p10');
    await triggers.after(before, /registry changed/, 'the next write in the directory moved in');
  });

  it('reports down while the directory is missing, and not started after stop', async () => {
    rmSync(join(dir.path, 'data'), { recursive: true });
    await eventually(() => watch?.health().up === false, 'the watch to notice');
    expect(watch?.health().detail).to.match(/cannot watch .*registry\.json: directory .* does not exist/);
    await watch?.stop();
    expect(watch?.health()).to.deep.equal({ up: false, detail: 'not started' });
  });
});

function eventually(fn: () => boolean | undefined, what: string): Promise<boolean> {
  return poll(() => fn() === true, 15_000, what, 20);
}
