import { expect } from 'chai';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { fromThisHost, isLoopbackAddress } from '../../src/server/auth.js';
import { startAgent, type RunningAgent } from '../helpers/daemon.js';
import { TestQueue } from '../helpers/queue.js';

const TOKEN = 'remote-token-0123456789abcdef';
const SECRET_ARG = '--api-key=s3cr3t-value';

/** An address of this machine that is not loopback, to make a real request from another address; null when there is none. */
function nonLoopbackAddress(): string | null {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (!a.internal && a.family === 'IPv4') return a.address;
  }
  return null;
}

interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** GET `path` from `from` (the local address the connection leaves from) to `to:port`. */
function get(
  to: string,
  port: number,
  path: string,
  from: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: to, port, path, localAddress: from, headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

const SENSITIVE = ['/', '/api/projects', '/api/projects/p1', '/api/stuck'];
const OPEN = ['/metrics', '/healthz', '/readyz'];

describe('server: which requests count as coming from this host', () => {
  it('takes 127.0.0.0/8 and ::1, also IPv4-mapped, as loopback', () => {
    for (const a of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.2'])
      expect(isLoopbackAddress(a), a).to.equal(true);
  });

  it('takes every other address, and none, as another host', () => {
    for (const a of [
      '192.0.2.2',
      '::ffff:192.0.2.2',
      '10.0.0.1',
      'fd00::2',
      'fe80::1',
      '0.0.0.0',
      '::',
      '128.0.0.1',
      '',
      undefined,
    ]) {
      expect(isLoopbackAddress(a), String(a)).to.equal(false);
    }
  });

  it('takes a request a proxy forwarded as another host, even from loopback', () => {
    expect(fromThisHost('127.0.0.1', {})).to.equal(true);
    for (const header of ['forwarded', 'x-forwarded-for', 'x-real-ip'])
      expect(fromThisHost('127.0.0.1', { [header]: '203.0.113.7' }), header).to.equal(false);
  });
});

describe('server: the status page and the read API from another host', function () {
  this.timeout(60_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  let port: number;
  const remote = nonLoopbackAddress();

  async function serve(env: Record<string, string> = {}): Promise<void> {
    expect(
      (
        await q.agent([
          'enqueue',
          '--id',
          'p1',
          '--cwd',
          q.dir.path,
          '--tmux-socket',
          q.tmux.socket,
          '--',
          'true',
          SECRET_ARG,
        ])
      ).code,
    ).to.equal(0);
    agent = await startAgent(
      { ...q.env, AGENT_LISTEN: '0.0.0.0:0', AGENT_MAX_CONCURRENT: '1', AGENT_SCAN_SCHEDULE: '0 0 1 1 *', ...env },
      q.dir.path,
    );
    port = Number(new URL(agent.url).port);
  }

  beforeEach(function () {
    if (remote === null) this.skip(); // no non-loopback interface: the pure rule above still holds
    q = new TestQueue();
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q?.destroy();
  });

  it('answers this host without a token, and shows the command line', async () => {
    await serve();
    for (const path of SENSITIVE) expect((await get('127.0.0.1', port, path, '127.0.0.1')).status, path).to.equal(200);
    expect((await get('127.0.0.1', port, '/api/projects/p1', '127.0.0.1')).body).to.include(SECRET_ARG);
  });

  it('refuses another host with 403 while no token is set, and keeps /metrics, /healthz, /readyz open', async () => {
    await serve();
    const host = remote as string;
    for (const path of SENSITIVE) {
      const r = await get(host, port, path, host);
      expect(r.status, path).to.equal(403);
      expect(r.body, path).to.include('AGENT_API_TOKEN').and.not.include(SECRET_ARG);
    }
    for (const path of OPEN) expect((await get(host, port, path, host)).status, path).to.be.oneOf([200, 503]);
    expect((await get(host, port, '/metrics', host)).status).to.equal(200);
  });

  it("asks another host for the token (401), and answers it with the bearer token or a browser's Basic password", async () => {
    await serve({ AGENT_API_TOKEN: TOKEN });
    const host = remote as string;
    for (const path of SENSITIVE) {
      const r = await get(host, port, path, host);
      expect(r.status, path).to.equal(401);
      expect(r.body, path).to.not.include(SECRET_ARG);
      expect(
        (await get(host, port, path, host, { Authorization: 'Bearer wrong-token-0123456789' })).status,
        path,
      ).to.equal(401);
      expect((await get(host, port, path, host, { Authorization: `Bearer ${TOKEN}` })).status, path).to.equal(200);
    }
    expect((await get(host, port, '/', host)).headers['www-authenticate']).to.match(/^Basic /);
    const basic = Buffer.from(`me:${TOKEN}`).toString('base64');
    const page = await get(host, port, '/', host, { Authorization: `Basic ${basic}` });
    expect(page.status).to.equal(200);
    expect(page.body).to.include('p1');
  });

  it('treats a request forwarded by a proxy on this host as another host', async () => {
    await serve({ AGENT_API_TOKEN: TOKEN });
    const r = await get('127.0.0.1', port, '/api/projects', '127.0.0.1', { 'X-Forwarded-For': '203.0.113.7' });
    expect(r.status).to.equal(401);
    expect(r.body).to.not.include(SECRET_ARG);
  });
});
