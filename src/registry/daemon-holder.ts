/**
 * One daemon per JSON registry: two `agent serve` on one file would both
 * launch the queue's projects. The daemon records itself in
 * `<registry>.daemon` when it starts and removes the record when it stops:
 *
 *   { "pid": 4242, "pidStartTime": 81234567, "bootId": "3f1c…", "host": "build-01",
 *     "hostId": "build-01", "startedAt": "2026-11-26T10:00:00.000Z" }
 *
 * A record is claimed under the registry lock, so of two daemons starting at
 * once exactly one wins. A record whose process is gone — no such PID,
 * another start time (a reused PID), another boot — belongs to a daemon
 * that died (SIGKILL, a crash) and is taken over. A record from another host
 * cannot be checked from here: the start is refused and the message says how
 * to clear it. A Redis registry needs none of this: its leader lease decides.
 */
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';
import { RegistryHeldError, messageOf } from '../errors.js';
import { readStartTime } from '../scan/proc-table.js';
import { writeFileAtomic } from './json/atomic-file.js';

/** What a claim needs of the registry: where it is, and its writers' lock. */
export interface ClaimableRegistry {
  readonly location: string;
  locked<T>(fn: () => Promise<T>): Promise<T>;
}

export interface DaemonHolder {
  pid: number;
  /** Field 22 of /proc/<pid>/stat when the daemon started; null without procfs. */
  pidStartTime: number | null;
  /** The kernel's boot id: a record from before a reboot is dead whatever its PID. */
  bootId: string | null;
  /** The machine's hostname (not the configurable host id): whether this host can check the PID. */
  host: string;
  hostId: string;
  startedAt: string;
}

export interface DaemonClaim {
  holder: DaemonHolder;
  /** A dead daemon's record this claim replaced, if any. */
  replaced: DaemonHolder | null;
  /** Remove the record if it is still this daemon's. */
  release(): Promise<void>;
}

export function holderPath(registryPath: string): string {
  return `${registryPath}.daemon`;
}

async function bootId(): Promise<string | null> {
  try {
    return (await fs.readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim() || null;
  } catch {
    return null;
  }
}

function parseHolder(text: string): DaemonHolder | null {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  if (!Number.isInteger(r['pid']) || (r['pid'] as number) < 1 || typeof r['host'] !== 'string') return null;
  return {
    pid: r['pid'] as number,
    pidStartTime: typeof r['pidStartTime'] === 'number' ? r['pidStartTime'] : null,
    bootId: typeof r['bootId'] === 'string' ? r['bootId'] : null,
    host: r['host'],
    hostId: typeof r['hostId'] === 'string' ? r['hostId'] : r['host'],
    startedAt: typeof r['startedAt'] === 'string' ? r['startedAt'] : '',
  };
}

/** The daemon record of a JSON registry as written (alive or not); null when there is none or it does not parse. */
export async function readDaemonHolder(registryPath: string): Promise<DaemonHolder | null> {
  try {
    return parseHolder(await fs.readFile(holderPath(registryPath), 'utf8'));
  } catch {
    return null;
  }
}

/** Whether the recorded daemon still runs: true, false, or null when it runs on another host (cannot be checked). */
export async function holderAlive(holder: DaemonHolder): Promise<boolean | null> {
  if (holder.host !== hostname()) return null;
  const boot = await bootId();
  if (holder.bootId !== null && boot !== null && holder.bootId !== boot) return false;
  const startTime = await readStartTime(holder.pid);
  if (startTime === null) return false;
  return holder.pidStartTime === null || startTime === holder.pidStartTime;
}

/**
 * The PID of the daemon holding a JSON registry, when one runs on this host;
 * null when none does (no record, or its process is gone) or it runs elsewhere.
 */
export async function liveDaemonPid(registryPath: string): Promise<number | null> {
  const holder = await readDaemonHolder(registryPath);
  return holder !== null && (await holderAlive(holder)) === true ? holder.pid : null;
}

function heldMessage(registry: string, holder: DaemonHolder, alive: boolean | null): string {
  const since = holder.startedAt ? ` (since ${holder.startedAt})` : '';
  const who = `agent serve pid ${holder.pid} on host ${holder.host}${since}`;
  if (alive === null) {
    return (
      `registry ${registry} is held by ${who}; ` +
      `this host (${hostname()}) cannot check whether that process still runs. ` +
      `Stop it there, or if it is gone, remove ${holderPath(registry)} and start again (one daemon per JSON registry)`
    );
  }
  return (
    `registry ${registry} is held by ${who}; one daemon per JSON registry: ` +
    'stop that one first, or give this one another registry (AGENT_REGISTRY or --registry)'
  );
}

/** Claim a JSON registry for this daemon, or refuse (RegistryHeldError, exit 2) while another holds it. */
export async function claimRegistry(store: ClaimableRegistry, hostId: string, now: () => number): Promise<DaemonClaim> {
  const path = holderPath(store.location);
  const me: DaemonHolder = {
    pid: process.pid,
    pidStartTime: await readStartTime(process.pid),
    bootId: await bootId(),
    host: hostname(),
    hostId,
    startedAt: new Date(now()).toISOString(),
  };
  const replaced = await store.locked(async () => {
    const current = await readDaemonHolder(store.location);
    if (current !== null) {
      const alive = await holderAlive(current);
      if (alive !== false) throw new RegistryHeldError(heldMessage(store.location, current, alive));
    }
    await writeFileAtomic(path, `${JSON.stringify(me)}\n`);
    return current;
  });
  return {
    holder: me,
    replaced,
    async release() {
      const current = await readDaemonHolder(store.location);
      const ours = current !== null && current.pid === me.pid && current.host === me.host;
      if (!ours || current.pidStartTime !== me.pidStartTime) return;
      await fs.rm(path, { force: true }).catch((err: unknown) => {
        throw new Error(`cannot remove the daemon record ${path}: ${messageOf(err)}`);
      });
    },
  };
}
