/**
 * Applying decisions to a registry document: the one place where transitions
 * and field updates land, so every writer (CLI, API, cycle) records history
 * and audit the same way. Pure: the document is changed in place, audit
 * records are returned for the store to append.
 */
import type { Actor, HistoryEntry, Project, ProjectState } from './project.js';
import type { RegistryDocument } from './registry-document.js';
import { annotate, transitionOrThrow, type TransitionOptions } from '../rules/state-machine.js';

/** An audit record of a transition or note, ready for the audit log. */
export interface TransitionRecord {
  at: string;
  type: 'transition' | 'note';
  project: string;
  from: ProjectState;
  to: ProjectState;
  reason: string;
  by: Actor;
  [extra: string]: unknown;
}

/**
 * Extra fields a state sets beyond the state machine's own (breaker counts,
 * next retry time). Supplied by the self-healing policy; identity by default.
 */
export type EnterHook = (
  project: Project,
  to: ProjectState,
  now: number,
  /** The fields the caller sets with the move (failureReason, retry...). */
  patch: Partial<Project>,
) => { patch: Partial<Project>; details: Record<string, unknown> };

export function findProject(doc: RegistryDocument, id: string): Project | undefined {
  return doc.projects.find((p) => p.id === id);
}

function replace(doc: RegistryDocument, next: Project): void {
  const index = doc.projects.findIndex((p) => p.id === next.id);
  if (index >= 0) doc.projects[index] = next;
  else doc.projects.push(next);
}

function record(project: string, entry: HistoryEntry, type: 'transition' | 'note'): TransitionRecord {
  return { ...entry, type, project, from: entry.from, to: entry.to, at: entry.at, reason: entry.reason, by: entry.by };
}

/** Move one project; throws IllegalTransitionError (nothing changed) when the move is not allowed. */
export function applyTransition(
  doc: RegistryDocument,
  project: Project,
  to: ProjectState,
  options: TransitionOptions,
  onEnter?: EnterHook,
): { project: Project; record: TransitionRecord } {
  const hook = onEnter ? onEnter(project, to, options.now, options.patch ?? {}) : { patch: {}, details: {} };
  const { project: next, entry } = transitionOrThrow(project, to, {
    ...options,
    patch: { ...hook.patch, ...options.patch },
    details: { ...hook.details, ...options.details },
  });
  replace(doc, next);
  return { project: next, record: record(project.id, entry, 'transition') };
}

/** Change fields without a state move; with a note, a history entry (from = to) is added too. */
export function applyUpdate(
  doc: RegistryDocument,
  project: Project,
  patch: Partial<Project>,
  note?: { reason: string; now: number; by: Actor; details?: Record<string, unknown> },
): { project: Project; record: TransitionRecord | null } {
  if (!note) {
    const next = { ...project, ...patch, id: project.id, state: project.state };
    replace(doc, next);
    return { project: next, record: null };
  }
  const { project: next, entry } = annotate(project, {
    now: note.now,
    by: note.by,
    reason: note.reason,
    patch,
    details: note.details,
  });
  replace(doc, next);
  return { project: next, record: record(project.id, entry, 'note') };
}
