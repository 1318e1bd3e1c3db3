/**
 * Registry changes of a Redis registry: every commit announces itself on the
 * registry's change channel; a commit by another client (a CLI, the API of
 * another agent, another agent's cycle) triggers a cycle. This agent's own
 * commits are recognised by the writer id and trigger nothing.
 */
import type { ChangeWatch } from '../registry/redis/changes.js';
import type { RedisStore } from '../registry/redis-store.js';
import type { EventSource, Trigger } from './event-source.js';

export class RedisWatch implements EventSource {
  readonly name = 'registry_watch';
  private watch: ChangeWatch | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: RedisStore,
    private readonly trigger: Trigger,
    private readonly debounceMs = 50,
  ) {}

  async start(): Promise<void> {
    this.watch = await this.store.watchChanges(() => {
      // Coalesce a burst of commits into one look.
      if (this.timer) return;
      this.timer = setTimeout(() => {
        this.timer = null;
        this.trigger('registry changed');
      }, this.debounceMs);
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.watch?.stop();
    this.watch = null;
  }

  health(): { up: boolean; detail: string } {
    return this.watch?.health() ?? { up: false, detail: 'not started' };
  }
}
