/**
 * `--cwd` (API `cwd`) must be an existing directory when a project is
 * enqueued, through the CLI and through a real `agent serve`: one rule for
 * both, exit 2 / HTTP 400 naming the path, nothing written.
 */
import { expect } from 'chai';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgent, type RunningAgent } from '../helpers/daemon.js';
import { TestQueue } from '../helpers/queue.js';

const TOKEN = 'enqueue-cwd-token-0123456789abcdef';

describe('e2e: enqueue refuses a cwd that is not an existing directory', function () {
  this.timeout(60_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  beforeEach(() => {
    q = new TestQueue();
    q.write([]);
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  it('agent enqueue --cwd naming a missing directory exits 2, names the path and writes nothing', async () => {
    const missing = join(q.dir.path, 'no-such-dir');
    const before = q.bytes();
    const r = await q.agent(['enqueue', '--id', 'p1', '--cwd', missing, '--', 'sleep', '30']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain(`invalid cwd "${missing}": no such directory`);
    expect(q.bytes()).to.equal(before);
  });

  it('agent enqueue --cwd naming a file exits 2, saying it is not a directory', async () => {
    const file = join(q.dir.path, 'a-file');
    writeFileSync(file, '');
    const r = await q.agent(['enqueue', '--id', 'p1', '--cwd', file, '--', 'sleep', '30']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain(`invalid cwd "${file}": not a directory`);
    expect(q.read().projects).to.deep.equal([]);
  });

  it('POST /api/projects with a missing cwd answers 400 naming the path and the field', async () => {
    agent = await startAgent({ ...q.env, AGENT_API_TOKEN: TOKEN }, q.dir.path);
    const post = (cwd: string) =>
      fetch(`${agent!.url}/api/projects`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ id: 'p1', cwd, command: ['sleep', '30'] }),
      });
    const missing = join(q.dir.path, 'gone');
    const r = await post(missing);
    expect(r.status).to.equal(400);
    const body = (await r.json()) as { error: { message: string; field?: string } };
    expect(body.error.message).to.contain(`invalid cwd "${missing}": no such directory`);
    expect(body.error.field).to.equal('cwd');
    expect(q.read().projects).to.deep.equal([]);

    const dir = join(q.dir.path, 'work');
    mkdirSync(dir);
    expect((await post(dir)).status).to.equal(201);
  });
});
