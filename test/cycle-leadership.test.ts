/**
 * One cycle with and without the leader lease (docs/multi-host.md): the
 * queue-wide decisions (retries, the queue breaker) are the leader's alone,
 * and a cycle settles only the intents its own host recorded. In process, on
 * a memory registry; the scan is real (a private tmux server that is not
 * running: zero sessions).
 */
import { expect } from 'chai';
import { DEFAULT_CONFIG, type AgentConfig } from '../src/config/keys.js';
import { newProject } from '../src/core/model/project.js';
import { emptyDocument, type Intent } from '../src/core/model/registry-document.js';
import { runCycle } from '../src/cycle.js';
import { createLogger } from '../src/log.js';
import { MemoryStore } from './helpers/memory-store.js';
import { PrivateTmux } from './helpers/tmux.js';

describe('cycle: leadership and host scoping', () => {
  const tmux = new PrivateTmux('lead');
  const config: AgentConfig = { ...DEFAULT_CONFIG, tmuxSockets: [tmux.socket] };
  const log = createLogger({ level: 'error' });
  const now = Date.parse('2026-11-26T12:00:00.000Z');
  const ago = (min: number) => new Date(now - min * 60_000).toISOString();

  /** A failed project whose retry is due, and a launch intent of each host whose session does not exist. */
  function aRegistry(): MemoryStore {
    const doc = emptyDocument();
    doc.projects.push(
      newProject({
        id: 'due',
        state: 'failed',
        attempts: 1,
        enqueuedAt: ago(60),
        endedAt: ago(30),
        nextAttemptAt: ago(1),
        failureReason: 'zombie',
      }),
    );
    doc.projects.push(
      newProject({ id: 'q-mine', enqueuedAt: ago(60) }),
      newProject({ id: 'q-theirs', enqueuedAt: ago(60) }),
    );
    const intent = (id: string, project: string, by: string): Intent => ({
      id,
      project,
      action: 'launch',
      pid: null,
      pidStartTime: null,
      session: `${project}-s`,
      tmuxSocket: tmux.socket,
      then: { to: 'processing', reason: 'launched' },
      at: ago(2),
      by,
    });
    doc.intents.push(intent('i-mine', 'q-mine', 'agent@me'), intent('i-theirs', 'q-theirs', 'agent@other'));
    return new MemoryStore(doc);
  }

  after(() => tmux.destroy());

  it('a follower leaves retries and the queue to the leader', async () => {
    const store = aRegistry();
    const { result } = await runCycle({ store, config, hostId: 'me', log, now: () => now, leader: false });
    expect(result.ok, JSON.stringify(result.errors)).to.equal(true);
    expect(result.transitions.filter((t) => t.project === 'due')).to.deep.equal([]);
    expect((await store.load()).projects.find((p) => p.id === 'due')?.state).to.equal('failed');
  });

  it('the leader requeues what is due', async () => {
    const store = aRegistry();
    const { result } = await runCycle({ store, config, hostId: 'me', log, now: () => now, leader: true, fence: 7 });
    expect(result.transitions.filter((t) => t.project === 'due').map((t) => t.to)).to.deep.equal(['queued']);
    expect((await store.load()).projects.find((p) => p.id === 'due')?.state).to.equal('queued');
  });

  it("settles its own host's intents and leaves another host's alone", async () => {
    const store = aRegistry();
    await runCycle({ store, config, hostId: 'me', log, now: () => now, leader: false });
    expect((await store.load()).intents.map((i) => i.id)).to.deep.equal(['i-theirs']);
  });
});
