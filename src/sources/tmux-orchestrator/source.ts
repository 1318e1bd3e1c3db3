/**
 * The Tmux-Orchestrator source: rows of `project_queue` become projects
 * `<idPrefix><rowid>` (default `to-`), and the agent's own terminal decisions
 * on them go back to their rows.
 *
 * An idle pass costs two stat calls: the read is skipped while neither the
 * database nor its -wal file changed since the last good read (a write in WAL
 * mode grows the -wal; a checkpoint rewrites pages of the database), for at
 * most FULL_READ_EVERY_MS: a file system's coarse timestamps could hide a
 * same-size rewrite of the -wal within one tick.
 */
import type { TmuxOrchestratorSourceConfig } from '../../config/sources.js';
import { isActive, isTerminal, iso, ms, type Project, type ProjectState } from '../../core/model/project.js';
import type { RegistryDocument } from '../../core/model/registry-document.js';
import type { Logger } from '../../log.js';
import { ownedBy, type Observed } from '../merge.js';
import { listSessionPanes, tmuxSessionName, type SessionPane } from '../panes.js';
import type { Source, SourcePass } from '../source.js';
import { checkDatabasePath } from '../sqlite-cli.js';
import { fileIdentity, readQueue, writeRows, type QueueSnapshot, type RowWrite } from './queue-db.js';
import { readQueueRow, specStem, stateOfStatus, type QueueRow } from './rows.js';

export interface SourceDeps {
  log: Logger;
  tmuxTimeoutMs: number;
  /** The sqlite3 binary (default: on PATH). */
  sqlitePath?: string;
}

/** The longest the read is skipped on an unchanged file identity. */
export const FULL_READ_EVERY_MS = 60_000;

/**
 * How often an unchanged database still asks tmux for the PIDs of active rows
 * whose session was not there at the last read (it appears after the row
 * names it): once per default cycle, not on every event-driven cycle.
 */
export const PID_REFRESH_EVERY_MS = 15_000;

/** At most this many rows are written back per cycle: one short write transaction. */
export const WRITE_BACK_BATCH = 200;

/** The message written to error_message: the agent's reason for failing the project. */
export function failureMessage(project: Project): string {
  const entry = [...project.history].reverse().find((h) => h.to === 'failed' && h.from !== 'failed');
  const reason = entry?.reason ?? project.failureReason ?? 'failed';
  return `${reason} [tmux-orchestrator-agent]`.slice(0, 2000);
}

/**
 * The projects whose terminal state the agent decided and their row does not
 * show yet: the agent's state is failed or completed while the status it last
 * read maps to an active or queued state.
 */
export function pendingWrites(
  doc: RegistryDocument,
  source: Pick<TmuxOrchestratorSourceConfig, 'name'>,
  now: number,
): RowWrite[] {
  const writes: RowWrite[] = [];
  for (const p of doc.projects) {
    const status = p.source?.status;
    if (!ownedBy(p, source) || !isTerminal(p.state) || !p.source || status === null || status === undefined) continue;
    const theirs = stateOfStatus(status);
    if (theirs === null || isTerminal(theirs)) continue;
    const id = Number(p.source.ref);
    if (!Number.isInteger(id) || id < 1) continue;
    writes.push({
      id,
      expected: status,
      status: p.state === 'completed' ? 'completed' : 'failed',
      errorMessage: p.state === 'failed' ? failureMessage(p) : null,
      completedAt: (ms(p.endedAt) ?? now) / 1000,
    });
  }
  return writes.slice(0, WRITE_BACK_BATCH);
}

export class TmuxOrchestratorSource implements Source {
  readonly location: string;
  /** File identity of the last good read; null forces a read. */
  private identity: string | null = null;
  private readAt = 0;
  private panesAt = 0;
  private columns: string[] = [];
  private readonly warned = new Set<string>();
  /** Guarded writes that changed nothing, by row: not tried again while the row keeps that status. */
  private readonly refused = new Map<number, string>();

  constructor(
    readonly config: TmuxOrchestratorSourceConfig,
    private readonly deps: SourceDeps,
  ) {
    this.location = config.db;
  }

  forget(): void {
    this.identity = null;
  }

  private get sqlite() {
    const binary = this.deps.sqlitePath ? { sqlitePath: this.deps.sqlitePath } : {};
    return { busyTimeoutMs: this.config.busyTimeoutMs, ...binary };
  }

  async pass(doc: RegistryDocument, now: number): Promise<SourcePass> {
    await checkDatabasePath(this.config.db);
    const identity = await fileIdentity(this.config.db);
    if (identity === this.identity && now - this.readAt < FULL_READ_EVERY_MS) return this.refreshPids(doc, now);
    const held = doc.projects.filter((p) => ownedBy(p, this.config) && p.source).map((p) => Number(p.source?.ref));
    const snapshot = await readQueue(this.config.db, this.sqlite, held);
    const panes = await listSessionPanes(this.config.tmuxSocket, this.deps.tmuxTimeoutMs);
    this.panesAt = now;
    const pass = this.observe(doc, snapshot, panes);
    this.columns = snapshot.schema.columns;
    this.identity = identity;
    this.readAt = now;
    return pass;
  }

  /** Unchanged database: only fill in PIDs of active projects whose session appeared after the row named it. */
  private async refreshPids(doc: RegistryDocument, now: number): Promise<SourcePass> {
    const skipped: SourcePass = { items: [], drops: [], skipped: true, rows: null, unknownStatuses: [] };
    if (now - this.panesAt < PID_REFRESH_EVERY_MS) return skipped;
    const mine = doc.projects.filter((p) => ownedBy(p, this.config) && isActive(p.state));
    const waiting = mine.filter((p) => p.session !== null && p.pid === null);
    if (waiting.length === 0) return skipped;
    const panes = await listSessionPanes(this.config.tmuxSocket, this.deps.tmuxTimeoutMs);
    this.panesAt = now;
    for (const p of waiting) {
      const pane = panes.get(p.session as string);
      if (!pane || pane.dead || pane.pidStartTime === null || !p.source) continue;
      skipped.items.push({
        id: p.id,
        ref: p.source.ref,
        status: p.source.status,
        instance: (p.source['instance'] as string | null | undefined) ?? null,
        state: p.state,
        fields: { pid: pane.pid, pidStartTime: pane.pidStartTime },
        startedAt: null,
        endedAt: null,
        failureReason: null,
        extra: {},
      });
    }
    return skipped;
  }

  private observe(doc: RegistryDocument, snapshot: QueueSnapshot, panes: Map<string, SessionPane>): SourcePass {
    const pass: SourcePass = { items: [], drops: [], skipped: false, rows: snapshot.rows.length, unknownStatuses: [] };
    const seen = new Set<string>();
    for (const raw of snapshot.rows) {
      const row = readQueueRow(raw);
      if (row === null) continue;
      seen.add(row.ref);
      const state = stateOfStatus(row.status);
      if (state === null) {
        const value = row.status ?? 'NULL';
        if (!pass.unknownStatuses.includes(value)) pass.unknownStatuses.push(value);
        if (!this.warned.has(value)) {
          this.warned.add(value);
          const detail = { source: this.config.name, db: this.config.db, status: value, row: row.ref };
          this.deps.log.warn('row status not in the mapping; such rows are skipped', detail);
        }
        continue;
      }
      pass.items.push(this.item(row, state, snapshot, panes));
    }
    // Every row the agent holds a project for was asked for by id: one that did not come back is gone.
    for (const p of doc.projects) {
      if (ownedBy(p, this.config) && !isTerminal(p.state) && p.source && !seen.has(p.source.ref)) {
        pass.drops.push({ id: p.id, reason: `row ${p.source.ref} is no longer in ${this.config.db}` });
      }
    }
    return pass;
  }

  private item(row: QueueRow, state: ProjectState, snapshot: QueueSnapshot, panes: Map<string, SessionPane>): Observed {
    const session = tmuxSessionName(row.session);
    const pane = session === null ? undefined : panes.get(session);
    const beat = session === null ? undefined : snapshot.heartbeats.get(session);
    const fields: Partial<Project> = { name: specStem(row.specPath), priority: row.priority };
    fields.tmuxSocket = this.config.tmuxSocket;
    const enqueued = row.enqueuedAt ?? row.startedAt;
    if (enqueued !== null) fields.enqueuedAt = iso(enqueued);
    if (session !== null) fields.session = session;
    if (row.projectPath?.startsWith('/')) fields.projectDir = row.projectPath;
    if (beat !== undefined) fields.heartbeatAt = iso(beat);
    // The PID of window 0 (their Orchestrator) while the session runs; once the session is gone the
    // recorded PID stays, so a process that outlives it is a zombie.
    if (pane && !pane.dead && pane.pidStartTime !== null) {
      Object.assign(fields, { pid: pane.pid, pidStartTime: pane.pidStartTime });
    }
    return {
      id: `${this.config.idPrefix}${row.ref}`,
      ref: row.ref,
      status: row.status,
      instance: null,
      state,
      fields,
      startedAt: row.startedAt,
      endedAt: row.completedAt,
      failureReason: `source_${(row.status ?? 'failed').trim().toLowerCase()}`,
      extra: {
        specPath: row.specPath,
        projectPath: row.projectPath,
        batchId: row.batchId,
        retryCount: row.retryCount,
        errorMessage: row.errorMessage?.slice(0, 2000) ?? null,
      },
    };
  }

  /**
   * Write the agent's terminal decisions to their rows; resolves with the
   * writes that landed and those whose row had moved on. Read-only sources and
   * sources never read in full write nothing.
   */
  async writeBack(doc: RegistryDocument, now: number): Promise<{ written: RowWrite[]; conflicts: RowWrite[] }> {
    if (this.config.readOnly || this.identity === null) return { written: [], conflicts: [] };
    // A write that changed nothing is not repeated every cycle while the row still shows what it showed
    // (another writer moved it and the next read follows; or one of their constraints refused it).
    const writes = pendingWrites(doc, this.config, now).filter((w) => this.refused.get(w.id) !== w.expected);
    if (writes.length === 0) return { written: [], conflicts: [] };
    const done = await writeRows(this.config.db, writes, this.columns, this.sqlite);
    const conflicts = writes.filter((w) => !done.has(w.id));
    for (const w of conflicts) this.refused.set(w.id, w.expected);
    return { written: writes.filter((w) => done.has(w.id)), conflicts };
  }
}
