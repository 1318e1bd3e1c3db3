/**
 * Bringing what a source shows into the registry: create the projects it
 * starts showing, refresh their fields, follow its status changes, drop what
 * it no longer has. Pure: the document changes in place, audit lines and
 * archived projects go to the sink, `now` is an argument.
 *
 * A status change the source made is followed through the state machine:
 * the shortest path of allowed moves to the state the new status maps to
 * (their phantom check requeues a processing row: processing → failed →
 * queued), each move with the statuses in its reason. Nothing is written
 * outside the machine. A status the source did not change leaves the
 * agent's own state alone (a zombie or timing_out the agent found stays).
 */
import { applyTransition, applyUpdate, findProject, type EnterHook } from '../core/model/apply.js';
import { iso, newProject, TERMINAL_STATES } from '../core/model/project.js';
import type { Project, ProjectSource, ProjectState } from '../core/model/project.js';
import type { RegistryDocument } from '../core/model/registry-document.js';
import { TRANSITIONS } from '../core/rules/state-machine.js';
import type { Transaction } from '../registry/store.js';

/** One project as a source shows it. */
export interface Observed {
  id: string;
  /** The source's key (row id, session name). */
  ref: string;
  /** The status exactly as the source wrote it; null when it has none. */
  status: string | null;
  /** Which instance of `ref` this is (a recreated session); a change is followed like a status change. */
  instance: string | null;
  /** The state `status` maps to. */
  state: ProjectState;
  /** Fields kept in step with the source on every pass (undefined: leave as is). */
  fields: Partial<Project>;
  /** When the current attempt started and ended, by the source's clock (epoch ms). */
  startedAt: number | null;
  endedAt: number | null;
  /** failureReason when the source failed it. */
  failureReason: string | null;
  /** Source fields beyond kind/name/ref/status/heal (spec path, batch...). */
  extra: Record<string, unknown>;
}

export interface SourceIdentity {
  kind: ProjectSource['kind'];
  name: string;
  heal: boolean;
}

export interface MergeContext {
  now: number;
  /** Who the moves are recorded as: `source@<name>`. */
  by: string;
  hostId: string;
  onEnter?: EnterHook;
}

export interface MergeSummary {
  created: number;
  updated: number;
  moved: number;
  dropped: number;
  /** Ids the source wanted that belong to a project it does not own: left alone. */
  conflicts: string[];
  /** Every move made, in order. */
  moves: { project: string; from: ProjectState; to: ProjectState; reason: string }[];
}

export type MergeSink = Pick<Transaction, 'audit' | 'archive'>;

/** Whether `project` was imported by this source. */
export function ownedBy(project: Project, source: Pick<SourceIdentity, 'name'>): boolean {
  return project.source !== undefined && project.source !== null && project.source.name === source.name;
}

/** The shortest list of allowed moves from `from` to `to` (empty when equal). */
export function pathOf(from: ProjectState, to: ProjectState): ProjectState[] {
  if (from === to) return [];
  const previous = new Map<ProjectState, ProjectState>([[from, from]]);
  const queue: ProjectState[] = [from];
  for (let state = queue.shift(); state !== undefined; state = queue.shift()) {
    for (const next of TRANSITIONS[state]) {
      if (previous.has(next)) continue;
      previous.set(next, state);
      if (next === to) {
        const path: ProjectState[] = [to];
        for (let at = state; at !== from; at = previous.get(at) as ProjectState) path.unshift(at);
        return path;
      }
      queue.push(next);
    }
  }
  return [];
}

function sourceRecord(source: SourceIdentity, item: Observed, previous?: ProjectSource | null): ProjectSource {
  const { ref, status, instance } = item;
  return { ...previous, ...item.extra, kind: source.kind, name: source.name, ref, status, instance, heal: source.heal };
}

function isoOrNull(t: number | null): string | null {
  return t === null ? null : iso(t);
}

function create(doc: RegistryDocument, sink: MergeSink, source: SourceIdentity, item: Observed, ctx: MergeContext) {
  const at = iso(ctx.now);
  const active = item.state !== 'queued';
  const project = newProject({
    ...item.fields,
    id: item.id,
    enqueuedAt: item.fields.enqueuedAt ?? isoOrNull(item.startedAt) ?? at,
    state: item.state,
    host: ctx.hostId,
    attempts: active ? 1 : 0,
    startedAt: active ? (isoOrNull(item.startedAt) ?? at) : null,
    endedAt: TERMINAL_STATES.includes(item.state) ? (isoOrNull(item.endedAt) ?? at) : null,
    failureReason: item.state === 'failed' ? item.failureReason : null,
    source: sourceRecord(source, item, null),
  });
  doc.projects.push(project);
  const reason = `imported from source ${source.name} (${describe(item)})`;
  sink.audit({ at, type: 'transition', project: item.id, from: null, to: item.state, reason, by: ctx.by });
}

function describe(item: Observed): string {
  return `${item.ref}${item.status === null ? '' : `, status ${item.status}`}`;
}

/** Fields of `next` that differ from `project` (JSON equality). */
function changedFields(project: Project, next: Partial<Project>): Partial<Project> {
  const patch: Partial<Project> = {};
  for (const [key, value] of Object.entries(next)) {
    if (value === undefined || JSON.stringify(project[key]) === JSON.stringify(value)) continue;
    (patch as Record<string, unknown>)[key] = value;
  }
  return patch;
}

/** Follow the source's change of status: the moves from the agent's state to the mapped one. */
function follow(
  doc: RegistryDocument,
  sink: MergeSink,
  project: Project,
  item: Observed,
  source: SourceIdentity,
  ctx: MergeContext,
  moves: MergeSummary['moves'],
): Project {
  const path = pathOf(project.state, item.state);
  const old = project.source?.status ?? null;
  const renewed = item.instance !== (project.source?.instance ?? null) ? ' (new session)' : '';
  const reason = `source ${source.name}: status ${old ?? '(none)'} -> ${item.status ?? '(none)'}${renewed}`;
  let current = project;
  path.forEach((to, i) => {
    const last = i === path.length - 1;
    const patch: Partial<Project> = {};
    if (to === 'processing') {
      patch.startedAt = isoOrNull(item.startedAt) ?? iso(ctx.now);
      if (last && item.fields.pid !== undefined) {
        Object.assign(patch, { pid: item.fields.pid, pidStartTime: item.fields.pidStartTime ?? null });
      }
    }
    if (to === 'failed') patch.failureReason = last ? (item.failureReason ?? 'source_failed') : 'source_restarted';
    if (last && (to === 'failed' || to === 'completed') && item.endedAt !== null) patch.endedAt = iso(item.endedAt);
    const options = { now: ctx.now, by: ctx.by, reason: last ? reason : `${reason} (via ${to})`, patch };
    const { project: next, record } = applyTransition(doc, current, to, options, ctx.onEnter);
    sink.audit(record);
    moves.push({ project: project.id, from: record.from, to: record.to, reason: record.reason });
    current = next;
  });
  return current;
}

/**
 * Merge `items` (what the source shows this pass) into `doc`, then drop the
 * projects in `drops` (id and why). Projects of another owner are never
 * touched; a source does not import a project it first sees terminal (its
 * history is not the agent's to watch).
 */
export function mergeObserved(
  doc: RegistryDocument,
  sink: MergeSink,
  source: SourceIdentity,
  items: readonly Observed[],
  drops: readonly { id: string; reason: string }[],
  ctx: MergeContext,
): MergeSummary {
  const summary: MergeSummary = { created: 0, updated: 0, moved: 0, dropped: 0, conflicts: [], moves: [] };
  const byId = new Map(doc.projects.map((p) => [p.id, p]));
  for (const item of items) {
    const existing = byId.get(item.id);
    if (!existing) {
      if (TERMINAL_STATES.includes(item.state)) continue;
      create(doc, sink, source, item, ctx);
      summary.created += 1;
      continue;
    }
    if (!ownedBy(existing, source)) {
      summary.conflicts.push(item.id);
      continue;
    }
    let project = existing;
    const was = project.source;
    const changed = item.status !== (was?.status ?? null) || item.instance !== (was?.instance ?? null);
    if (changed && item.state !== project.state) {
      project = follow(doc, sink, project, item, source, ctx, summary.moves);
      summary.moved += 1;
    }
    const fields = { ...item.fields };
    // A heartbeat only moves forward; the agent's own sightings are never taken back.
    const beat = fields.heartbeatAt;
    const stale = beat !== undefined && beat !== null && project.heartbeatAt !== null && beat <= project.heartbeatAt;
    if (stale) delete fields.heartbeatAt;
    delete fields.enqueuedAt;
    const patch = changedFields(project, { ...fields, source: sourceRecord(source, item, project.source) });
    if (Object.keys(patch).length > 0) {
      applyUpdate(doc, findProject(doc, project.id) ?? project, patch);
      summary.updated += 1;
    }
  }
  for (const drop of drops) {
    const project = findProject(doc, drop.id);
    if (!project || !ownedBy(project, source)) continue;
    doc.projects = doc.projects.filter((p) => p.id !== drop.id);
    sink.archive(project);
    const { id, state } = project;
    const reason = `dropped: ${drop.reason}`;
    sink.audit({ at: iso(ctx.now), type: 'note', project: id, from: state, to: state, reason, by: ctx.by });
    summary.dropped += 1;
  }
  return summary;
}
