/**
 * A pause an operator writes while a cycle runs (after the cycle read the
 * registry, before it commits) stands: the cycle neither overwrites it with
 * the queue record it planned from, nor retries or launches from a plan made
 * while the queue was running. In process, on a memory registry; the scan is
 * real (a private tmux server).
 */
import { expect } from 'chai';
import { DEFAULT_CONFIG, type AgentConfig } from '../src/config/keys.js';
import { newProject } from '../src/core/model/project.js';
import { pauseQueue } from '../src/core/policy/queue-breaker.js';
import { emptyDocument, type RegistryDocument } from '../src/core/model/registry-document.js';
import { runCycle } from '../src/cycle.js';
import { createLogger } from '../src/log.js';
import { MemoryStore } from './helpers/memory-store.js';
import type { Transaction } from '../src/registry/store.js';
import { PrivateTmux } from './helpers/tmux.js';

/** A memory registry on which an operator pauses the queue just before the first commit lands. */
class PausedDuringTheCycle extends MemoryStore {
  private paused = false;
  constructor(
    initial: RegistryDocument,
    private readonly at: number,
  ) {
    super(initial);
  }
  override async update<T>(mutate: (doc: RegistryDocument, tx: Transaction) => T | Promise<T>): Promise<T> {
    if (!this.paused) {
      this.paused = true;
      await super.update((doc) => {
        doc.queue = pauseQueue(doc.queue, this.at, 'cli@operator', null);
      });
    }
    return super.update(mutate);
  }
}

describe('cycle: a pause written during the cycle', () => {
  const tmux = new PrivateTmux('pause');
  const config: AgentConfig = { ...DEFAULT_CONFIG, tmuxSockets: [tmux.socket] };
  const log = createLogger({ level: 'error' });
  const now = Date.parse('2026-11-26T12:00:00.000Z');
  const ago = (min: number) => new Date(now - min * 60_000).toISOString();

  after(() => tmux.destroy());

  it('stands: no retry, no launch, and the queue record is the operator’s', async () => {
    const doc = emptyDocument();
    doc.projects.push(
      newProject({
        id: 'due',
        state: 'failed',
        attempts: 1,
        enqueuedAt: ago(60),
        endedAt: ago(30),
        nextAttemptAt: ago(1),
        failureReason: 'phantom',
      }),
    );
    doc.projects.push(newProject({ id: 'next', enqueuedAt: ago(60), command: ['sleep', '300'], cwd: '/tmp' }));
    const store = new PausedDuringTheCycle(doc, now);
    const { result } = await runCycle({ store, config, hostId: 'me', log, now: () => now, leader: true });
    expect(result.ok, JSON.stringify(result.errors)).to.equal(true);
    expect(result.transitions).to.deep.equal([]);
    expect(result.actions).to.deep.equal([]);
    const after = await store.load();
    expect(after.queue).to.include({ paused: true, pausedBy: 'cli@operator', resumeAt: null });
    expect(after.projects.map((p) => `${p.id}:${p.state}`)).to.deep.equal(['due:failed', 'next:queued']);
    expect(tmux.sessions()).to.deep.equal([]);
  });
});
