/**
 * Reading state moves out of audit log entries, for the transition counter
 * and the project-duration histogram. Pure.
 */
import { PROJECT_STATES, ms, type Project, type ProjectState } from '../core/model/project.js';
import type { AuditEntry } from '../registry/store.js';

export interface AuditMove {
  project: string | null;
  from: ProjectState;
  to: ProjectState;
  /** Epoch ms of the move; null when the entry's time does not parse. */
  at: number | null;
}

function isState(value: unknown): value is ProjectState {
  return typeof value === 'string' && (PROJECT_STATES as readonly string[]).includes(value);
}

/**
 * The real move an entry records, or null: notes, actions, enqueues (`from`
 * null) and same-state entries are not moves, and unknown state names are
 * dropped so the label values stay bounded.
 */
export function moveOf(entry: AuditEntry): AuditMove | null {
  if (entry.type !== 'transition') return null;
  const { from, to } = entry;
  if (!isState(from) || !isState(to) || from === to) return null;
  return { project: entry.project, from, to, at: ms(entry.at) };
}

/**
 * When the attempt that ended at `endedAt` started: the project's `startedAt`
 * if it is not later than the end (no newer attempt has started since), else
 * the last move into processing before the end in its history. Null when
 * unknown.
 */
export function attemptStart(project: Project, endedAt: number): number | null {
  const started = ms(project.startedAt);
  if (started !== null && started <= endedAt) return started;
  for (let i = project.history.length - 1; i >= 0; i--) {
    const h = project.history[i];
    if (!h || h.to !== 'processing' || h.from === 'processing') continue;
    const t = ms(h.at);
    if (t !== null && t <= endedAt) return t;
  }
  return null;
}
