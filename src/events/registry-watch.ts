/**
 * Registry changes through inotify (fs.watch on the registry's directory, so
 * a write by rename is seen). The agent's own writes are recognised by the
 * file identity the store last committed and do not trigger a cycle.
 *
 * An inotify watch follows the directory's inode: once the directory is
 * removed or renamed away, it reports that once ("rename" of the directory's
 * own name) and then nothing, even when a directory of the same name comes
 * back. So that event makes the watch start over on the path — at once, or
 * every `rearmMs` until the directory exists again — and trigger a cycle,
 * since the registry may have changed meanwhile. (Comparing inodes cannot
 * tell: a new directory often gets the inode number the removed one freed.)
 *
 * The store's own write is told by the identity it reports once its commit
 * has finished (`ownWrite` may wait for a commit in flight): compared earlier,
 * a rename seen before the store had recorded it looked like another writer's.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { messageOf } from '../errors.js';
import type { EventSource, Trigger } from './event-source.js';

export interface FileIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

/** Inode of `path`, or null when it is not there. */
async function inodeOf(path: string): Promise<number | null> {
  return (await stat(path).catch(() => null))?.ino ?? null;
}

export class RegistryWatch implements EventSource {
  readonly name = 'registry_watch';
  private watcher: FSWatcher | null = null;
  private error: string | null = null;
  private timer: NodeJS.Timeout | null = null;
  private rearm: NodeJS.Timeout | null = null;
  private arming: Promise<boolean> | null = null;
  private stopped = true;
  private readonly dir: string;
  private readonly file: string;

  constructor(
    private readonly path: string,
    private readonly trigger: Trigger,
    /** The identity of the file as this agent last wrote it (after a commit in flight); such a file is no news. */
    private readonly ownWrite: () => FileIdentity | null | Promise<FileIdentity | null>,
    private readonly debounceMs = 50,
    /** How often a watch whose directory is missing looks for it again. */
    private readonly rearmMs = 1000,
  ) {
    this.dir = dirname(path);
    this.file = basename(path);
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.arm();
  }

  /** Watch the directory as it is now; true once watching. One at a time: two watchers would both report. */
  private arm(): Promise<boolean> {
    this.arming ??= this.armNow().finally(() => {
      this.arming = null;
    });
    return this.arming;
  }

  private async armNow(): Promise<boolean> {
    this.close();
    try {
      // The same inode before and after: the watch is on the directory the inode names.
      const before = await inodeOf(this.dir);
      if (before === null) throw new Error(`directory ${this.dir} does not exist`);
      const watcher = watch(this.dir, { persistent: false }, (_event, name) => this.onEvent(name?.toString() ?? null));
      watcher.on('error', (err) => {
        this.error = err.message;
        this.close();
        this.scheduleRearm();
      });
      this.watcher = watcher;
      if ((await inodeOf(this.dir)) !== before) throw new Error(`directory ${this.dir} was replaced while watching it`);
      this.error = null;
      return true;
    } catch (err) {
      this.close();
      this.error = messageOf(err);
      this.scheduleRearm();
      return false;
    }
  }

  private onEvent(name: string | null): void {
    if (this.stopped) return;
    if (name === this.file) {
      // Coalesce bursts (rename + change) into one look.
      if (this.timer) return;
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.check();
      }, this.debounceMs);
      return;
    }
    // The directory itself moved or went away (inotify names it), or no name at all: watch the path anew.
    if (name === null || name === basename(this.dir)) void this.rewatch();
  }

  private async rewatch(): Promise<void> {
    if (!this.stopped && (await this.arm())) this.trigger('registry directory re-created');
  }

  private scheduleRearm(): void {
    if (this.stopped || this.rearm) return;
    this.rearm = setTimeout(() => {
      this.rearm = null;
      void this.rewatch();
    }, this.rearmMs);
    this.rearm.unref();
  }

  private async check(): Promise<void> {
    const own = await this.ownWrite();
    const now = await stat(this.path).catch(() => null);
    if (this.stopped) return;
    if (own && now && now.ino === own.ino && now.size === own.size && now.mtimeMs === own.mtimeMs) return;
    this.trigger('registry changed');
  }

  private close(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.rearm) clearTimeout(this.rearm);
    this.rearm = null;
    this.close();
  }

  health(): { up: boolean; detail: string } {
    if (this.watcher) return { up: true, detail: `watching ${this.path}` };
    if (this.stopped) return { up: false, detail: 'not started' };
    return { up: false, detail: `cannot watch ${this.path}: ${this.error ?? 'unknown error'}` };
  }
}
