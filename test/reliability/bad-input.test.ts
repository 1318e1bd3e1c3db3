/**
 * Bad input, one table: command-line arguments, config
 * files, environment values, registry documents and HTTP bodies — oversize,
 * wrong types, negative and huge numbers, unknown states, shell and tmux
 * metacharacters, paths, a 10 MB string. Each is refused with a message
 * naming the field, the documented exit code or HTTP status, and nothing
 * changes (registry bytes compared after every row). The rows carrying
 * `$(touch F)` or `; touch F` run in a temporary working directory, and no
 * file F appears anywhere they could have put it.
 *
 * Rows already pinned elsewhere are not repeated here: test/cli/foundation
 * (19 argument rows), test/server/auth-and-bodies (27 body rows, 7 ids),
 * test/registry/json-store (8 corrupt registries).
 *
 * Command-line rows run through the real program in one batch process
 * (fixtures/cli-batch.mjs), so a row may carry a 10 MB value that no exec()
 * could; HTTP rows go to a real `agent serve`.
 */
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newProject, type Project } from '../../src/core/model/project.js';
import { emptyDocument } from '../../src/core/model/registry-document.js';
import { serialise } from '../../src/registry/json-store.js';
import { cleanEnv } from '../helpers/cli.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { TestQueue } from '../helpers/queue.js';
import { TOKEN, readyz } from './helpers.js';

const BATCH = fileURLToPath(new URL('./fixtures/cli-batch.mjs', import.meta.url));
const HUGE = 'x'.repeat(10 * 1024 * 1024);
const T0 = '2026-11-26T10:00:00.000Z';

/** A command-line row: arguments (and env, or a file the row writes first); refused with `code` and a message matching `message`. */
interface CliRow {
  kind: 'argument' | 'config file' | 'environment' | 'registry document';
  what: string;
  args: string[];
  env?: Record<string, string>;
  /** A file written before the batch runs, at `<dir>/<name>`; `{file}` in args is replaced by its path. */
  file?: { name: string; content: string };
  code: number;
  message: RegExp;
}

/** An HTTP row: a write to the running daemon, refused with `status`, naming `field` (error.field or the message). */
interface HttpRow {
  kind: 'http';
  what: string;
  path: string;
  body: string;
  status: number;
  field: string | null;
  message: RegExp;
}

/** A valid document with one project, with `patch` applied to it (or to the document). */
function registryWith(patch: Record<string, unknown>, top: Record<string, unknown> = {}): string {
  const project = { ...newProject({ id: 'p1', enqueuedAt: T0 }), ...patch } as Record<string, unknown>;
  return JSON.stringify({ ...emptyDocument(), projects: [project], ...top });
}

const REG = (what: string, content: string, message: RegExp): CliRow => ({
  kind: 'registry document',
  what,
  args: ['--registry', '{file}', 'status'],
  file: { name: `registry-${createHash('sha1').update(what).digest('hex').slice(0, 8)}.json`, content },
  code: 3,
  message,
});
const CONFIG = (what: string, content: string, message: RegExp, ext = 'yaml'): CliRow => ({
  kind: 'config file',
  what,
  args: ['--config', '{file}', 'status'],
  file: { name: `config-${createHash('sha1').update(what).digest('hex').slice(0, 8)}.${ext}`, content },
  code: 2,
  message,
});
const ENV = (what: string, env: Record<string, string>, message: RegExp): CliRow => ({
  kind: 'environment',
  what,
  args: ['status'],
  env,
  code: 2,
  message,
});
const ARG = (what: string, args: string[], message: RegExp, code = 2): CliRow => ({
  kind: 'argument',
  what,
  args,
  code,
  message,
});
const HTTP = (
  what: string,
  path: string,
  body: unknown,
  status: number,
  field: string | null,
  message: RegExp,
): HttpRow => ({
  kind: 'http',
  what,
  path,
  body: typeof body === 'string' ? body : JSON.stringify(body),
  status,
  field,
  message,
});

const nested = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const aliasBomb = [
  'a: &a ["x","x","x","x","x","x","x","x","x"]',
  ...Array.from(
    { length: 8 },
    (_, i) =>
      `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`,
  ),
].join('\n');

const CLI_ROWS: CliRow[] = [
  // Command-line arguments (p1 is queued, p2 processing).
  ARG(
    'a session "$(touch F)"',
    ['enqueue', '--id', 'p9', '--session', '$(touch F)', '--', 'touch', 'F'],
    /invalid session name "\$\(touch F\)"/,
  ),
  ARG(
    'a session "; touch F"',
    ['enqueue', '--id', 'p9', '--session', '; touch F', '--', 'touch', 'F'],
    /invalid session name "; touch F"/,
  ),
  ARG('an id "; touch F"', ['enqueue', '--id', '; touch F', '--', 'touch', 'F'], /invalid project id "; touch F"/),
  ARG('an id "a:b"', ['enqueue', '--id', 'a:b'], /invalid project id "a:b"/),
  ARG('an id "=w"', ['enqueue', '--id', '=w'], /invalid project id "=w"/),
  ARG('a pid in exponent notation', ['start', 'p1', '--pid', '1e3'], /invalid pid "1e3"/),
  ARG('a pid in hex', ['start', 'p1', '--pid', '0x10'], /invalid pid "0x10"/),
  ARG('pid 0', ['start', 'p1', '--pid', '0'], /invalid pid 0: must be an integer from 1 to 4194304/),
  ARG(
    'a priority past the limit',
    ['enqueue', '--id', 'p9', '--priority', '99999999999'],
    /invalid priority 99999999999/,
  ),
  ARG('zero max attempts', ['enqueue', '--id', 'p9', '--max-attempts', '0'], /invalid max attempts 0/),
  ARG('negative max attempts', ['enqueue', '--id', 'p9', '--max-attempts', '-1'], /invalid max attempts -1/),
  ARG('a tmux socket with a space', ['enqueue', '--id', 'p9', '--tmux-socket', 'a b'], /invalid tmux socket "a b"/),
  ARG(
    'a relative tmux socket path',
    ['enqueue', '--id', 'p9', '--tmux-socket', '../../etc'],
    /invalid tmux socket "\.\.\/\.\.\/etc"/,
  ),
  ARG('a 10 MB name', ['enqueue', '--id', 'p9', '--name', HUGE], /invalid name: must be at most 256 characters/),
  ARG('an empty program', ['enqueue', '--id', 'p9', '--', ''], /invalid command \[""\]: must name a program/),
  ARG(
    'a failure reason "$(touch F)"',
    ['fail', 'p2', '--reason', '$(touch F)'],
    /invalid failure reason "\$\(touch F\)"/,
  ),
  ARG('a reset of "../../etc"', ['reset', '../../etc'], /invalid project id "\.\.\/\.\.\/etc"/),
  ARG('a kill-zombie of "=w"', ['kill-zombie', '=w'], /invalid project id "=w"/),
  ARG(
    'a negative kill grace in --set',
    ['--set', 'killGraceSec=-1', 'status'],
    /invalid config key "killGraceSec" from --set killGraceSec=-1: got "-1"/,
  ),
  ARG(
    'an unknown log level',
    ['--log-level', 'verbose', 'status'],
    /option '--log-level <level>' argument 'verbose' is invalid/,
  ),
  ARG('heal without --once', ['heal'], /"agent heal" needs --once/),
  ARG(
    'an id that already exists (a conflict: exit 1)',
    ['enqueue', '--id', 'p1'],
    /a project with id "p1" already exists/,
    1,
  ),

  // Config files.
  CONFIG(
    'a negative maxConcurrent',
    'maxConcurrent: -1\n',
    /invalid config key "maxConcurrent" in .*: got -1; allowed: an integer from 1 to 10000/,
  ),
  CONFIG('killGraceSec as words', 'killGraceSec: ten\n', /invalid config key "killGraceSec" .*got "ten"/),
  CONFIG('a huge tmuxTimeoutMs', 'tmuxTimeoutMs: 1e12\n', /invalid config key "tmuxTimeoutMs" .*got 1000000000000/),
  CONFIG('a schedule in words', 'scanSchedule: every minute\n', /invalid config key "scanSchedule"/),
  CONFIG('a port past 65535', 'listen: "0.0.0.0:99999"\n', /invalid config key "listen"/),
  CONFIG('a short API token', 'apiToken: short\n', /invalid config key "apiToken" .*16-512 printable ASCII/),
  CONFIG(
    'an orphan pattern that does not compile',
    'orphanSessionPatterns: ["("]\n',
    /invalid config key "orphanSessionPatterns" .*regular expression/,
  ),
  CONFIG(
    'an unknown log level',
    'logLevel: verbose\n',
    /invalid config key "logLevel" .*one of error, warn, info, debug/,
  ),
  CONFIG('a tmux socket with a space', 'tmuxSockets: ["a b"]\n', /invalid config key "tmuxSockets"/),
  CONFIG('a host id "$(touch F)"', 'hostId: "$(touch F)"\n', /invalid config key "hostId" .*"\$\(touch F\)"/),
  CONFIG(
    'allowForeignUsers "maybe"',
    'allowForeignUsers: maybe\n',
    /invalid config key "allowForeignUsers" .*true or false/,
  ),
  CONFIG('a misspelt key', 'maxKilsPerCycle: 2\n', /unknown config key "maxKilsPerCycle"/),
  CONFIG('a list instead of a mapping', '- maxConcurrent\n- 2\n', /must hold a mapping of keys to values, got a list/),
  CONFIG('a YAML alias bomb', `${aliasBomb}\n`, /does not parse/),
  CONFIG('a 10 MB file', `hostId: ${HUGE}\n`, /is larger than 1048576 bytes/),
  CONFIG(
    'retryMaxAttempts as text (JSON)',
    '{"retryMaxAttempts": "5x"}',
    /invalid config key "retryMaxAttempts" .*got "5x"/,
    'json',
  ),
  CONFIG(
    'a breaker cap below its cooldown',
    'breakerCooldownSec: 600\nbreakerMaxCooldownSec: 60\n',
    /invalid config key "breakerMaxCooldownSec": got 60; allowed: at least breakerCooldownSec \(600\)/,
  ),
  CONFIG('an empty registry path', 'registry: ""\n', /invalid config key "registry"/),
  CONFIG(
    'a host id nested 10,000 lists deep (JSON)',
    `{"hostId": ${nested(10_000)}}`,
    /invalid config key "hostId"/,
    'json',
  ),

  // Environment values.
  ENV(
    'a negative MAX_PROCESS_RUNTIME_SEC',
    { MAX_PROCESS_RUNTIME_SEC: '-5' },
    /invalid config key "maxProcessRuntimeSec" from environment variable MAX_PROCESS_RUNTIME_SEC: got "-5"/,
  ),
  ENV(
    'HEARTBEAT_TIMEOUT_SEC as text',
    { HEARTBEAT_TIMEOUT_SEC: 'abc' },
    /environment variable HEARTBEAT_TIMEOUT_SEC: got "abc"/,
  ),
  ENV(
    'a KILL_GRACE_SEC past an hour',
    { KILL_GRACE_SEC: '99999' },
    /environment variable KILL_GRACE_SEC: got "99999"; allowed: an integer from 0 to 3600/,
  ),
  ENV('AGENT_MAX_CONCURRENT 0', { AGENT_MAX_CONCURRENT: '0' }, /environment variable AGENT_MAX_CONCURRENT: got "0"/),
  ENV(
    'AGENT_ALLOW_FOREIGN_USERS "maybe"',
    { AGENT_ALLOW_FOREIGN_USERS: 'maybe' },
    /environment variable AGENT_ALLOW_FOREIGN_USERS: got "maybe"; allowed: true or false/,
  ),
  ENV(
    'an AGENT_LISTEN port past 65535',
    { AGENT_LISTEN: '0.0.0.0:70000' },
    /environment variable AGENT_LISTEN: got "0\.0\.0\.0:70000"/,
  ),
  ENV(
    'an AGENT_HOST_ID "x; rm -rf /"',
    { AGENT_HOST_ID: 'x; rm -rf /' },
    /environment variable AGENT_HOST_ID: got "x; rm -rf \/"/,
  ),
  ENV(
    'AGENT_TMUX_SOCKETS "../../etc"',
    { AGENT_TMUX_SOCKETS: '../../etc' },
    /environment variable AGENT_TMUX_SOCKETS: got "\.\.\/\.\.\/etc"/,
  ),
  ENV('LOG_LEVEL "trace"', { LOG_LEVEL: 'trace' }, /environment variable LOG_LEVEL: got "trace"/),
  ENV(
    'AGENT_SCAN_SCHEDULE "$(touch F)"',
    { AGENT_SCAN_SCHEDULE: '$(touch F)' },
    /environment variable AGENT_SCAN_SCHEDULE: got "\$\(touch F\)"/,
  ),
  ENV('a short AGENT_API_TOKEN', { AGENT_API_TOKEN: 'short' }, /environment variable AGENT_API_TOKEN: got "short"/),
  ENV(
    'PHANTOM_GRACE_PERIOD_SEC 1e309',
    { PHANTOM_GRACE_PERIOD_SEC: '1e309' },
    /environment variable PHANTOM_GRACE_PERIOD_SEC: got "1e309"/,
  ),
  ENV(
    'MAX_TIMEOUT_EXTENSIONS 3.5',
    { MAX_TIMEOUT_EXTENSIONS: '3.5' },
    /environment variable MAX_TIMEOUT_EXTENSIONS: got "3\.5"; allowed: an integer/,
  ),
  ENV('a 10 MB AGENT_HOST_ID', { AGENT_HOST_ID: HUGE }, /environment variable AGENT_HOST_ID: got "xxxx/),

  // Registry documents (the agent refuses the file and changes nothing; exit 3).
  REG(
    'a negative pid',
    registryWith({ state: 'processing', pid: -1 }),
    /field "pid": must be a PID \(1 or more\); got -1/,
  ),
  REG(
    'a pid past the kernel limit',
    registryWith({ state: 'processing', pid: 1e12 }),
    /field "pid": must be a PID \(at most 4194304\)/,
  ),
  REG('a pid as a string', registryWith({ state: 'processing', pid: '1234' }), /field "pid": .*got "1234"/),
  REG('a negative start time', registryWith({ pidStartTime: -3 }), /field "pidStartTime": must be 0 or more; got -3/),
  REG('a state in capitals', registryWith({ state: 'Completed' }), /field "state": must be one of queued, processing/),
  REG('an id "x; rm -rf /"', registryWith({ id: 'x; rm -rf /' }), /field "id": must be letters, digits/),
  REG('an id "$(touch F)"', registryWith({ id: '$(touch F)' }), /field "id": .*got "\$\(touch F\)"/),
  REG('a session "=w"', registryWith({ session: '=w' }), /field "session": .*got "=w"/),
  REG(
    'a tmux socket "../../etc"',
    registryWith({ tmuxSocket: '../../etc' }),
    /field "tmuxSocket": must be a socket name/,
  ),
  REG('a relative cwd', registryWith({ cwd: 'relative/dir' }), /field "cwd": must be an absolute path/),
  REG('a command as one string', registryWith({ command: 'rm -rf /' }), /field "command": must be a list of strings/),
  REG('an empty command', registryWith({ command: [] }), /field "command": must name a program/),
  REG('negative attempts', registryWith({ attempts: -1 }), /field "attempts": must be 0 or more/),
  REG(
    'a fractional timeoutExtensions',
    registryWith({ timeoutExtensions: 1.5 }),
    /field "timeoutExtensions": must be an integer/,
  ),
  REG('a priority past the limit', registryWith({ priority: 1e7 }), /field "priority"/),
  REG(
    'a history entry to an unknown state',
    registryWith({ history: [{ at: T0, from: 'queued', to: 'exploded', reason: 'x', by: 'y' }] }),
    /field "history\[0\]\.to": must be one of/,
  ),
  REG(
    'an unknown breaker state',
    registryWith({ breaker: { state: 'broken', consecutiveFailures: 0, openedAt: null, opens: 0 } }),
    /field "breaker\.state": must be one of closed, open, half_open/,
  ),
  REG('a 10 MB name', registryWith({ name: HUGE }), /field "name": must be at most 256 characters/),
  REG(
    'a name nested 10,000 lists deep',
    registryWith({ name: 'NESTED' }).replace('"NESTED"', nested(10_000)),
    /project "p1" \(projects\[0\]\) field "name"|field "projects\[0\]": nested more than 64 levels deep/,
  ),
  REG(
    'an orchestrator field nested 10,000 lists deep',
    registryWith({}, { orchestrator: 'NESTED' }).replace('"NESTED"', nested(10_000)),
    /field "orchestrator(\[0\])?": nested more than 64 levels deep/,
  ),
  REG('a NUL in the name', registryWith({ name: 'a\u0000b' }), /field "name": must not contain NUL/),
  REG('a missing enqueuedAt', registryWith({ enqueuedAt: undefined }), /field "enqueuedAt"/),
  REG(
    'projects as an object',
    JSON.stringify({ version: 1, projects: {} }),
    /field "projects": must be a list of projects/,
  ),
  REG(
    'a document that is a list',
    JSON.stringify([]),
    /must be a JSON object with "version" and "projects", got a list/,
  ),
  REG(
    'an intent with an unknown action',
    registryWith(
      {},
      {
        intents: [
          {
            id: 'i1',
            project: 'p1',
            action: 'format_disk',
            pid: null,
            pidStartTime: null,
            session: null,
            tmuxSocket: null,
            then: null,
            at: T0,
            by: 'x',
          },
        ],
      },
    ),
    /field "intents\[0\]\.action"/,
  ),
  REG(
    'a queue breaker paused "yes"',
    registryWith({}, { queue: { paused: 'yes', pausedAt: null, resumeAt: null, opens: 0, trippedBy: [] } }),
    /field "queue\.paused"/,
  ),
];

const HTTP_ROWS: HttpRow[] = [
  HTTP('a 10 MB body', '/api/projects', { id: 'p9', name: HUGE }, 413, null, /larger than the limit of 64 KiB/),
  HTTP(
    'a session "$(touch F)"',
    '/api/projects',
    { id: 'p9', session: '$(touch F)', cwd: '/tmp', command: ['touch', 'F'] },
    400,
    'session',
    /invalid session name/,
  ),
  HTTP(
    'a session "; touch F"',
    '/api/projects',
    { id: 'p9', session: '; touch F', cwd: '/tmp', command: ['touch', 'F'] },
    400,
    'session',
    /invalid session name/,
  ),
  HTTP('a session "=w"', '/api/projects', { id: 'p9', session: '=w' }, 400, 'session', /invalid session name "=w"/),
  HTTP('a session "a:b"', '/api/projects', { id: 'p9', session: 'a:b' }, 400, 'session', /invalid session name "a:b"/),
  HTTP(
    'a tmux socket "../../etc"',
    '/api/projects',
    { id: 'p9', tmuxSocket: '../../etc' },
    400,
    'tmuxSocket',
    /invalid tmux socket/,
  ),
  HTTP(
    'a hugely negative priority',
    '/api/projects',
    { id: 'p9', priority: -5e6 },
    400,
    'priority',
    /-1000000 to 1000000/,
  ),
  HTTP('a billion max attempts', '/api/projects', { id: 'p9', maxAttempts: 1e9 }, 400, 'maxAttempts', /1 to 1000/),
  HTTP(
    'a priority of 1e309 (Infinity)',
    '/api/projects',
    '{"id":"p9","priority":1e309}',
    400,
    'priority',
    /must be an integer/,
  ),
  HTTP(
    'a 5000-character name',
    '/api/projects',
    { id: 'p9', name: 'n'.repeat(5000) },
    400,
    'name',
    /at most 4096 characters/,
  ),
  HTTP(
    'a command with an empty program',
    '/api/projects',
    { id: 'p9', cwd: '/tmp', command: [''] },
    400,
    'command',
    /must name a program/,
  ),
  HTTP('a state in the body', '/api/projects', { id: 'p9', state: 'completed' }, 400, 'state', /unknown field "state"/),
  HTTP(
    'a duplicate key whose last value is "$(touch F)"',
    '/api/projects',
    '{"id":"p9","id":"$(touch F)"}',
    400,
    'id',
    /invalid project id/,
  ),
  HTTP(
    'a __proto__ key',
    '/api/projects',
    '{"__proto__":{"admin":true},"id":"p9"}',
    400,
    '__proto__',
    /unknown field "__proto__"/,
  ),
  HTTP(
    'a name nested 10,000 lists deep',
    '/api/projects',
    `{"id":"p9","name":${nested(10_000)}}`,
    400,
    'name',
    /must be a string/,
  ),
  HTTP('a negative pid', '/api/projects/p1/start', { pid: -1 }, 400, 'pid', /1 to 4194304/),
  HTTP('a pid of ten billion', '/api/projects/p1/start', { pid: 1e10 }, 400, 'pid', /1 to 4194304/),
  HTTP('a fractional pid', '/api/projects/p1/start', { pid: 12.5 }, 400, 'pid', /must be an integer/),
  HTTP('a pid of true', '/api/projects/p1/start', { pid: true }, 400, 'pid', /must be an integer/),
  HTTP(
    'a failure reason "$(touch F)"',
    '/api/projects/p2/fail',
    { reason: '$(touch F)' },
    400,
    'reason',
    /invalid failure reason/,
  ),
  HTTP('an id "$(touch F)" in the path', '/api/projects/%24(touch%20F)/complete', {}, 400, 'id', /invalid project id/),
  HTTP('an id "=w" in the path', '/api/projects/%3Dw/heartbeat', {}, 400, 'id', /invalid project id "=w"/),
  HTTP('an id "a:b" in the path', '/api/projects/a%3Ab/fail', {}, 400, 'id', /invalid project id "a:b"/),
  HTTP(
    'an id "../../etc" in the path',
    '/api/projects/..%2F..%2Fetc/reset',
    {},
    400,
    'id',
    /invalid project id "\.\.\/\.\.\/etc"/,
  ),
  HTTP('an unknown project', '/api/projects/nope/heartbeat', {}, 404, 'nope', /no project with id "nope"/),
];

const ROWS = [...CLI_ROWS, ...HTTP_ROWS];
const INJECTION = /\$\(touch F\)|; touch F/;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  watched: (string | null)[];
}

function sha(path: string): string | null {
  return existsSync(path) ? createHash('sha256').update(readFileSync(path)).digest('hex') : null;
}

/** Every file named F under `dir` (bounded walk). */
function filesNamedF(dir: string, depth = 4): string[] {
  if (depth < 0) return [];
  const found: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  for (const name of names) {
    const path = join(dir, name);
    if (name === 'F') found.push(path);
    try {
      if (statSync(path).isDirectory()) found.push(...filesNamedF(path, depth - 1));
    } catch {
      // vanished
    }
  }
  return found;
}

describe('reliability: bad input, refused and harmless', function () {
  this.timeout(120_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  const cli = new Map<CliRow, CliResult & { before: (string | null)[] }>();
  const http = new Map<
    HttpRow,
    {
      status: number;
      json: { error?: { message?: string; field?: string } } | undefined;
      text: string;
      changed: boolean;
    }
  >();
  let mainBytes: Buffer;
  let startedAt = 0;

  before(async () => {
    startedAt = Date.now();
    q = new TestQueue({ AGENT_API_TOKEN: TOKEN, AGENT_SCAN_SCHEDULE: '0 0 * * * *' });
    const files = join(q.dir.path, 'inputs');
    mkdirSync(files);
    const sleeper = await q.processes.sleeper({ detached: true });
    const projects: Project[] = [
      newProject({ id: 'p1', enqueuedAt: T0 }),
      q.project({ id: 'p2', session: null, ...q.identity(sleeper), heartbeatAt: new Date().toISOString() }),
    ];
    writeFileSync(q.registry, serialise({ ...emptyDocument(), projects }), { mode: 0o600 });

    // The daemon first: the HTTP rows go to it, and it sees the registry the command-line rows must not change.
    agent = await startAgent(q.env, q.dir.path);
    const url = agent.url;
    await eventually(async () => (await readyz(url)).status === 200, 20_000, '/readyz 200');
    mainBytes = readFileSync(q.registry);

    const rows = CLI_ROWS.map((row) => {
      const path = row.file ? join(files, row.file.name) : null;
      if (row.file && path) writeFileSync(path, row.file.content);
      return {
        args: row.args.map((a) => (a === '{file}' && path ? path : a)),
        env: row.env ?? {},
        cwd: q.dir.path,
        watch: [q.registry, ...(path ? [path] : [])],
      };
    });
    const before = rows.map((r) => r.watch.map(sha));
    const rowsPath = join(q.dir.path, 'rows.json');
    const resultsPath = join(q.dir.path, 'results.json');
    writeFileSync(rowsPath, JSON.stringify(rows));
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, [BATCH, rowsPath, resultsPath], {
        cwd: q.dir.path,
        env: cleanEnv(q.env),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.on('error', reject);
      child.on('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`cli-batch exited ${code}: ${err.slice(0, 2000)}`)),
      );
    });
    const results = JSON.parse(readFileSync(resultsPath, 'utf8')) as CliResult[];
    CLI_ROWS.forEach((row, i) => cli.set(row, { ...(results[i] as CliResult), before: before[i] ?? [] }));

    for (const row of HTTP_ROWS) {
      const before = readFileSync(q.registry);
      const res = await fetch(`${url}${row.path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
        body: row.body,
      });
      const text = await res.text();
      let json;
      try {
        json = JSON.parse(text) as { error?: { message?: string; field?: string } };
      } catch {
        json = undefined;
      }
      http.set(row, { status: res.status, json, text, changed: !readFileSync(q.registry).equals(before) });
    }
  });

  after(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q?.destroy();
  });

  it(`has at least 50 rows (${ROWS.length}: ${CLI_ROWS.filter((r) => r.kind === 'argument').length} arguments, ${CLI_ROWS.filter((r) => r.kind === 'config file').length} config files, ${CLI_ROWS.filter((r) => r.kind === 'environment').length} environment values, ${CLI_ROWS.filter((r) => r.kind === 'registry document').length} registry documents, ${HTTP_ROWS.length} HTTP bodies)`, () => {
    expect(ROWS.length).to.be.at.least(50);
  });

  for (const row of CLI_ROWS) {
    it(`${row.kind}: refuses ${row.what} with exit ${row.code}, naming it, and changes nothing`, () => {
      const r = cli.get(row);
      expect(r, 'ran').to.not.equal(undefined);
      if (!r) return;
      expect(r.code, r.stderr).to.equal(row.code);
      expect(r.stderr).to.match(row.message);
      expect(r.stderr, 'no stack trace').to.not.match(/\n\s+at /);
      expect(r.watched, "registry (and the row's own file) bytes unchanged").to.deep.equal(r.before);
    });
  }

  for (const row of HTTP_ROWS) {
    it(`http: refuses ${row.what} with ${row.status}${row.field ? `, naming "${row.field}"` : ''}, and changes nothing`, () => {
      const r = http.get(row);
      expect(r, 'ran').to.not.equal(undefined);
      if (!r) return;
      expect(r.status, r.text.slice(0, 300)).to.equal(row.status);
      const message = r.json?.error?.message ?? '';
      expect(message).to.match(row.message);
      if (row.field)
        expect(
          r.json?.error?.field === row.field || message.includes(row.field),
          `names ${row.field}: ${message}`,
        ).to.equal(true);
      expect(r.text, 'no stack trace').to.not.match(/\n\s+at /);
      expect(r.changed, 'registry bytes unchanged').to.equal(false);
    });
  }

  it('the registry the daemon serves is byte for byte what it was, and the daemon is still ready', async () => {
    expect(readFileSync(q.registry).equals(mainBytes)).to.equal(true);
    expect((await readyz(agent!.url)).status).to.equal(200);
  });

  it(`no file F was created by the ${ROWS.filter((r) => INJECTION.test(JSON.stringify(r))).length} injection rows: no shell anywhere`, () => {
    const places = [q.dir.path, process.cwd(), tmpdir(), homedir(), '/'];
    const found = [
      ...filesNamedF(q.dir.path),
      ...places.map((p) => join(p, 'F')).filter((p) => existsSync(p) && statSync(p).mtimeMs >= startedAt - 1000),
    ];
    expect(found).to.deep.equal([]);
  });
});
