/**
 * Security (docs/design.md#safety-rules-for-every-destructive-action, docs/api.md#access): no shell anywhere, the write API refused without
 * the right token (compared in constant time), no signal to another user's
 * process unless configured, and owner-only files. The injection rows of
 * bad-input.test.ts show metacharacters refused at the door; here a command
 * full of them is accepted, launched through tmux, and reaches the process
 * word for word.
 */
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newProject } from '../../src/core/model/project.js';
import { tokensMatch } from '../../src/server/auth.js';
import { JsonStore } from '../../src/registry/json-store.js';
import { AGENT_BIN, cleanEnv } from '../helpers/cli.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { Processes, isRunning, statStartTime, waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';
import { TOKEN, Victims, readyz, validRegistry } from './helpers.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Calls of a child_process function: the text from the call to its closing parenthesis (balanced). */
function callsOf(text: string, name: string): string[] {
  const calls: string[] = [];
  const re = new RegExp(`\\b${name}\\s*\\(`, 'g');
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let depth = 0;
    let end = m.index + m[0].length - 1;
    for (; end < text.length; end++) {
      if (text[end] === '(') depth++;
      else if (text[end] === ')' && --depth === 0) break;
    }
    calls.push(text.slice(m.index, end + 1));
  }
  return calls;
}

/** Every way a source file could ask for a shell, as "file: what". */
function shellProblems(files: readonly { path: string; text: string }[]): string[] {
  const problems: string[] = [];
  for (const f of files) {
    if (/\bshell\s*:/.test(f.text)) problems.push(`${f.path}: a shell option`);
    for (const m of f.text.matchAll(/import\s*\{([^}]*)\}\s*from\s*['"](?:node:)?child_process['"]/g)) {
      const names = (m[1] ?? '').split(',').map(
        (n) =>
          n
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0],
      );
      for (const n of names)
        if (['exec', 'execSync'].includes(n ?? '')) problems.push(`${f.path}: imports ${n} (runs a shell)`);
    }
    if (
      /import\s+\*\s+as\s+\w+\s+from\s*['"](?:node:)?child_process['"]/.test(f.text) ||
      /require\(['"](?:node:)?child_process['"]\)/.test(f.text)
    ) {
      problems.push(`${f.path}: child_process as a namespace (calls cannot be checked)`);
    }
    if (!/from ['"](node:)?child_process['"]/.test(f.text)) continue;
    for (const name of ['spawn', 'spawnSync', 'execFile', 'execFileSync']) {
      for (const call of callsOf(f.text, name)) {
        const first = /^\w+\s*\(\s*(['"`])((?:(?!\1).)*)\1/.exec(call);
        if (first && /\s/.test(first[2] ?? ''))
          problems.push(`${f.path}: ${name} of a command line: ${call.slice(0, 80)}`);
        if (first && /^(\/bin\/|\/usr\/bin\/)?(sh|bash|dash|zsh)$/.test(first[2] ?? ''))
          problems.push(`${f.path}: ${name} of a shell: ${call.slice(0, 80)}`);
        if (/['"]-c['"]/.test(call)) problems.push(`${f.path}: ${name} with -c: ${call.slice(0, 80)}`);
      }
    }
  }
  return problems;
}

describe('reliability: security', function () {
  this.timeout(60_000);

  describe('no shell anywhere', () => {
    const files = sourceFiles(SRC).map((path) => ({ path: relative(SRC, path), text: readFileSync(path, 'utf8') }));

    it('src/ never asks for a shell: no shell option, no exec/execSync, no command line as one string', () => {
      expect(
        files.filter((f) => /from ['"](node:)?child_process['"]/.test(f.text)).length,
        'some files run programs',
      ).to.be.greaterThan(0);
      expect(shellProblems(files)).to.deep.equal([]);
    });

    it('the check itself finds each way of asking for a shell', () => {
      const bad = [
        "import { exec } from 'node:child_process';",
        "import { execSync as run } from 'child_process';",
        "import { spawn } from 'node:child_process'; spawn('tmux', ['ls'], { shell: true });",
        "import { execFile } from 'node:child_process'; execFile('tmux list-sessions', cb);",
        "import { spawn } from 'node:child_process'; spawn('/bin/sh', [script]);",
        "import { spawnSync } from 'node:child_process'; spawnSync(program, ['-c', line]);",
        "import * as cp from 'node:child_process';",
      ];
      for (const text of bad) expect(shellProblems([{ path: 'x.ts', text }]), text).to.have.length.greaterThan(0);
      expect(
        shellProblems([
          {
            path: 'ok.ts',
            text: "import { execFile } from 'node:child_process'; execFile('tmux', ['-L', s, 'ls'], cb);",
          },
        ]),
      ).to.deep.equal([]);
    });

    it('a launched command full of shell and tmux metacharacters reaches its process word for word, and creates no file', async () => {
      const q = new TestQueue();
      try {
        const words = [
          '$(touch F)',
          '; touch F',
          '`touch F`',
          '&& touch F',
          '| touch F',
          'x;',
          '\\;',
          '#{session_name}',
          "'quoted'",
          '"double"',
          '*',
          '~',
          '$HOME',
        ];
        const script = "require('node:fs').writeFileSync('argv.json', JSON.stringify(process.argv.slice(1)))";
        const enqueue = await q.agent([
          'enqueue',
          '--id',
          'inj',
          '--cwd',
          q.dir.path,
          '--',
          process.execPath,
          '-e',
          script,
          ...words,
        ]);
        expect(enqueue.code, enqueue.stderr).to.equal(0);
        const heal = await q.heal();
        expect(
          heal.result.actions.map((a) => `${a.action}:${a.outcome}`),
          heal.stderr,
        ).to.deep.equal(['launch:success']);
        const out = join(q.dir.path, 'argv.json');
        await waitUntil(
          () => existsSync(out) && readFileSync(out, 'utf8').length > 0,
          10_000,
          'the launched command to write its arguments',
        );
        expect(JSON.parse(readFileSync(out, 'utf8'))).to.deep.equal(words);
        for (const dir of [q.dir.path, process.cwd(), tmpdir()])
          expect(existsSync(join(dir, 'F')), dir).to.equal(false);
      } finally {
        await q.destroy();
      }
    });
  });

  describe('the write API over a running agent serve', () => {
    let q: TestQueue;
    let agent: RunningAgent | null = null;
    afterEach(async () => {
      await agent?.stop('SIGKILL');
      agent = null;
      await q.destroy();
    });

    const WRITES: [string, unknown][] = [
      ['/api/projects', { id: 'p9' }],
      ['/api/projects/p1/start', { pid: process.pid }],
      ['/api/projects/p1/heartbeat', {}],
      ['/api/projects/p1/complete', {}],
      ['/api/projects/p1/fail', {}],
      ['/api/projects/p1/reset', { force: true }],
      ['/api/heal', {}],
    ];

    it('refuses every write without the token, with a wrong one, in the query string or another scheme (401), and changes nothing', async () => {
      q = new TestQueue({ AGENT_API_TOKEN: TOKEN, AGENT_SCAN_SCHEDULE: '0 0 * * * *' });
      q.write([newProject({ id: 'p1', enqueuedAt: new Date().toISOString() })]);
      agent = await startAgent(q.env, q.dir.path);
      const url = agent.url;
      await eventually(async () => (await readyz(url)).status === 200, 20_000, 'ready');
      const before = readFileSync(q.registry);
      const attempts: [string, Record<string, string>, string][] = [
        ['no header', {}, ''],
        ['a wrong token of the same length', { authorization: `Bearer ${TOKEN.slice(0, -1)}X` }, ''],
        ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, 8)}` }, ''],
        ['the token and more', { authorization: `Bearer ${TOKEN}0` }, ''],
        [
          'the token as Basic credentials',
          { authorization: `Basic ${Buffer.from(`agent:${TOKEN}`).toString('base64')}` },
          '',
        ],
        ['the token in the query string', {}, `?token=${TOKEN}`],
        ['an empty bearer', { authorization: 'Bearer ' }, ''],
      ];
      let refused = 0;
      for (const [path, body] of WRITES) {
        for (const [what, headers, query] of attempts) {
          const res = await fetch(`${url}${path}${query}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: JSON.stringify(body),
          });
          expect(res.status, `${what} on ${path}`).to.equal(401);
          refused += 1;
        }
      }
      expect(readFileSync(q.registry).equals(before), 'registry bytes unchanged').to.equal(true);
      expect(agent.stderr()).to.not.match(/api: (enqueued|started|completed|failed|reset|heal requested)/);
      expect(refused).to.equal(WRITES.length * attempts.length);
      // The right token works (the refusals were about the token, not the route).
      const ok = await fetch(`${url}/api/projects/p1/fail`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: '{}',
      });
      expect(ok.status).to.equal(409); // queued cannot fail: a state conflict, past authentication
    });

    it('refuses every write with 403 when no token is configured', async () => {
      q = new TestQueue({ AGENT_SCAN_SCHEDULE: '0 0 * * * *' });
      q.write([newProject({ id: 'p1', enqueuedAt: new Date().toISOString() })]);
      agent = await startAgent(q.env, q.dir.path);
      const before = readFileSync(q.registry);
      for (const [path, body] of WRITES) {
        const res = await fetch(`${agent.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        expect(res.status, path).to.equal(403);
      }
      expect(readFileSync(q.registry).equals(before)).to.equal(true);
    });
  });

  describe('the token comparison', () => {
    it('compares tokens in constant time: SHA-256 digests through timingSafeEqual, whatever the length sent', () => {
      const auth = readFileSync(join(SRC, 'server/auth.ts'), 'utf8');
      expect(auth).to.match(/import \{[^}]*\btimingSafeEqual\b[^}]*\} from 'node:crypto'/);
      expect(auth).to.match(/return timingSafeEqual\(digest\(given\), expected\);/);
      expect(auth).to.match(/const expected = apiToken === null \? null : digest\(apiToken\);/);
      expect(auth).to.match(/tokensMatch\(given, expected\)/);
      // No other place compares the token as a string.
      for (const f of sourceFiles(SRC)) {
        const text = readFileSync(f, 'utf8');
        const apiToken =
          /\bapiToken\s*[!=]==?\s*(?!null\b|undefined\b)[\w'"`]|(?<!\bnull|\bundefined)\s*[!=]==?\s*(?:\w+\.)*apiToken\b/;
        const bearer = /\b(?:given|bearer\w*)\s*[!=]==?\s*(?!null\b|undefined\b)[\w'"`]/i;
        expect(apiToken.test(text) || (f.includes('/server/') && bearer.test(text)), relative(SRC, f)).to.equal(false);
      }
      const expected = Buffer.from(new Uint8Array(32));
      const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
      expect(tokensMatch(TOKEN, digest(TOKEN))).to.equal(true);
      // Any length of input is compared as 32 bytes: no throw, no early exit on length.
      for (const given of ['', 'x', TOKEN.slice(0, -1), `${TOKEN}${'y'.repeat(10_000)}`])
        expect(tokensMatch(given, digest(TOKEN)), given.slice(0, 20)).to.equal(false);
      expect(tokensMatch('anything', expected)).to.equal(false);
    });
  });

  describe("another user's process", () => {
    let q: TestQueue;
    let shared: string;
    let foreign: Processes;
    beforeEach(() => {
      q = new TestQueue({ KILL_GRACE_SEC: '1', AGENT_RETRY_MAX_ATTEMPTS: '1' });
      // The victim runs as nobody: its script and signal log live where nobody can reach them too.
      shared = mkdtempSync(join(tmpdir(), 'toa-foreign-'));
      chmodSync(shared, 0o777);
      foreign = new Processes();
    });
    afterEach(async () => {
      await foreign.cleanup();
      await q.destroy();
      rmSync(shared, { recursive: true, force: true });
    });

    it('is never signalled (held back, with the reason) unless AGENT_ALLOW_FOREIGN_USERS=true', async function () {
      if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version']).status !== 0) this.skip(); // needs root and setpriv to run a process as nobody
      const victims = new Victims(shared, foreign);
      chmodSync(victims.log, 0o666);
      const child = foreign.spawn(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', '--', '/bin/sh', victims.script, victims.log],
        { detached: true, stdio: 'ignore' },
      );
      const pid = child.pid as number;
      await waitUntil(
        () => readFileSync(victims.log, 'utf8').includes(`READY ${pid}`),
        10_000,
        'the foreign victim to start',
      );
      const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
      expect(uid).to.equal(65534);
      const identity = { pid, pidStartTime: statStartTime(pid) };
      q.write([q.project({ id: 'z', session: 'gone', ...identity })]);

      const first = await q.heal();
      expect(first.result.actions, 'no kill is tried').to.deep.equal([]);
      const kill = first.result.blocked.find((b) => b.action === 'kill_tree');
      expect(kill?.reason, JSON.stringify(first.result.blocked)).to.equal('foreign_user');
      expect(kill?.detail).to.match(/owned by uid 65534, not ours \(0\); allowForeignUsers is off/);
      await new Promise((r) => setTimeout(r, 1500)); // past the kill grace
      expect(victims.termsTo(identity), 'not signalled').to.equal(0);
      expect(isRunning(pid)).to.equal(true);
      expect(q.get('z').state, 'not marked failed: the kill did not happen').to.not.equal('failed');
      expect(validRegistry(q.registry).intents).to.deep.equal([]);

      const allowed = await q.heal({ AGENT_ALLOW_FOREIGN_USERS: 'true' });
      expect(
        allowed.result.actions.map((a) => `${a.action}:${a.outcome}`),
        JSON.stringify(allowed.result.actions),
      ).to.deep.equal(['kill_tree:success']);
      await waitUntil(() => !isRunning(pid), 15_000, 'the foreign victim to die');
      expect(victims.termsTo(identity)).to.equal(1);
      expect(q.get('z')).to.include({ state: 'failed', failureReason: 'zombie' });
    });
  });

  describe('file permissions', () => {
    let q: TestQueue;
    beforeEach(() => {
      q = new TestQueue({ AGENT_RETENTION_DAYS: '1' });
      rmSync(join(q.dir.path, 'data'), { recursive: true, force: true });
    });
    afterEach(async () => {
      await q.destroy();
    });

    /** Run the agent under a umask that would otherwise leave everything world-readable. */
    function underUmask0(args: string[]): Promise<{ code: number | null; stderr: string }> {
      return new Promise((resolve, reject) => {
        const child = spawn('/bin/sh', ['-c', 'umask 000; exec "$@"', 'sh', process.execPath, AGENT_BIN, ...args], {
          cwd: q.dir.path,
          env: cleanEnv(q.env),
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
      });
    }

    it('registry, last good copy, audit, archive and corrupt copies are 0600 and the data directory 0700, even under umask 000', async () => {
      const data = join(q.dir.path, 'data');
      const enq = await underUmask0(['enqueue', '--id', 'p1']);
      expect(enq.code, enq.stderr).to.equal(0);
      // A project finished two days ago: the next cycle moves it to the archive (retention 1 day).
      const old = new Date(Date.now() - 2 * 86_400_000).toISOString();
      await new JsonStore({ path: q.registry }).update((doc) => {
        doc.projects.push(
          newProject({ id: 'done', enqueuedAt: old, state: 'completed', startedAt: old, endedAt: old }),
        );
      });
      const heal = await underUmask0(['heal', '--once']);
      expect(heal.code, heal.stderr).to.equal(0);
      writeFileSync(q.registry, '{"version": 1, "projects": [', { mode: 0o600 });
      const status = await underUmask0(['status']);
      expect(status.code).to.equal(3);

      const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
      expect(mode(data), 'data directory').to.equal('700');
      const files = readdirSync(data).filter((f) => !f.endsWith('.lock'));
      expect(files).to.include.members(['registry.json', 'registry.json.last-good', 'audit.jsonl', 'archive.jsonl']);
      expect(files.some((f) => f.startsWith('registry.json.corrupt-'))).to.equal(true);
      for (const f of files) expect(mode(join(data, f)), f).to.equal('600');
    });
  });
});
