/**
 * The registry document as Redis keys: read in one MULTI, assembled and
 * validated, and the difference to a new document as the arguments of the
 * commit script (only the projects whose JSON changed are written).
 */
import type { Project } from '../../core/model/project.js';
import { emptyDocument, type RegistryDocument } from '../../core/model/registry-document.js';
import { RegistryUnreadableError, messageOf } from '../../errors.js';
import { canonicalJson } from '../checksum.js';
import { validateDocument, type ValidationResult } from '../schema.js';
import type { AuditEntry } from '../store.js';
import type { RedisConnection } from './connection.js';

/** The keys of one registry under its prefix (see redis-store.ts for what each holds). */
export interface RegistryKeys {
  rev: string;
  meta: string;
  order: string;
  projects: string;
  audit: string;
  archive: string;
  lastGood: string;
  fence: string;
  /** The change channel. */
  changed: string;
}

export function registryKeys(prefix: string): RegistryKeys {
  const k = (suffix: string) => `${prefix}${suffix}`;
  return {
    rev: k('rev'),
    meta: k('meta'),
    order: k('order'),
    projects: k('projects'),
    audit: k('audit'),
    archive: k('archive'),
    lastGood: k('lastgood'),
    fence: k('leader:fence'),
    changed: k('changed'),
  };
}

/** What one MULTI read returns. */
export interface StoredState {
  rev: number;
  meta: string | null;
  order: string | null;
  projects: Record<string, string>;
  lastGoodAt: number | null;
}

export async function readState(conn: RedisConnection, k: RegistryKeys): Promise<StoredState> {
  const replies = await conn.call((r) =>
    r.multi().get(k.rev).get(k.meta).get(k.order).hgetall(k.projects).hget(k.lastGood, 'at').exec(),
  );
  if (!replies) throw new RegistryUnreadableError(`registry ${conn.location}: the read transaction was aborted`);
  const values = replies.map(([err, value]) => {
    if (err) throw conn.unreachable(err);
    return value;
  });
  const [rev, meta, order, projects, lastGoodAt] = values as [
    string | null,
    string | null,
    string | null,
    Record<string, string>,
    string | null,
  ];
  return { rev: Number(rev ?? 0), meta, order, projects, lastGoodAt: lastGoodAt === null ? null : Number(lastGoodAt) };
}

/** Assemble and validate the document from its keys. */
export function parseState(state: StoredState, k: RegistryKeys): ValidationResult {
  const ids = Object.keys(state.projects);
  if (state.meta === null && ids.length === 0) return { ok: true, document: emptyDocument() };
  const issues: string[] = [];
  let meta: Record<string, unknown> = { version: 1 };
  if (state.meta !== null) {
    try {
      const parsed = JSON.parse(state.meta) as unknown;
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || 'projects' in parsed) {
        issues.push(`key ${k.meta} must hold a JSON object without "projects"`);
      } else meta = parsed as Record<string, unknown>;
    } catch (err) {
      issues.push(`key ${k.meta} is not valid JSON: ${messageOf(err)}`);
    }
  }
  let order: string[] = [];
  if (state.order !== null) {
    try {
      const parsed = JSON.parse(state.order) as unknown;
      if (Array.isArray(parsed) && parsed.every((x) => typeof x === 'string')) order = parsed;
      else issues.push(`key ${k.order} must hold a JSON list of project ids`);
    } catch (err) {
      issues.push(`key ${k.order} is not valid JSON: ${messageOf(err)}`);
    }
  }
  // The order is an index: ids it misses come last (by id), ids it names that are gone are skipped.
  const listed = new Set(order);
  const sequence = [...order.filter((id) => id in state.projects), ...ids.filter((id) => !listed.has(id)).sort()];
  const projects: unknown[] = [];
  for (const id of sequence) {
    try {
      const project = JSON.parse(state.projects[id] as string) as unknown;
      const recorded = project !== null && typeof project === 'object' ? (project as { id?: unknown }).id : undefined;
      if (recorded !== id)
        issues.push(`project record "${id}" in ${k.projects} has id ${JSON.stringify(recorded) ?? 'nothing'}`);
      else projects.push(project);
    } catch (err) {
      issues.push(`project record "${id}" in ${k.projects} is not valid JSON: ${messageOf(err)}`);
    }
  }
  if (issues.length > 0) return { ok: false, issues };
  return validateDocument({ ...meta, projects });
}

/** The stored keys as one JSON text: what a corrupt copy keeps. */
export function dumpState(state: StoredState): string {
  return JSON.stringify({ meta: state.meta, order: state.order, projects: state.projects });
}

export interface CommitInput {
  state: StoredState;
  next: RegistryDocument;
  /** Whether `next` differs from the document read with `state`. */
  changed: boolean;
  audit: readonly AuditEntry[];
  archived: readonly Project[];
  fence: number | null | undefined;
  /** Whether the last good copy is due for a refresh. */
  lastGoodDue: boolean;
  now: number;
  maxLen: number;
  channel: string;
  writer: string;
}

/** The named arguments of the commit script (lua/commit-8.lua). */
export function commitArgs(c: CommitInput): Record<string, unknown> {
  const set: [string, string][] = [];
  const del: string[] = [];
  let meta = '';
  let order = '';
  if (c.changed) {
    const ids = new Set<string>();
    for (const p of c.next.projects) {
      ids.add(p.id);
      const json = JSON.stringify(p);
      if (c.state.projects[p.id] !== json) set.push([p.id, json]);
    }
    for (const id of Object.keys(c.state.projects)) if (!ids.has(id)) del.push(id);
    const { projects: _projects, ...rest } = c.next;
    meta = JSON.stringify(rest);
    if (meta === c.state.meta) meta = '';
    order = JSON.stringify(c.next.projects.map((p) => p.id));
    if (order === c.state.order) order = '';
  }
  return {
    expectedRev: c.state.rev,
    fence: c.fence === undefined || c.fence === null ? '' : String(c.fence),
    meta,
    order,
    set,
    del,
    audit: c.audit.map((e) => JSON.stringify(e)),
    archive: c.archived.map((p) => JSON.stringify(p)),
    maxLen: String(c.maxLen),
    lastGood: c.changed && c.lastGoodDue ? canonicalJson(c.next) : '',
    lastGoodAt: String(c.now),
    changed: c.changed,
    channel: c.channel,
    writer: c.writer,
  };
}

/** The named arguments of the replace script (lua/replace-5.lua). */
export function replaceArgs(
  doc: RegistryDocument,
  audit: AuditEntry | null,
  maxLen: number,
  channel: string,
  writer: string,
): Record<string, unknown> {
  const { projects, ...rest } = doc;
  return {
    meta: JSON.stringify(rest),
    order: JSON.stringify(projects.map((p) => p.id)),
    projects: projects.map((p) => [p.id, JSON.stringify(p)]),
    audit: audit ? JSON.stringify(audit) : '',
    maxLen: String(maxLen),
    channel,
    writer,
  };
}
