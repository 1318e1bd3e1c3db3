/**
 * Picks the store for a registry location. The location says which backend
 * (`redis://` or `rediss://` is a Redis registry, a path is a JSON file);
 * nothing is sniffed from the environment.
 */
import { InputError } from '../errors.js';
import { JsonStore } from './json-store.js';
import { RedisStore, redactUrl } from './redis-store.js';
import type { RegistryStore } from './store.js';

export interface OpenOptions {
  /** Key prefix of a Redis registry (config `redisKeyPrefix`). */
  redisKeyPrefix?: string;
  /** Connect and command timeout of a Redis registry (config `redisTimeoutMs`). */
  redisTimeoutMs?: number;
  /** Cap of the Redis audit and archive streams (config `redisStreamMaxLen`). */
  redisStreamMaxLen?: number;
}

export function isUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

export function openStore(location: string, options: OpenOptions = {}): RegistryStore {
  if (!isUrl(location)) return new JsonStore({ path: location });
  if (!/^rediss?:\/\//i.test(location)) {
    throw new InputError(
      `registry ${redactUrl(location)}: unsupported URL scheme; use redis://host:port/db or a file path`,
    );
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new InputError(
      `registry ${redactUrl(location)}: not a valid URL; expected redis://[user:password@]host:port/db`,
    );
  }
  const db = url.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d{1,5}$/.test(db))
    throw new InputError(`registry ${redactUrl(location)}: the database must be a number (redis://host:port/0)`);
  return new RedisStore({
    url: location,
    ...(options.redisKeyPrefix !== undefined ? { keyPrefix: options.redisKeyPrefix } : {}),
    ...(options.redisTimeoutMs !== undefined ? { timeoutMs: options.redisTimeoutMs } : {}),
    ...(options.redisStreamMaxLen !== undefined ? { streamMaxLen: options.redisStreamMaxLen } : {}),
  });
}

/** The open options a configuration asks for. */
export function openOptionsOf(config: {
  redisKeyPrefix: string;
  redisTimeoutMs: number;
  redisStreamMaxLen: number;
}): OpenOptions {
  return {
    redisKeyPrefix: config.redisKeyPrefix,
    redisTimeoutMs: config.redisTimeoutMs,
    redisStreamMaxLen: config.redisStreamMaxLen,
  };
}
