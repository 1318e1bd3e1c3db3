import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_STATES } from '../../src/core/model/project.js';
import { runCli, tempDir } from '../helpers/cli.js';

/** Field names every written project carries (the example in docs/design.md#the-document has them all). */
const SCHEMA_FIELDS = [
  'id',
  'name',
  'state',
  'priority',
  'host',
  'session',
  'tmuxSocket',
  'pid',
  'pidStartTime',
  'command',
  'cwd',
  'projectDir',
  'enqueuedAt',
  'startedAt',
  'heartbeatAt',
  'endedAt',
  'timeoutExtensions',
  'timingOutSince',
  'lastSeenAliveAt',
  'attempts',
  'maxAttempts',
  'nextAttemptAt',
  'breaker',
  'phases',
  'failureReason',
  'completion',
  'history',
];

describe('cli: the orchestrator-facing commands', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());
  // The default registry: $XDG_STATE_HOME/tmux-orchestrator-agent/registry.json.
  const agent = (...args: string[]) =>
    runCli(args, { cwd: dir.path, env: { XDG_STATE_HOME: join(dir.path, 'state') } });
  const registryDir = () => join(dir.path, 'state', 'tmux-orchestrator-agent');

  it('enqueue then status --json shows the project queued, and the file matches the schema', async () => {
    const enq = await agent('enqueue', '--id', 'p1', '--', 'sleep', '100');
    expect(enq.code, enq.stderr).to.equal(0);
    const status = await agent('status', '--json');
    expect(status.code, status.stderr).to.equal(0);
    const doc = JSON.parse(status.stdout);
    expect(doc.projects).to.have.length(1);
    expect(doc.projects[0]).to.include({ id: 'p1', state: 'queued', attempts: 0, breaker: 'closed' });
    expect(doc.queue.counts).to.deep.equal(Object.fromEntries(PROJECT_STATES.map((s) => [s, s === 'queued' ? 1 : 0])));

    const file = JSON.parse(readFileSync(join(registryDir(), 'registry.json'), 'utf8'));
    expect(file.version).to.equal(1);
    const project = file.projects[0];
    expect(Object.keys(project)).to.include.members(SCHEMA_FIELDS);
    expect(project).to.include({ id: 'p1', state: 'queued', cwd: dir.path, projectDir: dir.path });
    expect(project.command).to.deep.equal(['sleep', '100']);
    expect(project.enqueuedAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(project.breaker).to.deep.equal({ state: 'closed', consecutiveFailures: 0, openedAt: null, opens: 0 });
  });

  it('--json prints exactly one JSON document on stdout, logs stay off stdout', async () => {
    await agent('enqueue', '--id', 'p1');
    const result = await agent('status', '--json', '--log-level', 'debug');
    expect(() => JSON.parse(result.stdout)).not.to.throw();
  });

  it('walks a project through start, heartbeat and complete', async () => {
    await agent('enqueue', '--id', 'p1');
    const started = await agent('start', 'p1', '--pid', String(process.pid), '--session', 'w-1', '--json');
    expect(started.code, started.stderr).to.equal(0);
    const project = JSON.parse(started.stdout);
    expect(project).to.include({ state: 'processing', pid: process.pid, session: 'w-1', attempts: 1 });
    expect(project.pidStartTime).to.be.a('number');
    expect((await agent('heartbeat', 'p1')).code).to.equal(0);
    const done = await agent('complete', 'p1', '--json');
    expect(JSON.parse(done.stdout)).to.include({ state: 'completed' });
    const audit = readFileSync(join(registryDir(), 'audit.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(audit.map((a) => a.to)).to.deep.equal(['queued', 'processing', 'completed']);
  });

  it('fail --no-retry records the reason and disables retries', async () => {
    await agent('enqueue', '--id', 'p1');
    await agent('start', 'p1', '--pid', String(process.pid));
    const failed = await agent('fail', 'p1', '--reason', 'tests red', '--no-retry', '--json');
    expect(failed.code, failed.stderr).to.equal(0);
    expect(JSON.parse(failed.stdout)).to.include({
      state: 'failed',
      failureReason: 'tests red',
      retry: false,
      nextAttemptAt: null,
    });
  });

  it('reset puts a failed project back to queued with attempts and breaker reset', async () => {
    await agent('enqueue', '--id', 'p1');
    await agent('start', 'p1', '--pid', String(process.pid));
    await agent('fail', 'p1');
    const reset = await agent('reset', 'p1', '--json');
    expect(reset.code, reset.stderr).to.equal(0);
    expect(JSON.parse(reset.stdout)).to.include({ state: 'queued', attempts: 0 });
  });

  it('reset refuses a completed project without --force (exit 1) and re-runs it with --force', async () => {
    await agent('enqueue', '--id', 'p1');
    await agent('start', 'p1', '--pid', String(process.pid));
    await agent('complete', 'p1');
    const refused = await agent('reset', 'p1');
    expect(refused.code).to.equal(1);
    expect(refused.stderr).to.contain('--force');
    expect((await agent('reset', 'p1', '--force')).code).to.equal(0);
  });

  it('an illegal move exits 1 naming from and to', async () => {
    await agent('enqueue', '--id', 'p1');
    const result = await agent('complete', 'p1');
    expect(result.code).to.equal(1);
    expect(result.stderr).to.contain('cannot move from queued to completed');
  });

  const BAD_INPUT: [string, string[], RegExp][] = [
    ['an id with a shell metacharacter', ['enqueue', '--id', 'x; rm -rf /'], /invalid project id/],
    ['an id with a command substitution', ['enqueue', '--id', '$(touch F)'], /invalid project id/],
    ['a path-like id', ['enqueue', '--id', '../../etc'], /invalid project id/],
    ['a session with a colon', ['enqueue', '--id', 'p9', '--session', 'a:b'], /invalid session name/],
    ['a session with a leading =', ['enqueue', '--id', 'p9', '--session', '=w'], /invalid session name/],
    ['a relative cwd', ['enqueue', '--id', 'p9', '--cwd', 'rel/dir', '--', 'true'], /must be an absolute path/],
    ['a non-numeric priority', ['enqueue', '--id', 'p9', '--priority', 'high'], /invalid priority/],
    ['a negative pid', ['start', 'p1', '--pid', '-5'], /invalid pid/],
    ['a huge pid', ['start', 'p1', '--pid', '99999999999'], /invalid pid/],
    ['a pid that is not running', ['start', 'p1', '--pid', '4194304'], /no such process/],
    ['an unknown project', ['heartbeat', 'nope'], /no project with id "nope"/],
    ['an unknown command', ['frobnicate'], /unknown command/],
    ['a missing argument', ['heartbeat'], /missing required argument/],
    ['a missing required option', ['start', 'p1'], /required option '--pid <pid>' not specified/],
    ['an unknown option', ['status', '--colour'], /unknown option/],
    ['a bad --set', ['status', '--set', 'nonsense'], /expected key=value/],
    ['an unknown --set key', ['status', '--set', 'maxConcurent=2'], /unknown config key "maxConcurent"/],
    ['a missing config file', ['--config', '/nonexistent/agent.yaml', 'status'], /cannot read config file/],
    ['a failure reason with control characters', ['fail', 'p1', '--reason', 'bad\nreason'], /invalid failure reason/],
  ];
  for (const [what, args, message] of BAD_INPUT) {
    it(`refuses ${what} with exit 2 and leaves the registry bytes unchanged`, async () => {
      await agent('enqueue', '--id', 'p1');
      const path = join(registryDir(), 'registry.json');
      const before = readFileSync(path, 'utf8');
      const result = await agent(...args);
      expect(result.code, result.stderr).to.equal(2);
      expect(result.stderr).to.match(message);
      expect(readFileSync(path, 'utf8')).to.equal(before);
      expect(result.stdout).to.equal('');
    });
  }

  it('--help lists the commands and exits 0; --version prints the version', async () => {
    const help = await agent('--help');
    expect(help.code).to.equal(0);
    for (const command of ['enqueue', 'start', 'heartbeat', 'complete', 'fail', 'status', 'reset', 'registry'])
      expect(help.stdout).to.contain(command);
    const version = await agent('--version');
    expect(version.stdout.trim()).to.equal(
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    );
  });
});
