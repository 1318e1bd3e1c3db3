/**
 * The daemon's composition: cycles on a node-cron schedule
 * and on events (registry changes, tmux session/pane deaths, tracked PIDs
 * exiting), never overlapping — triggers that arrive during a cycle coalesce
 * into one follow-up cycle — with metrics and the HTTP server fed from each
 * committed cycle, and an orderly shutdown.
 */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import cron, { type ScheduledTask } from 'node-cron';
import type { AgentConfig } from './config/keys.js';
import { isActive } from './core/model/project.js';
import type { RegistryDocument } from './core/model/registry-document.js';
import { runCycle, socketsToScan, type CycleOptions, type CycleOutcome, type CycleResult } from './cycle.js';
import type { PaneReadStates } from './cycle-activity.js';
import { ListenError, messageOf } from './errors.js';
import type { EventSource } from './events/event-source.js';
import { PidProbe } from './events/pid-probe.js';
import { TmuxHooks } from './events/tmux-hooks.js';
import { GitLogCache } from './evidence/git.js';
import type { Logger } from './log.js';
import { AgentMetrics } from './metrics/metrics.js';
import type { DaemonClaim } from './registry/daemon-holder.js';
import { coordinationFor, type Coordination, type LeaderState } from './registry/leases.js';
import type { RegistryStore } from './registry/store.js';
import { createApp, type AgentStatus } from './server/app.js';
import { SourceSet } from './sources/source-set.js';

export interface AgentOptions {
  store: RegistryStore;
  config: AgentConfig;
  hostId: string;
  version: string;
  log: Logger;
  now?: () => number;
  /** Poll interval of the tracked-PID probe (ms). */
  pidProbeMs?: number;
  /** Start no HTTP server (tests of the scheduler). */
  noServer?: boolean;
  /** Runs one cycle; default runCycle. A test wraps it to see when cycles run. */
  cycle?: (options: CycleOptions) => Promise<CycleOutcome>;
}

/** Listening address of the HTTP server once started. */
export interface Listening {
  host: string;
  port: number;
  url: string;
}

export class Agent {
  readonly metrics: AgentMetrics;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly events: EventSource[] = [];
  private readonly tmuxHooks: TmuxHooks;
  private readonly pidProbe: PidProbe;
  private task: ScheduledTask | null = null;
  private server: Server | null = null;
  private inFlight: Promise<CycleResult> | null = null;
  private next: Promise<CycleResult> | null = null;
  private pendingReasons: string[] = [];
  private stopping = false;
  private lastFullSyncAt: number | null = null;
  private auditCursor: string | null = null;
  private lastOutcome: CycleOutcome | null = null;
  private lastCycleAt: number | null = null;
  private registryError: string | null = null;
  private readonly coordination: Coordination;
  private leadership: LeaderState | null = null;
  private leaseTimer: NodeJS.Timeout | null = null;
  /** The configured `sources`, synced in every cycle (src/sources/); null without any. */
  private readonly sources: SourceSet | null;
  private claim: DaemonClaim | null = null;
  /** Each project's last pane read for agent detection (captures only when a pane moved). */
  private readonly paneReads: PaneReadStates = new Map();
  /** Each project's last git log and the HEAD it was read at: git runs again only once HEAD moved. */
  private readonly gitLogs = new GitLogCache();
  /** A cycle at the end of a usage limit's launch hold, so the queue moves on at the reset. */
  private holdTimer: NodeJS.Timeout | null = null;
  /** Cycles started since the agent was created (status: `cycles`). */
  private cycles = 0;

  constructor(private readonly options: AgentOptions) {
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.metrics = new AgentMetrics({
      config: options.config,
      hostId: options.hostId,
      version: options.version,
      backend: options.store.backend,
    });
    const trigger = (reason: string): void => {
      void this.requestCycle(reason);
    };
    this.tmuxHooks = new TmuxHooks(`${options.store.location}|${options.hostId}`, trigger, {
      timeoutMs: options.config.tmuxTimeoutMs,
    });
    this.pidProbe = new PidProbe(trigger, options.pidProbeMs ?? 500);
    const store = options.store;
    const registryWatch = store.watch(trigger);
    if (registryWatch) this.events.push(registryWatch);
    this.events.push(this.tmuxHooks, this.pidProbe);
    this.coordination = coordinationFor(
      store,
      `${options.hostId}/${process.pid}/${randomBytes(3).toString('hex')}`,
      options.config,
    );
    this.sources = SourceSet.fromConfig(options.config.sources, options.config, options.log);
  }

  /**
   * Take or renew the leader lease (each cycle, and on a timer of a third of
   * its TTL; a follower retries as the holder's lease lapses, so a dead
   * leader is replaced within the TTL). An error means "not leader": the
   * queue-wide decisions wait, nothing else does.
   */
  private async renewLease(fromTimer = false): Promise<LeaderState> {
    const was = this.leadership?.leader ?? false;
    let state: LeaderState;
    try {
      state = await this.coordination.leader.acquireOrRenew();
    } catch (err) {
      state = { leader: false, token: null, holder: null, expiresInMs: null };
      if (was)
        this.log.warn('leader lease could not be renewed; queue-wide decisions stop here until it is', {
          error: messageOf(err),
        });
    }
    this.leadership = state;
    this.metrics.setLeader(state.leader);
    if (state.leader && !was && this.coordination.shared)
      this.log.info('took the leader lease: this agent takes the queue-wide decisions', {
        token: state.token,
        holder: this.coordination.holder,
      });
    if (!state.leader && was && state.holder !== null)
      this.log.warn('leader lease passed to another agent', { holder: state.holder, token: state.token });
    this.scheduleLease(state);
    // A new leader looks at the queue at once rather than at the next tick.
    if (fromTimer && state.leader && !was) void this.requestCycle('leader').catch(() => undefined);
    return state;
  }

  private scheduleLease(state: LeaderState): void {
    if (this.stopping || !this.coordination.shared || this.task === null) return;
    const ttl = this.options.config.leaseTtlMs;
    let delay = Math.floor(ttl / 3);
    if (!state.leader && state.expiresInMs !== null) delay = Math.min(delay, Math.max(0, state.expiresInMs) + 20);
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.leaseTimer = setTimeout(() => void this.renewLease(true), delay);
    this.leaseTimer.unref();
  }

  /**
   * Run a cycle now, or join the follow-up of the one in flight: at most one
   * cycle runs at a time, and any number of triggers during it produce one
   * more cycle after it.
   */
  requestCycle(reason: string): Promise<CycleResult> {
    if (this.stopping) {
      if (this.inFlight) return this.inFlight;
      return this.lastOutcome
        ? Promise.resolve(this.lastOutcome.result)
        : Promise.reject(new Error('the agent is stopping'));
    }
    if (!this.inFlight) return this.launch([reason]);
    this.pendingReasons.push(reason);
    this.next ??= this.inFlight.then(() => {
      const reasons = this.pendingReasons;
      this.pendingReasons = [];
      this.next = null;
      return this.stopping && this.lastOutcome ? this.lastOutcome.result : this.launch(reasons);
    });
    return this.next;
  }

  private launch(reasons: string[]): Promise<CycleResult> {
    const p = this.execute(reasons).finally(() => {
      if (this.inFlight === p) this.inFlight = null;
    });
    this.inFlight = p;
    return p;
  }

  private async execute(reasons: string[]): Promise<CycleResult> {
    this.cycles += 1;
    try {
      const lease = await this.renewLease();
      const outcome = await (this.options.cycle ?? runCycle)({
        store: this.options.store,
        config: this.options.config,
        hostId: this.options.hostId,
        log: this.log,
        now: this.now,
        lastFullSyncAt: this.lastFullSyncAt,
        leader: lease.leader,
        fence: lease.token,
        projectLeases: this.coordination.projects,
        sources: this.sources,
        paneReads: this.paneReads,
        gitLogs: this.gitLogs,
      });
      await this.afterCycle(outcome);
      this.log.debug('cycle done', {
        reasons: [...new Set(reasons)].slice(0, 5),
        durationMs: outcome.result.durationMs,
        ok: outcome.result.ok,
      });
      return outcome.result;
    } finally {
      // A project's action lease never outlives the cycle that took it.
      await this.coordination.projects.releaseAll().catch(() => undefined);
    }
  }

  private async afterCycle(outcome: CycleOutcome): Promise<void> {
    const { result, registry } = outcome;
    const now = this.now();
    this.lastOutcome = outcome;
    this.lastCycleAt = now;
    if (result.fullSync) this.lastFullSyncAt = now;
    this.registryError =
      registry === null ? (result.errors.find((e) => e.source === 'registry')?.message ?? 'registry unreadable') : null;
    this.metrics.observeCycle(outcome, now);
    await this.tailAudit(registry);
    if (registry) this.retrack(registry, result.tmuxSessions);
    this.wakeAtHoldEnd(result.launchHold?.until ?? null);
    for (const e of this.events) this.metrics.setEventSource(e.name, e.health().up);
    // A project that ended freed a launcher slot and may be due a retry or trip the queue breaker: decide now,
    // not at the next tick. The registry watch ignores the agent's own writes, so nothing else would ask.
    if (!result.dryRun && result.transitions.some((t) => t.to === 'failed' || t.to === 'completed')) {
      void this.requestCycle('project ended').catch(() => undefined);
    }
  }

  /** One cycle right after a launch hold ends (at most a day ahead; the schedule covers the rest). */
  private wakeAtHoldEnd(until: string | null): void {
    if (this.holdTimer) clearTimeout(this.holdTimer);
    this.holdTimer = null;
    const at = until === null ? Number.NaN : Date.parse(until);
    if (this.stopping || !Number.isFinite(at)) return;
    const delay = Math.min(Math.max(0, at - this.now()) + 50, 86_400_000);
    this.holdTimer = setTimeout(() => void this.requestCycle('launch hold over').catch(() => undefined), delay);
    this.holdTimer.unref();
  }

  /** Count every writer's transitions (agent, CLI, API) from the audit log. */
  private async tailAudit(registry: RegistryDocument | null): Promise<void> {
    try {
      const { entries, cursor } = await this.options.store.readAuditSince(this.auditCursor);
      this.auditCursor = cursor;
      if (entries.length > 0) this.metrics.observeAudit(entries, registry);
    } catch (err) {
      this.metrics.observeRegistryError();
      this.log.warn('audit log unreadable; transition counters may lag', { error: messageOf(err) });
    }
  }

  /**
   * Point the event sources at what the registry now tracks. Hooks go only
   * on servers the cycle did not find without sessions (no server running):
   * trying to hook one cost a tmux client every cycle, a third of an idle
   * daemon's process spawns. The cycle that first sees its sessions hooks it.
   */
  private retrack(registry: RegistryDocument, tmuxSessions: Readonly<Record<string, number>>): void {
    this.pidProbe.track(
      registry.projects
        .filter((p) => isActive(p.state) && p.pid !== null && (p.host === null || p.host === this.options.hostId))
        .map((p) => ({ project: p.id, pid: p.pid as number, pidStartTime: p.pidStartTime })),
    );
    const running = socketsToScan(this.options.config, registry.projects).filter(
      (socket) => tmuxSessions[socket ?? 'default'] !== 0,
    );
    void this.tmuxHooks.sync(running).catch((err: unknown) => {
      this.log.warn('tmux hooks could not be synced; polling continues', { error: messageOf(err) });
    });
  }

  status(): AgentStatus {
    const result = this.lastOutcome?.result ?? null;
    let reason: string | null = null;
    if (this.registryError) reason = `registry unreadable: ${this.registryError}`;
    else if (!result) reason = 'no cycle has completed yet';
    else if (!result.ok)
      reason = `last cycle failed: ${result.errors
        .filter((e) => e.source !== 'evidence')
        .map((e) => `${e.source}: ${e.message}`)
        .join('; ')}`;
    const events: AgentStatus['events'] = {};
    for (const e of this.events) events[e.name] = e.health();
    return {
      ready: reason === null,
      reason,
      lastCycle: result,
      lastCycleAt: this.lastCycleAt === null ? null : new Date(this.lastCycleAt).toISOString(),
      cycles: this.cycles,
      events,
      leadership: {
        leader: this.leadership?.leader ?? false,
        holder: this.leadership?.holder ?? null,
        token: this.leadership?.token ?? null,
        shared: this.coordination.shared,
      },
    };
  }

  /**
   * Claim the registry (a JSON registry has one daemon; RegistryHeldError
   * while another holds it), bind the HTTP server (unless disabled), then
   * start events and the schedule; starts a first cycle without waiting for
   * it. The claim and the bind come first so a refused start says one thing
   * and has started nothing.
   */
  async start(): Promise<Listening | null> {
    const { config, store } = this.options;
    this.claim = await store.claimDaemon(this.options.hostId, this.now);
    if (this.claim) {
      const gone = this.claim.replaced;
      if (gone) {
        const was = { pid: gone.pid, host: gone.host, since: gone.startedAt };
        this.log.info('took over the registry from a daemon that is gone', was);
      }
      // On a fresh machine the registry and its directory do not exist yet: create them (0700/0600), so the
      // file watch has a directory to watch. A registry that exists but is invalid is left as it is.
      await store
        .update(() => undefined)
        .catch((err: unknown) => this.log.error('registry unreadable at start', { error: messageOf(err) }));
    }
    let listening: Listening | null = null;
    if (!this.options.noServer) listening = await this.listen();
    for (const e of this.events) {
      await e.start();
      const h = e.health();
      if (!h.up)
        this.log.warn('event source down; the cron schedule still runs cycles', { source: e.name, detail: h.detail });
    }
    const log = this.log;
    this.task = cron.schedule(config.scanSchedule, () => void this.requestCycle('schedule'), {
      name: 'scan',
      suppressMissedWarning: true,
      logger: {
        info: (m) => log.debug(m),
        warn: (m) => log.warn(m),
        error: (m) => log.error(messageOf(m)),
        debug: (m) => log.debug(messageOf(m)),
      },
    });
    // The first cycle runs in the background: the server answers (readyz 503 "no cycle yet") meanwhile.
    void this.requestCycle('start').catch((err: unknown) =>
      this.log.error('first cycle failed', { error: messageOf(err) }),
    );
    return listening;
  }

  private listen(): Promise<Listening> {
    const { config, store, hostId, version } = this.options;
    const app = createApp({
      store,
      config,
      hostId,
      version,
      log: this.log,
      now: this.now,
      metrics: this.metrics,
      status: () => this.status(),
      requestCycle: (reason) => this.requestCycle(reason),
    });
    const sep = config.listen.lastIndexOf(':');
    const host = config.listen.slice(0, sep).replace(/^\[|\]$/g, '');
    const port = Number(config.listen.slice(sep + 1));
    return new Promise((resolve, reject) => {
      const server = app.listen(port, host);
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(new ListenError(config.listen, err));
      });
      server.once('listening', () => {
        this.server = server;
        const address = server.address();
        const actualPort = typeof address === 'object' && address ? address.port : port;
        const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host.includes(':') ? `[${host}]` : host;
        resolve({ host, port: actualPort, url: `http://${shownHost}:${actualPort}` });
      });
    });
  }

  /** Finish the running cycle, remove tmux hooks, close the server. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    await this.task?.destroy();
    this.task = null;
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    if (this.holdTimer) clearTimeout(this.holdTimer);
    for (const e of this.events) await e.stop().catch(() => undefined);
    await (this.next ?? this.inFlight)?.catch(() => undefined);
    await this.inFlight?.catch(() => undefined);
    if (this.server) {
      const server = this.server;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      this.server = null;
    }
    // Hand the lease over now rather than after its TTL.
    if (this.coordination.shared && this.leadership?.leader)
      await this.coordination.leader.release().catch(() => undefined);
    await this.claim?.release().catch((err: unknown) => {
      this.log.warn('daemon record not removed; the next start checks its PID', { error: messageOf(err) });
    });
    this.claim = null;
    await this.options.store.close();
  }
}
