/**
 * What `agent status` (and other commands) print for people, through the real
 * CLI: a held retry says why it waits instead of showing a time in the past,
 * no "in 4s" next to an open breaker, SINCE restarts at a reset, and counts
 * agree with their nouns ("1 project").
 */
import { expect } from 'chai';
import { newProject } from '../../src/core/model/project.js';
import { waitUntil } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

/** The cells of one project's row in `agent status`, by column header. */
function row(text: string, id: string): Record<string, string> {
  const lines = text.split('\n');
  const header = lines.find((l) => l.startsWith('ID '));
  const line = lines.find((l) => l.startsWith(`${id} `));
  if (!header || !line) throw new Error(`no row for ${id} in:\n${text}`);
  const names = [...header.matchAll(/\S+( \S+)?/g)].map((m) => ({ name: m[0], at: m.index }));
  const cells: Record<string, string> = {};
  names.forEach((n, i) => (cells[n.name] = line.slice(n.at, names[i + 1]?.at ?? line.length).trim()));
  return cells;
}

describe('cli: status and counts as people read them', function () {
  this.timeout(60_000);
  let q: TestQueue;
  beforeEach(() => {
    q = new TestQueue({ AGENT_RETRY_MAX_ATTEMPTS: '5', AGENT_RETRY_BASE_SEC: '1', AGENT_RETRY_MAX_DELAY_SEC: '1' });
    q.write([]);
  });
  afterEach(async () => {
    await q.destroy();
  });

  async function ok(args: string[]): Promise<string> {
    const r = await q.agent(args);
    expect(r.code, `agent ${args.join(' ')}: ${r.stdout}${r.stderr}`).to.equal(0);
    return r.stdout;
  }

  /** An orchestrator's attempt: start with a live PID, then report the failure. */
  async function failedAttempt(id: string): Promise<void> {
    const pid = await q.processes.sleeper({ detached: true });
    await ok(['start', id, '--pid', String(pid)]);
    await ok(['fail', id]);
  }

  it('a retry held by an open breaker says so, never "ago" nor "in 1s"', async () => {
    await ok(['enqueue', '--id', 'flaky']);
    for (let attempt = 1; attempt <= 3; attempt++) {
      if (attempt > 1) {
        // Requeued by a cycle once its backoff (at most 1 s) has passed.
        await waitUntil(() => Date.now() > Date.parse(q.get('flaky').nextAttemptAt as string), 15_000, 'the backoff');
        await ok(['heal', '--once']);
        expect(q.get('flaky').state).to.equal('queued');
      }
      await failedAttempt('flaky');
    }
    expect(q.get('flaky').breaker.state).to.equal('open');
    const cells = row(await ok(['status']), 'flaky');
    expect(cells['NEXT ATTEMPT']).to.equal('held: breaker open');
    expect(cells['BREAKER']).to.match(/^open \(half-open in (29m \d+s|30m 0s)\)$/);
    await waitUntil(
      () => Date.now() > Date.parse(q.get('flaky').nextAttemptAt as string) + 1000,
      15_000,
      'the backoff to pass',
    );
    expect(row(await ok(['status']), 'flaky')['NEXT ATTEMPT'], 'still held once the backoff has passed').to.equal(
      'held: breaker open',
    );
    const json = JSON.parse(await ok(['status', '--json'])) as {
      projects: { id: string; nextAttempt: { status: string; reason: string } }[];
    };
    expect(json.projects[0]?.nextAttempt).to.deep.include({ status: 'held', reason: 'breaker open' });
  });

  it('a project out of attempts says it will never be retried, and a paused queue holds the rest', async () => {
    q.env = { ...q.env, AGENT_RETRY_MAX_ATTEMPTS: '1' };
    await ok(['enqueue', '--id', 'done-trying']);
    await failedAttempt('done-trying');
    await ok(['enqueue', '--id', 'waiting', '--cwd', q.dir.path, '--', 'sleep', '30']);
    let text = await ok(['status']);
    expect(row(text, 'done-trying')['NEXT ATTEMPT']).to.equal('never: attempts exhausted (1 of 1)');
    expect(row(text, 'waiting')['NEXT ATTEMPT']).to.equal('next free slot');
    await ok(['queue', 'pause']);
    text = await ok(['status']);
    expect(row(text, 'waiting')['NEXT ATTEMPT']).to.equal('held: queue paused');
  });

  it('SINCE after a reset is the time of the reset, not of the attempt before it', async () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    q.write([
      newProject({
        id: 'old',
        state: 'failed',
        enqueuedAt: hourAgo,
        startedAt: hourAgo,
        endedAt: hourAgo,
        attempts: 1,
        failureReason: 'phantom',
        history: [{ at: hourAgo, from: 'processing', to: 'failed', reason: 'phantom', by: 'agent@test-host' }],
      }),
    ]);
    expect(row(await ok(['status']), 'old')['SINCE']).to.match(/^(59m \d+s|1h 0m) ago$/);
    await ok(['reset', 'old']);
    const since = row(await ok(['status']), 'old')['SINCE'];
    expect(since).to.match(/^\d+s ago$/);
    expect(Number(/^(\d+)s/.exec(since ?? '')?.[1])).to.be.below(30);
    const json = JSON.parse(await ok(['status', '--json'])) as { projects: { id: string; since: string }[] };
    expect(json.projects[0]?.since).to.equal(q.get('old').history.at(-1)?.at);
  });

  it('says "1 project" and "1 process", not "1 projects"', async () => {
    await ok(['enqueue', '--id', 'only']);
    expect(await ok(['registry', 'check'])).to.match(/is valid: 1 project$/m);
    const diagnostics = await q.agent(['diagnostics']);
    expect(diagnostics.stdout).to.match(/\(1 project[,)]/);
    expect(diagnostics.stdout).to.not.match(/\b1 (projects|processes|session\(s\))\b/);
    const pid = await q.processes.sleeper({ detached: true });
    await ok(['start', 'only', '--pid', String(pid)]);
    const reset = await ok(['reset', 'only', '--force']);
    expect(reset).to.contain('killed a tree of 1 process');
    expect(reset).to.not.contain('1 processes');
  });
});
