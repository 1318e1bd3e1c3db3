/**
 * The integration examples of docs/api.md, run as written against a real
 * `agent serve`: the Python (urllib.request) client and the curl calls.
 * Only the PID in the curl example is replaced by a live process's PID.
 */
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { fencedBlock } from '../docs/markdown.js';
import { cleanEnv } from '../helpers/cli.js';
import { startAgent, type RunningAgent } from '../helpers/daemon.js';
import { Processes } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

const TOKEN = 'api-example-token-0123456789';
const API_DOC = 'docs/api.md';

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({
        code: error ? (typeof error.code === 'number' ? error.code : 1) : 0,
        stdout: String(stdout),
        stderr: String(stderr),
      });
    });
  });
}

describe('docs/api.md integration examples against agent serve', function () {
  this.timeout(60_000);
  let q: TestQueue;
  let agent: RunningAgent;
  const processes = new Processes();

  before(async () => {
    q = new TestQueue({ AGENT_API_TOKEN: TOKEN });
    q.write([]);
    agent = await startAgent(q.env, q.dir.path);
  });

  after(async () => {
    await agent?.stop('SIGKILL');
    await processes.cleanup();
    await q?.destroy();
  });

  it('the Python client enqueues, starts, heartbeats, reads and completes a project', async () => {
    const script = fencedBlock(API_DOC, 'From Python, with the standard library only', 'python');
    const r = await run(
      'python3',
      ['-c', script],
      q.dir.path,
      cleanEnv({ AGENT_URL: agent.url, AGENT_API_TOKEN: TOKEN }),
    );
    expect(r.code, r.stderr).to.equal(0);
    expect(r.stdout.trim()).to.equal('processing');
    const p8 = q.get('p8');
    expect(p8.state).to.equal('completed');
    expect(p8.history.map((h) => `${h.from}->${h.to}`)).to.deep.equal(['queued->processing', 'processing->completed']);
  });

  it('the curl calls answer as the doc says: created, started, heartbeat, completed, fail refused with 409, reads', async () => {
    const pid = await processes.sleeper();
    const script = fencedBlock(API_DOC, 'The same over HTTP', 'sh')
      .replace('AGENT=http://127.0.0.1:9820', `AGENT=${agent.url}`)
      .replace('"pid": 4242', `"pid": ${pid}`)
      .replaceAll('curl -s ', "curl -s -w ' HTTP%{http_code}\\n' ");
    const r = await run('bash', ['-c', script], q.dir.path, cleanEnv({ AGENT_API_TOKEN: TOKEN }));
    expect(r.code, r.stderr).to.equal(0);
    const codes = [...r.stdout.matchAll(/ HTTP(\d{3})$/gm)].map((m) => Number(m[1]));
    expect(codes).to.deep.equal([201, 200, 200, 200, 409, 200, 200]);
    expect(q.get('p7')).to.include({ state: 'completed', pid });
  });
});
