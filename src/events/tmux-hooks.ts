/**
 * Session and pane deaths on each scanned tmux server, through tmux hooks
 * that signal a wait-for channel — no shell involved: the hook runs the tmux
 * command `wait-for -S <channel>`, and the agent keeps one `tmux wait-for
 * <channel>` client per server, which returns on the signal. tmux keeps a
 * signal that arrives while nobody waits, yet on a busy machine an event
 * around the time a waiter starts (a session killed while the hooks were
 * being installed) went unnoticed until the next poll, an hour later with a
 * long schedule. So each time a waiter starts, a catch-up cycle follows once
 * it has had time to connect (CATCH_UP_MS); it joins the cycle already
 * running or queued, if any. The hooks sit at a fixed array index derived
 * from the channel, so a restarted agent replaces its own hooks instead of
 * piling up new ones, and the user's hooks are never touched. Removed on stop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describeSocket, runTmux, socketArgs, type RunTmuxOptions } from '../scan/tmux-command.js';
import type { EventSource, Trigger } from './event-source.js';

/** Hooks that mean "a session or pane went away". */
export const HOOKS = ['session-closed', 'pane-exited', 'pane-died', 'window-unlinked'] as const;

/** How long after a waiter starts its catch-up cycle runs: a tmux client connects in a few milliseconds. */
export const CATCH_UP_MS = 500;

export function channelFor(identity: string): { channel: string; index: number } {
  const digest = createHash('sha256').update(identity).digest();
  return { channel: `toa-${digest.toString('hex').slice(0, 12)}`, index: 9000 + (digest.readUInt16BE(0) % 900) };
}

interface Waiter {
  socket: string | null;
  child: ChildProcess | null;
  hooked: boolean;
  error: string | null;
  restart: NodeJS.Timeout | null;
  catchUp: NodeJS.Timeout | null;
}

export class TmuxHooks implements EventSource {
  readonly name = 'tmux_hooks';
  private readonly waiters = new Map<string, Waiter>();
  private stopped = false;
  readonly channel: string;
  readonly index: number;

  constructor(
    identity: string,
    private readonly trigger: Trigger,
    private readonly tmux: RunTmuxOptions,
  ) {
    ({ channel: this.channel, index: this.index } = channelFor(identity));
  }

  private key(socket: string | null): string {
    return socket ?? '';
  }

  /** Watch exactly these servers (called each cycle with the servers it scanned). */
  async sync(sockets: readonly (string | null)[]): Promise<void> {
    if (this.stopped) return;
    const wanted = new Set(sockets.map((s) => this.key(s)));
    for (const [key, w] of this.waiters) {
      if (!wanted.has(key)) {
        await this.unhook(w);
        this.dispose(w);
        this.waiters.delete(key);
      }
    }
    for (const socket of sockets) {
      const key = this.key(socket);
      let w = this.waiters.get(key);
      if (!w) {
        w = { socket, child: null, hooked: false, error: null, restart: null, catchUp: null };
        this.waiters.set(key, w);
      }
      if (!w.hooked) await this.hook(w);
      if (w.hooked && !w.child && !w.restart) this.wait(w);
    }
  }

  private async hook(w: Waiter): Promise<void> {
    try {
      for (const hook of HOOKS) {
        await runTmux(w.socket, ['set-hook', '-g', `${hook}[${this.index}]`, `wait-for -S ${this.channel}`], this.tmux);
      }
      w.hooked = true;
      w.error = null;
    } catch (err) {
      w.hooked = false;
      // No server yet: nothing to hook; the next cycle tries again once a session exists.
      w.error = err instanceof Error ? err.message : String(err);
    }
  }

  private async unhook(w: Waiter): Promise<void> {
    if (!w.hooked) return;
    for (const hook of HOOKS) {
      await runTmux(w.socket, ['set-hook', '-gu', `${hook}[${this.index}]`], this.tmux).catch(() => undefined);
    }
    w.hooked = false;
  }

  private wait(w: Waiter): void {
    const child = spawn(this.tmux.tmuxPath ?? 'tmux', [...socketArgs(w.socket), 'wait-for', this.channel], {
      stdio: 'ignore',
      env: { ...process.env, LC_ALL: 'C' },
    });
    w.child = child;
    if (w.catchUp) clearTimeout(w.catchUp);
    w.catchUp = setTimeout(() => {
      w.catchUp = null;
      if (!this.stopped) this.trigger(`catch-up after watching tmux server ${describeSocket(w.socket)} again`);
    }, CATCH_UP_MS);
    w.catchUp.unref();
    child.on('error', (err) => {
      w.error = err.message;
    });
    child.on('exit', (code) => {
      w.child = null;
      if (this.stopped) return;
      if (code === 0) {
        this.trigger(`tmux event on ${describeSocket(w.socket)}`);
        this.wait(w);
        return;
      }
      // The server went away (its last session closed) or tmux failed: that is news too.
      this.trigger(`tmux server ${describeSocket(w.socket)} gone or unreachable`);
      w.hooked = false;
      w.error = `wait-for exited with ${code}`;
      w.restart = setTimeout(() => {
        w.restart = null;
        void this.sync([...this.waiters.values()].map((x) => x.socket));
      }, 1000);
      w.restart.unref();
    });
  }

  private dispose(w: Waiter): void {
    if (w.restart) clearTimeout(w.restart);
    w.restart = null;
    if (w.catchUp) clearTimeout(w.catchUp);
    w.catchUp = null;
    w.child?.kill('SIGKILL');
    w.child = null;
  }

  async start(): Promise<void> {
    this.stopped = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiters.values()) {
      this.dispose(w);
      await this.unhook(w);
    }
    this.waiters.clear();
  }

  health(): { up: boolean; detail: string } {
    const all = [...this.waiters.values()];
    if (all.length === 0) return { up: true, detail: 'no tmux server to watch yet' };
    const hooked = all.filter((w) => w.hooked && w.child);
    const down = all.filter((w) => !(w.hooked && w.child));
    // A server that is not running has nothing to hook; that is not a failure of the source.
    const failing = down.filter((w) => w.error !== null && !/no server running|error connecting/.test(w.error));
    const detail = [
      hooked.length > 0 ? `hooked: ${hooked.map((w) => describeSocket(w.socket)).join(', ')}` : '',
      down.length > 0
        ? `not hooked: ${down.map((w) => `${describeSocket(w.socket)}${w.error ? ` (${w.error})` : ''}`).join(', ')}`
        : '',
    ]
      .filter(Boolean)
      .join('; ');
    return { up: failing.length === 0, detail };
  }
}
