/**
 * The registry store: what every backend (memory, JSON file, Redis) offers.
 * It speaks documents and audit entries, never driver types; domain
 * operations (enqueue, start, fail...) are built on `update` in operations.ts.
 */
import type { Project } from '../core/model/project.js';
import type { RegistryDocument } from '../core/model/registry-document.js';
import type { EventSource, Trigger } from '../events/event-source.js';
import type { DaemonClaim, DaemonHolder } from './daemon-holder.js';

/** One line of the append-only audit log: a transition, a heal action with its outcome, or a note. */
export interface AuditEntry {
  at: string;
  type: 'transition' | 'action' | 'note' | 'archive' | 'repair';
  project: string | null;
  by: string;
  [field: string]: unknown;
}

export interface Transaction {
  /** Queue an audit line, written only if the update commits. */
  audit(entry: AuditEntry): void;
  /** Keep a project that is being removed from the registry (retention) in the archive. */
  archive(project: Project): void;
}

export interface RegistryHealth {
  ok: boolean;
  /** What is wrong, naming projects and fields; empty when ok. */
  issues: string[];
  projects: number;
  location: string;
  /** Whether a last good copy exists to repair from. */
  lastGood: boolean;
}

export interface UpdateOptions {
  /**
   * Fencing token of the leader lease the write relies on (queue-wide
   * decisions). A store that keeps leases (Redis) refuses the write with
   * LeaseLostError when a newer token has been issued since; the file and
   * memory stores have one writer host and ignore it.
   */
  fence?: number | null;
}

export interface RegistryStore {
  readonly backend: 'memory' | 'json' | 'redis';
  /** A human-readable location (path or URL without credentials). */
  readonly location: string;
  /**
   * Read the committed document. Throws RegistryUnreadableError (exit 3) when
   * it cannot be read or validated. The result is read-only: a backend may
   * hand the same (deeply frozen) document to every caller while the committed
   * one is unchanged (the JSON store does), so copy it before changing it, or
   * change it through `update`.
   */
  load(): Promise<RegistryDocument>;
  /**
   * Locked read-modify-write: `mutate` gets a private copy of the current
   * document and changes it in place; the store validates and commits it
   * atomically, then appends the queued audit lines. Nothing is written when
   * the document is unchanged. If `mutate` throws, nothing is written.
   * A backend with optimistic concurrency (Redis) runs `mutate` again, on a
   * fresh copy, when another writer committed first: `mutate` must change
   * nothing but `doc` and `tx`, or reset what else it touches on each call.
   */
  update<T>(mutate: (doc: RegistryDocument, tx: Transaction) => T | Promise<T>, options?: UpdateOptions): Promise<T>;
  /** Validate without changing anything. */
  check(): Promise<RegistryHealth>;
  /** Restore the last good version when the current one does not validate. */
  repair(): Promise<{ restored: boolean; detail: string }>;
  /** Read the audit log (newest last), bounded. */
  readAudit(limit: number): Promise<AuditEntry[]>;
  /**
   * Audit entries appended since `cursor`, by any writer (agent, CLI, API),
   * and the cursor to pass next time. A null cursor starts at the end: only
   * entries written from now on are returned.
   */
  readAuditSince(cursor: string | null): Promise<{ entries: AuditEntry[]; cursor: string }>;
  /**
   * The event source that asks for a cycle when another writer commits (a
   * file watch, a change channel); the store's own commits ask for nothing.
   * null: the backend has none (the schedule still runs cycles).
   */
  watch(trigger: Trigger): EventSource | null;
  /**
   * Claim the registry for this daemon, before it starts anything. A JSON
   * registry has one daemon: RegistryHeldError while another one runs. null:
   * the backend needs no claim (Redis: the leader lease decides).
   */
  claimDaemon(hostId: string, now: () => number): Promise<DaemonClaim | null>;
  /**
   * The daemon holding the registry as its claim records it, and whether it
   * still runs (null: on another host, cannot be checked); null when no
   * daemon claimed it or the backend has no claims.
   */
  daemonHolder(): Promise<{ holder: DaemonHolder; alive: boolean | null } | null>;
  close(): Promise<void>;
}
