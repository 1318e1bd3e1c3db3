/**
 * Leases for several agents sharing one registry (docs/multi-host.md).
 *
 * - The leader lease: one agent at a time takes the queue-wide decisions
 *   (retries, launches, the queue breaker, retention). It is taken with a
 *   fresh fencing token (INCR) when free, renewed by its holder, and lapses
 *   after its TTL when the holder dies; the registry refuses a queue-wide write
 *   whose token is older than the newest one issued (see UpdateOptions.fence).
 * - Per-project action leases: an agent takes a project's lease before it
 *   records and runs an action on it, so two agents never act on one project.
 *
 * A store without leases (JSON file, memory) has one agent: it is always the
 * leader and every project lease is its own.
 */
import type { AgentConfig } from '../config/keys.js';
import type { HealAction } from '../core/model/plan.js';
import type { Logger } from '../log.js';
import type { ScriptName } from './redis/scripts.js';
import type { RegistryStore } from './store.js';

export interface LeaderState {
  leader: boolean;
  /** Fencing token of the current lease; null without leases (single host). */
  token: number | null;
  /** Who holds the lease now; null when nobody does or without leases. */
  holder: string | null;
  /** Until the current lease lapses unless renewed (ms); null without leases. */
  expiresInMs: number | null;
}

export interface LeaderLease {
  /** Take the lease when it is free, renew it when held: who leads now. */
  acquireOrRenew(): Promise<LeaderState>;
  /** Give the lease up if held, so another agent takes over at once. */
  release(): Promise<void>;
}

export interface ProjectLeases {
  /** Take (or extend) the action lease of each project; the ids now held. */
  acquire(ids: readonly string[]): Promise<Set<string>>;
  /** Give up every lease taken since the last call. */
  releaseAll(): Promise<void>;
}

/** What a store offers to run the lease scripts (the Redis store). */
export interface LeaseScripts {
  key(suffix: string): string;
  run(name: ScriptName, keys: readonly string[], args: Record<string, unknown>): Promise<unknown>;
}

/** A store that keeps leases. */
export interface LeaseProvider {
  leaderLease(holder: string, ttlMs: number): LeaderLease;
  projectLeases(holder: string, ttlMs: number): ProjectLeases;
}

function providesLeases(store: RegistryStore): store is RegistryStore & LeaseProvider {
  return (
    typeof (store as Partial<LeaseProvider>).leaderLease === 'function' &&
    typeof (store as Partial<LeaseProvider>).projectLeases === 'function'
  );
}

/** The only agent of a single-host registry: always the leader. */
export const soleLeader: LeaderLease = {
  acquireOrRenew: async () => ({ leader: true, token: null, holder: null, expiresInMs: null }),
  release: async () => undefined,
};

/** Single host: every project is ours to act on. */
export const ownProjects: ProjectLeases = {
  acquire: async (ids) => new Set(ids),
  releaseAll: async () => undefined,
};

export interface Coordination {
  /** This agent's name in leases: host id, pid and a random part (a restarted agent is a new holder). */
  holder: string;
  leader: LeaderLease;
  projects: ProjectLeases;
  /** Whether the store shares leases between agents (false: single host, always leader). */
  shared: boolean;
}

/** The leases of an agent named `holder` on `store`, with TTLs from the configuration. */
export function coordinationFor(
  store: RegistryStore,
  holder: string,
  config: Pick<AgentConfig, 'leaseTtlMs' | 'killGraceSec' | 'tmuxTimeoutMs'>,
): Coordination {
  if (!providesLeases(store)) return { holder, leader: soleLeader, projects: ownProjects, shared: false };
  // An action lease outlives the slowest action: a kill waits killGraceSec between its signals.
  const actionMs = Math.max(config.leaseTtlMs, 2 * config.killGraceSec * 1000 + 4 * config.tmuxTimeoutMs + 10_000);
  return {
    holder,
    leader: store.leaderLease(holder, config.leaseTtlMs),
    projects: store.projectLeases(holder, actionMs),
    shared: true,
  };
}

/**
 * The actions whose project this agent holds the lease of (actions on no
 * project, such as an orphan session on this host, are always kept). A lease
 * that cannot be taken, or an error taking it, holds the action back.
 */
export async function keepLeased(
  actions: HealAction[],
  leases: ProjectLeases | undefined,
  log: Logger,
): Promise<HealAction[]> {
  if (!leases || actions.length === 0) return actions;
  const ids = [...new Set(actions.flatMap((a) => (a.project === null ? [] : [a.project])))];
  if (ids.length === 0) return actions;
  let held: Set<string>;
  try {
    held = await leases.acquire(ids);
  } catch (err) {
    log.warn('project leases could not be taken; their actions wait for the next cycle', {
      error: err instanceof Error ? err.message : String(err),
    });
    held = new Set();
  }
  for (const a of actions) {
    if (a.project !== null && !held.has(a.project))
      log.info('project is leased by another agent; action left to it', { project: a.project, action: a.kind });
  }
  return actions.filter((a) => a.project === null || held.has(a.project));
}

export class RedisLeaderLease implements LeaderLease {
  constructor(
    private readonly redis: LeaseScripts,
    private readonly holder: string,
    private readonly ttlMs: number,
  ) {}

  async acquireOrRenew(): Promise<LeaderState> {
    const keys = [this.redis.key('leader'), this.redis.key('leader:fence')];
    const reply = await this.redis.run('leader', keys, { holder: this.holder, ttlMs: this.ttlMs });
    const [leader, token, holder, pttl] = reply as [number, string, string, number];
    return { leader: leader === 1, token: token === '' ? null : Number(token), holder, expiresInMs: pttl };
  }

  async release(): Promise<void> {
    await this.redis.run('leader-release', [this.redis.key('leader')], { holder: this.holder });
  }
}

export class RedisProjectLeases implements ProjectLeases {
  private readonly held = new Set<string>();

  constructor(
    private readonly redis: LeaseScripts,
    private readonly holder: string,
    private readonly ttlMs: number,
  ) {}

  async acquire(ids: readonly string[]): Promise<Set<string>> {
    const args = { holder: this.holder, ttlMs: this.ttlMs };
    const taken = await Promise.all(
      ids.map(async (id) => (await this.redis.run('project-lease', [this.redis.key(`lease:${id}`)], args)) === 1),
    );
    const out = new Set<string>();
    ids.forEach((id, i) => {
      if (taken[i]) {
        out.add(id);
        this.held.add(id);
      }
    });
    return out;
  }

  async releaseAll(): Promise<void> {
    const ids = [...this.held];
    this.held.clear();
    await Promise.all(
      ids.map((id) => this.redis.run('project-release', [this.redis.key(`lease:${id}`)], { holder: this.holder })),
    );
  }
}
