import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { AGENT_BIN, cleanEnv } from '../helpers/cli.js';
import { isRunning, waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

/** `agent heal --once ...` with stderr joined to stdout, as a terminal shows them. */
function healOnTerminal(q: TestQueue, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      '/bin/sh',
      ['-c', 'exec "$@" 2>&1', 'sh', process.execPath, AGENT_BIN, 'heal', '--once', ...args],
      {
        cwd: q.dir.path,
        env: cleanEnv(q.env),
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

function jsonLines(text: string): string[] {
  return text.split('\n').filter((line) => {
    try {
      return typeof JSON.parse(line) === 'object';
    } catch {
      return false;
    }
  });
}

describe('cli: heal --once output', function () {
  this.timeout(60_000);
  let q: TestQueue;
  beforeEach(() => {
    q = new TestQueue();
    // What a person gets without setting a level.
    delete (q.env as Record<string, string | undefined>)['LOG_LEVEL'];
  });
  afterEach(async () => {
    await q.destroy();
  });

  async function aZombie(): Promise<number> {
    const tree = await q.processes.tree({ detached: true });
    q.write([q.project({ id: 'z1', session: 'w-1', ...q.identity(tree.root) })]);
    return tree.root;
  }

  it('prints its table without JSON log lines in between', async () => {
    const root = await aZombie();
    const { code, output } = await healOnTerminal(q, []);
    expect(code, output).to.equal(0);
    await waitUntil(() => !isRunning(root), 15_000, 'the zombie to die');
    expect(output).to.match(/z1\s+kill_tree\s+success/);
    expect(jsonLines(output), output).to.deep.equal([]);
  });

  it('with --json prints one JSON document on stdout', async () => {
    await aZombie();
    const r = await q.agent(['heal', '--once', '--json']);
    expect(r.code, r.stderr).to.equal(0);
    const doc = JSON.parse(r.stdout) as { actions: { project: string; action: string }[] };
    expect(doc.actions.map((a) => `${a.project}:${a.action}`)).to.deep.equal(['z1:kill_tree']);
  });

  it('still logs at info when asked to', async () => {
    await aZombie();
    const { output } = await healOnTerminal(q, ['--log-level', 'info']);
    expect(jsonLines(output).length, output).to.be.greaterThan(0);
  });
});
