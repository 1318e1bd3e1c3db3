/**
 * The tmux-sessions source: tools that keep their state only in tmux. Every
 * session whose name matches the pattern is an observed project
 * `<idPrefix><session>` (default `ts-`), with the PID and start time of its
 * first pane.
 *
 * How an observed project ends (docs/sources.md):
 * - its session disappears while its process lives: a zombie (the agent's
 *   zombie rule; killed only with `heal: true`);
 * - its session disappears with its process: it finished. Completed when the
 *   completion evidence says so (a marker file in the pane's directory, a
 *   commit), otherwise dropped from the registry once the phantom grace has
 *   passed since its last sign of life. Never failed: a tool may end its
 *   session on purpose.
 * - a new session of the same name is a new run of the same project.
 */
import { createHash } from 'node:crypto';
import type { TmuxSessionsSourceConfig } from '../config/sources.js';
import { lastSignOfLife } from '../core/rules/liveness.js';
import { compilePattern } from '../core/rules/patterns.js';
import { iso, PROJECT_ID_PATTERN, type Project } from '../core/model/project.js';
import type { RegistryDocument } from '../core/model/registry-document.js';
import type { Logger } from '../log.js';
import { readStartTime } from '../scan/proc-table.js';
import { describeSocket } from '../scan/tmux-command.js';
import { ownedBy, type Observed } from './merge.js';
import { listSessionPanes, tmuxSessionName, type SessionPane } from './panes.js';
import type { Source, SourcePass } from './source.js';

export interface SessionSourceDeps {
  log: Logger;
  tmuxTimeoutMs: number;
  /** How long an ended session's project waits for completion evidence before it is dropped. */
  graceMs: number;
}

/** `<prefix><session>`, shortened with a hash when it would not fit an id (64 characters). */
export function observedId(prefix: string, session: string): string {
  const id = `${prefix}${session}`;
  if (PROJECT_ID_PATTERN.test(id)) return id;
  const hash = createHash('sha256').update(session).digest('hex').slice(0, 8);
  return `${prefix}${session.slice(0, 63 - prefix.length - 9)}-${hash}`;
}

/** Whether the recorded process still runs (same start time). */
async function processLives(project: Project): Promise<boolean> {
  if (project.pid === null || project.pidStartTime === null) return false;
  return (await readStartTime(project.pid)) === project.pidStartTime;
}

export class TmuxSessionsSource implements Source {
  readonly location: string;
  private readonly pattern: RegExp;
  private readonly warned = new Set<string>();

  constructor(
    readonly config: TmuxSessionsSourceConfig,
    private readonly deps: SessionSourceDeps,
  ) {
    this.pattern = compilePattern(config.pattern);
    this.location = `sessions matching ${config.pattern} on ${describeSocket(config.tmuxSocket)}`;
  }

  forget(): void {
    // Every pass reads the server in full: nothing is cached.
  }

  async pass(doc: RegistryDocument, now: number): Promise<SourcePass> {
    const panes = await listSessionPanes(this.config.tmuxSocket, this.deps.tmuxTimeoutMs, (s) => this.pattern.test(s));
    const pass: SourcePass = { items: [], drops: [], skipped: false, rows: panes.size, unknownStatuses: [] };
    const present = new Set<string>();
    for (const pane of panes.values()) {
      if (tmuxSessionName(pane.session) !== pane.session) {
        if (!this.warned.has(pane.session)) {
          this.warned.add(pane.session);
          const why = 'session name cannot be a project session (letters, digits, "_", "-"); not observed';
          this.deps.log.warn(why, { source: this.config.name, session: pane.session });
        }
        continue;
      }
      if (pane.dead) continue;
      present.add(pane.session);
      pass.items.push(this.item(pane));
    }
    for (const p of doc.projects) {
      const shown = p.session !== null && present.has(p.session);
      if (!ownedBy(p, this.config) || p.state !== 'processing' || shown) continue;
      if (await processLives(p)) continue;
      const since = lastSignOfLife(p);
      if (since !== null && now - since > this.deps.graceMs) {
        const ago = Math.round((now - since) / 1000);
        const reason = `session ${p.session} ended with its process ${ago}s ago and no completion evidence came`;
        pass.drops.push({ id: p.id, reason: `${reason} (grace ${this.deps.graceMs / 1000}s)` });
      }
    }
    return pass;
  }

  private item(pane: SessionPane): Observed {
    const fields: Partial<Project> = { name: pane.session, session: pane.session, tmuxSocket: this.config.tmuxSocket };
    if (pane.path !== null) fields.projectDir = pane.path;
    if (pane.createdAt !== null) fields.enqueuedAt = iso(pane.createdAt);
    if (pane.pidStartTime !== null) Object.assign(fields, { pid: pane.pid, pidStartTime: pane.pidStartTime });
    return {
      id: observedId(this.config.idPrefix, pane.session),
      ref: pane.session,
      status: null,
      instance: pane.createdAt === null ? null : String(pane.createdAt / 1000),
      state: 'processing',
      fields,
      startedAt: pane.createdAt,
      endedAt: null,
      failureReason: null,
      extra: {},
    };
  }
}
