/**
 * One Redis connection of a store: lazy, short timeouts, no offline queue,
 * endless background reconnects. With Redis down every call fails within
 * `timeoutMs` with a RegistryUnreadableError naming the URL (never its
 * credentials), and works again as soon as Redis is back, without a restart.
 */
import { createRequire } from 'node:module';
import type { Redis, RedisOptions } from 'ioredis';
import { AgentError, RegistryUnreadableError, messageOf } from '../../errors.js';
import { luaScript, type ScriptName } from './scripts.js';

/** The URL without user name or password, for messages and metrics. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

/** A reconnect delay that grows to a second, until `closed()` says stop. */
export function reconnectEvery(closed: () => boolean): (times: number) => number | null {
  return (times) => (closed() ? null : Math.min(100 * times, 1000));
}

export class RedisConnection {
  /** The URL without credentials. */
  readonly location: string;
  private readonly redis: Redis;
  private connecting: Promise<void> | null = null;
  private lastError: string | null = null;
  private closed = false;

  constructor(
    url: string,
    readonly timeoutMs: number,
  ) {
    this.location = redactUrl(url);
    // ioredis is loaded on first use: a daemon on a JSON registry never needs it (~9 MB of RSS).
    const { Redis: RedisClient } = createRequire(import.meta.url)('ioredis') as typeof import('ioredis');
    this.redis = new RedisClient(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      commandTimeout: timeoutMs,
      // A socket still open after disconnect() is destroyed this soon (the driver's 2 s would hold a CLI command).
      disconnectTimeout: 200,
      // Reconnect in the background until closed: an outage heals without a restart.
      retryStrategy: reconnectEvery(() => this.closed),
    });
    this.redis.on('error', (err: unknown) => {
      this.lastError = messageOf(err);
    });
  }

  /** A driver error as the registry error it means. */
  unreachable(err: unknown): AgentError {
    if (err instanceof AgentError) return err;
    // While disconnected the driver only says its stream is not writeable: the connection's own error says why.
    if (this.redis.status !== 'ready') {
      const why = this.lastError ? `${this.lastError} (reconnecting in the background)` : messageOf(err);
      return new RegistryUnreadableError(`registry ${this.location} is unreachable: ${why}`);
    }
    // Connected: a timeout (Redis stalled) or an error reply (e.g. a key of the wrong type).
    return new RegistryUnreadableError(`registry ${this.location} cannot be read or written: ${messageOf(err)}`);
  }

  /** A connected client; the first call connects. Commands fail fast while Redis is away. */
  private async client(): Promise<Redis> {
    if (this.closed) throw new RegistryUnreadableError(`registry ${this.location}: the connection was closed`);
    if (this.redis.status === 'wait' || this.redis.status === 'end') {
      this.connecting ??= this.redis.connect().finally(() => {
        this.connecting = null;
      });
      await this.connecting;
    } else if (this.connecting) await this.connecting;
    return this.redis;
  }

  /** Run `fn` with a client; driver errors become RegistryUnreadableError naming the URL. */
  async call<T>(fn: (r: Redis) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.client());
    } catch (err) {
      throw this.unreachable(err);
    }
  }

  /** Run a Lua script by name (by its SHA, loading it when the server does not know it yet); `args` travel as JSON. */
  run(name: ScriptName, keys: readonly string[], args: Record<string, unknown>): Promise<unknown> {
    const script = luaScript(name);
    if (keys.length !== script.keys)
      throw new Error(`the Lua script ${name} takes ${script.keys} keys, not ${keys.length}`);
    const json = JSON.stringify(args);
    return this.call(async (r) => {
      try {
        return await r.evalsha(script.sha, keys.length, ...keys, json);
      } catch (err) {
        if (!messageOf(err).startsWith('NOSCRIPT')) throw err;
        return r.eval(script.source, keys.length, ...keys, json);
      }
    });
  }

  /** A second connection to the same server (a subscriber), with its own options. */
  duplicate(options: RedisOptions): Redis {
    return this.redis.duplicate(options);
  }

  /** Quit (a CLI command exits promptly); the connection cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const r = this.redis;
    if (r.status === 'ready') {
      await Promise.race([
        r.quit().catch(() => undefined),
        new Promise((done) => setTimeout(done, this.timeoutMs).unref()),
      ]);
    }
    // Also cancels a pending reconnect, so a Redis coming back cannot reopen a closed store.
    if (r.status !== 'end') r.disconnect();
  }
}
