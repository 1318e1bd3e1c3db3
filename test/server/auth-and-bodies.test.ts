import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { call, post, startServer, type Harness } from './harness.js';

const WRITES: [string, unknown][] = [
  ['/api/projects', { id: 'p1' }],
  ['/api/projects/p1/start', { pid: process.pid }],
  ['/api/projects/p1/heartbeat', {}],
  ['/api/projects/p1/complete', {}],
  ['/api/projects/p1/fail', { reason: 'x' }],
  ['/api/projects/p1/reset', { force: true }],
  ['/api/heal', {}],
];

describe('server: write API authentication', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('refuses every write with 403 when no token is configured, and says how to enable it', async () => {
    h = await startServer({ token: null });
    for (const [path, body] of WRITES) {
      const r = await post(h, path, body, { token: 'anything-at-all-0123' });
      expect(r.status, path).to.equal(403);
      expect(r.json.error.message, path).to.include('the write API is disabled: set AGENT_API_TOKEN');
    }
    expect(h.bytes()).to.equal(null);
    expect(h.cycleRequests).to.deep.equal([]);
  });

  it('answers 401 with WWW-Authenticate when the token is missing', async () => {
    h = await startServer();
    for (const [path, body] of WRITES) {
      const r = await post(h, path, body, { token: null });
      expect(r.status, path).to.equal(401);
      expect(r.headers.get('www-authenticate'), path).to.match(/^Bearer /);
      expect(r.json.error.message).to.include('missing bearer token');
    }
    expect(h.bytes()).to.equal(null);
  });

  it('answers 401 for a wrong token, of the same or another length', async () => {
    h = await startServer();
    for (const token of ['test-token-0123456789abcdeX', 'short', 'test-token-0123456789abcdef-and-more']) {
      const r = await post(h, '/api/projects', { id: 'p1' }, { token });
      expect(r.status, token).to.equal(401);
      expect(r.headers.get('www-authenticate')).to.include('invalid_token');
    }
    expect(h.bytes()).to.equal(null);
  });

  it('answers 401 for another scheme than Bearer', async () => {
    h = await startServer();
    const r = await post(
      h,
      '/api/projects',
      { id: 'p1' },
      { token: null, headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } },
    );
    expect(r.status).to.equal(401);
  });

  it('checks the token before reading the body', async () => {
    h = await startServer();
    const r = await post(h, '/api/projects', undefined, { token: null, raw: '{not json' });
    expect(r.status).to.equal(401);
  });

  it('accepts the configured token', async () => {
    h = await startServer();
    const r = await post(h, '/api/projects', { id: 'p1' });
    expect(r.status).to.equal(201);
  });
});

describe('server: write API bodies', () => {
  let h: Harness;
  let before: Buffer;
  beforeEach(async () => {
    h = await startServer();
    expect((await post(h, '/api/projects', { id: 'p1', name: 'first' })).status).to.equal(201);
    before = h.bytes() as Buffer;
  });
  afterEach(() => h.close());

  const unchanged = () => expect(h.bytes()?.equals(before), 'registry bytes unchanged').to.equal(true);

  it('refuses a body over 64 KiB with 413', async () => {
    const r = await post(h, '/api/projects', { id: 'p2', name: 'x'.repeat(70 * 1024) });
    expect(r.status).to.equal(413);
    expect(r.json.error.message).to.include('64 KiB');
    unchanged();
  });

  it('refuses a chunked body over 64 KiB with 413', async () => {
    const big = JSON.stringify({ id: 'p2', name: 'x'.repeat(70 * 1024) });
    const stream = new ReadableStream({
      start(controller) {
        for (let i = 0; i < big.length; i += 8192) controller.enqueue(new TextEncoder().encode(big.slice(i, i + 8192)));
        controller.close();
      },
    });
    const res = await fetch(`${h.base}/api/projects`, {
      method: 'POST',
      headers: { authorization: 'Bearer test-token-0123456789abcdef', 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    });
    expect(res.status).to.equal(413);
    unchanged();
  });

  it('refuses bad JSON with 400', async () => {
    const r = await post(h, '/api/projects', undefined, { raw: '{"id": "p2",' });
    expect(r.status).to.equal(400);
    expect(r.json.error.message).to.include('not valid JSON');
    unchanged();
  });

  it('refuses another content type with 415', async () => {
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await post(h, '/api/projects', undefined, { raw: 'id=p2', contentType });
      expect(r.status, contentType).to.equal(415);
      expect(r.json.error.message).to.include('application/json');
    }
    unchanged();
  });

  it('refuses a JSON body that is not an object', async () => {
    for (const raw of ['[]', '["p2"]']) {
      const r = await post(h, '/api/projects', undefined, { raw });
      expect(r.status, raw).to.equal(400);
    }
    // strict JSON: a bare value is not a body
    expect((await post(h, '/api/projects', undefined, { raw: '"p2"' })).status).to.equal(400);
    unchanged();
  });

  const INVALID: [string, string, unknown, string, RegExp][] = [
    ['enqueue without id', '/api/projects', {}, 'id', /required/],
    ['enqueue with a numeric id', '/api/projects', { id: 5 }, 'id', /must be a string/],
    ['enqueue with a bad id', '/api/projects', { id: '-p' }, 'id', /letters, digits/],
    [
      'an unknown field',
      '/api/projects',
      { id: 'p2', colour: 'red' },
      'colour',
      /unknown field "colour"; allowed: id, name/,
    ],
    ['a numeric name', '/api/projects', { id: 'p2', name: 7 }, 'name', /must be a string/],
    ['a session with a dot', '/api/projects', { id: 'p2', session: 'a.b' }, 'session', /session name/],
    ['a relative socket path', '/api/projects', { id: 'p2', tmuxSocket: 'rel/sock' }, 'tmuxSocket', /socket/],
    ['a relative cwd', '/api/projects', { id: 'p2', cwd: 'work' }, 'cwd', /absolute/],
    ['a relative project dir', '/api/projects', { id: 'p2', projectDir: 'work' }, 'projectDir', /absolute/],
    ['a fractional priority', '/api/projects', { id: 'p2', priority: 1.5 }, 'priority', /integer/],
    ['a priority as text', '/api/projects', { id: 'p2', priority: '1' }, 'priority', /integer/],
    ['a huge priority', '/api/projects', { id: 'p2', priority: 5e6 }, 'priority', /-1000000 to 1000000/],
    ['zero max attempts', '/api/projects', { id: 'p2', maxAttempts: 0 }, 'maxAttempts', /1 to 1000/],
    [
      'a command as one string',
      '/api/projects',
      { id: 'p2', command: 'ls -l', cwd: '/tmp' },
      'command',
      /list of strings/,
    ],
    [
      'a command with a number',
      '/api/projects',
      { id: 'p2', command: ['ls', 3], cwd: '/tmp' },
      'command',
      /list of strings/,
    ],
    ['a command without cwd', '/api/projects', { id: 'p2', command: ['ls'] }, 'cwd', /required with a command/],
    ['a NUL in a path', '/api/projects', { id: 'p2', cwd: '/tmp/a\u0000b' }, 'cwd', /without NUL/],
    ['start without pid', '/api/projects/p1/start', {}, 'pid', /required/],
    ['start with a pid as text', '/api/projects/p1/start', { pid: '12' }, 'pid', /integer/],
    ['start with pid 0', '/api/projects/p1/start', { pid: 0 }, 'pid', /1 to 4194304/],
    [
      'start with a process that does not exist',
      '/api/projects/p1/start',
      { pid: 4_194_304 },
      'pid',
      /no such process/,
    ],
    [
      'start with a bad session',
      '/api/projects/p1/start',
      { pid: process.pid, session: 'a b' },
      'session',
      /session name/,
    ],
    ['a heartbeat with a field', '/api/projects/p1/heartbeat', { at: 'now' }, 'at', /takes no fields/],
    [
      'a failure reason with a semicolon',
      '/api/projects/p1/fail',
      { reason: 'x; rm -rf /' },
      'reason',
      /failure reason/,
    ],
    ['noRetry as text', '/api/projects/p1/fail', { noRetry: 'yes' }, 'noRetry', /true or false/],
    ['force as a number', '/api/projects/p1/reset', { force: 1 }, 'force', /true or false/],
    ['heal with a field', '/api/heal', { dryRun: true }, 'dryRun', /takes no fields/],
  ];
  for (const [title, path, body, field, message] of INVALID) {
    it(`refuses ${title}, naming "${field}", and changes nothing`, async () => {
      const r = await post(h, path, body);
      expect(r.status).to.equal(400);
      expect(r.json.error.field).to.equal(field);
      expect(r.json.error.message).to.match(message);
      expect(r.text).not.to.match(/\n\s+at /);
      unchanged();
    });
  }

  for (const id of ['x; rm -rf /', '$(touch F)', '../../etc', '`touch F`', 'a/b', '.hidden', '']) {
    it(`refuses the id ${JSON.stringify(id)} with 400 and creates no file`, async () => {
      const files = h.files();
      const enqueue = await post(h, '/api/projects', { id, cwd: h.dir, command: ['touch', 'F'] });
      expect(enqueue.status).to.equal(400);
      expect(enqueue.json.error.field).to.equal('id');
      if (id !== '') {
        const encoded = encodeURIComponent(id);
        for (const action of ['start', 'heartbeat', 'complete', 'fail', 'reset']) {
          const r = await post(h, `/api/projects/${encoded}/${action}`, action === 'start' ? { pid: process.pid } : {});
          expect(r.status, action).to.equal(400);
          expect(r.json.error.field).to.equal('id');
        }
        const read = await call(h, `/api/projects/${encoded}`, undefined, { method: 'GET', token: null });
        expect(read.status).to.equal(400);
      }
      expect(h.files()).to.deep.equal(files);
      expect(existsSync(join(h.dir, 'F'))).to.equal(false);
      expect(existsSync(join(process.cwd(), 'F'))).to.equal(false);
      unchanged();
    });
  }
});
