/**
 * The change channel of a Redis registry: every commit publishes
 * "<writer> <rev>"; a watch calls back for the commits of other writers, on
 * a connection of its own, resubscribed after a reconnect.
 */
import { messageOf } from '../../errors.js';
import { reconnectEvery, type RedisConnection } from './connection.js';

/** A subscription to the registry's changes. */
export interface ChangeWatch {
  health(): { up: boolean; detail: string };
  stop(): Promise<void>;
}

/**
 * Call `onChange` after each commit of a writer other than `writer`.
 * Resolves once subscribed, or after the connection's timeout with the
 * subscription still pending.
 */
export async function watchChanges(
  conn: RedisConnection,
  channel: string,
  writer: string,
  onChange: () => void,
): Promise<ChangeWatch> {
  let closed = false;
  let subscribed = false;
  let lastError: string | null = null;
  const sub = conn.duplicate({
    lazyConnect: false,
    // Queued until connected, so a watch started during an outage begins when Redis is back.
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    retryStrategy: reconnectEvery(() => closed),
  });
  sub.on('error', (err: unknown) => {
    lastError = messageOf(err);
  });
  sub.on('message', (_channel: string, message: string) => {
    if (!message.startsWith(`${writer} `)) onChange();
  });
  const subscribing = sub.subscribe(channel).then(
    () => {
      subscribed = true;
    },
    (err: unknown) => {
      lastError = messageOf(err);
    },
  );
  await Promise.race([subscribing, new Promise((r) => setTimeout(r, conn.timeoutMs).unref())]);
  const where = `${channel} on ${conn.location}`;
  return {
    health: () =>
      subscribed && sub.status === 'ready'
        ? { up: true, detail: `subscribed to ${where}` }
        : { up: false, detail: `not subscribed to ${where} (${sub.status}${lastError ? `: ${lastError}` : ''})` },
    stop: async () => {
      closed = true;
      if (sub.status !== 'end') sub.disconnect();
    },
  };
}
