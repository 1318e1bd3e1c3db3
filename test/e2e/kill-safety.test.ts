/**
 * What the agent never kills, end to end with the built CLI and real
 * processes: a finished project's defunct (unreaped) PID is reported once per
 * cycle and never "killed" again, and a kill the executor would refuse shows
 * in the dry-run plan as held back with its reason, never as a kill.
 */
import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { statOrNull, statStartTime, waitUntil } from '../helpers/processes.js';
import { SEC, TestQueue } from '../helpers/queue.js';

/** The state letter and parent of /proc/<pid>/stat, or null when the process is gone. */
function stat(pid: number): { state: string; ppid: number } | null {
  return statOrNull(pid);
}

/** The children of `parent` in /proc right now. */
function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => stat(pid)?.ppid === parent);
}

describe('e2e: what the agent never kills', function () {
  this.timeout(60_000);
  let q: TestQueue;
  beforeEach(() => {
    q = new TestQueue();
  });
  afterEach(async () => {
    await q.destroy();
  });

  it("a finished project's defunct pid is reported as defunct_process each cycle and never planned as a kill", async () => {
    // sh forks a subshell (running the builtin `true`), then becomes `sleep`, which never waits: the subshell stays defunct (Z).
    const parent = q.processes.spawn('sh', ['-c', 'true & exec sleep 120'], { detached: true, stdio: 'ignore' })
      .pid as number;
    let defunct = 0;
    await waitUntil(
      () => {
        defunct = childrenOf(parent).find((pid) => stat(pid)?.state === 'Z') ?? 0;
        return defunct > 0 && readFileSync(`/proc/${parent}/comm`, 'utf8').trim() === 'sleep';
      },
      10_000,
      'an unreaped child under the sleeping parent',
    );
    const ended = new Date(Date.now() - 3600 * SEC).toISOString();
    q.write([
      q.project(
        {
          id: 'done',
          state: 'completed',
          endedAt: ended,
          session: null,
          pid: defunct,
          pidStartTime: statStartTime(defunct),
        },
        7200,
      ),
      q.project(
        {
          id: 'lost',
          state: 'failed',
          endedAt: ended,
          session: null,
          pid: defunct,
          pidStartTime: statStartTime(defunct) + 1,
        },
        7200,
      ),
    ]);

    for (const cycle of [1, 2]) {
      const { code, result } = await q.heal();
      expect(code, `cycle ${cycle}: ${JSON.stringify(result)}`).to.equal(0);
      expect(result.actions, `cycle ${cycle}`).to.deep.equal([]);
      expect(result.blocked, `cycle ${cycle}`).to.deep.equal([]);
      expect(
        result.detections.map((d) => [d.kind, d.project]),
        `cycle ${cycle}`,
      ).to.deep.equal([['defunct_process', 'done']]);
      expect(result.detections[0]?.reason).to.match(
        new RegExp(`pid ${defunct} \\(sh\\) of completed project done is defunct .* never reaped it`),
      );
    }
    expect(q.audit().filter((a) => a['type'] === 'action')).to.deep.equal([]);
    expect(stat(defunct)?.state, 'still there, unreaped').to.equal('Z');
  });

  it('a kill the executor must refuse (pid 1) is shown by the dry run as held back with its reason, and never tried', async () => {
    // A zombie record pointing at init with its real start time: reconcile plans a kill, the executor refuses pid 1.
    q.write([q.project({ id: 'init', state: 'zombie', session: 'gone', pid: 1, pidStartTime: statStartTime(1) })]);
    const before = q.bytes();
    const plan = await q.heal({}, ['--dry-run']);
    expect(plan.result.actions, 'no kill in the plan').to.deep.equal([]);
    expect(plan.result.blocked).to.deep.equal([
      {
        project: 'init',
        action: 'kill_tree',
        reason: 'protected_pid',
        detail: 'refusing to signal pid 1 (init, the agent or its parent)',
      },
    ]);
    expect(plan.code).to.equal(1);
    expect(q.bytes(), 'a dry run changes nothing').to.equal(before);

    const real = await q.heal();
    expect(real.result.actions).to.deep.equal([]);
    expect(real.result.blocked.map((b) => [b.project, b.action, b.reason])).to.deep.equal([
      ['init', 'kill_tree', 'protected_pid'],
    ]);
    expect(q.get('init').state, 'not failed: nothing was killed').to.equal('zombie');
    expect(q.read().intents, 'no intent recorded for a held kill').to.deep.equal([]);
    const text = await q.agent(['heal', '--once', '--dry-run']);
    expect(text.stdout).to.match(
      /held back by the guard:[\s\S]*init\s+kill_tree\s+protected_pid\s+refusing to signal pid 1/,
    );
    expect(text.stdout).to.not.match(/^actions:/m);
  });
});
