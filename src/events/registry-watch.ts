/**
 * Registry changes through inotify (fs.watch on the registry's directory, so
 * a write by rename is seen). The agent's own writes are recognised by the
 * file identity the store last committed and do not trigger a cycle.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { EventSource, Trigger } from './event-source.js';

export interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

export class RegistryWatch implements EventSource {
  readonly name = 'registry_watch';
  private watcher: FSWatcher | null = null;
  private error: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly path: string,
    private readonly trigger: Trigger,
    /** The identity of the file as this agent last wrote it; such a file is no news. */
    private readonly ownWrite: () => FileIdentity | null,
    private readonly debounceMs = 50,
  ) {}

  async start(): Promise<void> {
    const file = basename(this.path);
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        if (name !== null && name.toString() !== file) return;
        // Coalesce bursts (rename + change) into one look.
        if (this.timer) return;
        this.timer = setTimeout(() => {
          this.timer = null;
          void this.check();
        }, this.debounceMs);
      });
      this.watcher.on('error', (err) => {
        this.error = err.message;
        this.watcher?.close();
        this.watcher = null;
      });
      this.error = null;
    } catch (err) {
      this.error = err instanceof Error ? err.message : String(err);
    }
  }

  private async check(): Promise<void> {
    const own = this.ownWrite();
    const now = await stat(this.path).catch(() => null);
    if (own && now && now.ino === own.ino && now.size === own.size && now.mtimeMs === own.mtimeMs) return;
    this.trigger('registry changed');
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }

  health(): { up: boolean; detail: string } {
    if (this.watcher) return { up: true, detail: `watching ${this.path}` };
    return { up: false, detail: this.error ? `cannot watch ${this.path}: ${this.error}` : 'not started' };
  }
}
