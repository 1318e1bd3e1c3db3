/**
 * Validation of a document about to be written, paid for what changed: a
 * cycle that touches ten projects of thousands validates ten.
 */
import type { Project } from '../../core/model/project.js';
import type { RegistryDocument } from '../../core/model/registry-document.js';
import { validateDocument } from '../schema.js';

/**
 * Whether two JSON values print alike (key order aside): a key whose value is
 * undefined counts as absent, as JSON.stringify leaves it out. Walks without
 * allocating, unlike comparing two serialisations of a large registry.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let keys = 0;
  for (const key of Object.keys(ra)) {
    if (ra[key] === undefined) continue;
    keys += 1;
    if (!Object.hasOwn(rb, key) || !sameJson(ra[key], rb[key])) return false;
  }
  for (const key of Object.keys(rb)) if (rb[key] !== undefined) keys -= 1;
  return keys === 0;
}

/**
 * Validate a document about to be written. With `base` (the validated
 * document it was copied from), a project equal to its namesake in `base` is
 * taken as it is, already valid and normalised, and only the others and the
 * document's own fields go through the schema. Any problem, or a duplicate
 * id, is reported by the full validation, so its messages name the right
 * positions.
 */
export function validateChanges(
  doc: RegistryDocument,
  base: RegistryDocument | null,
): ReturnType<typeof validateDocument> {
  const full = () => validateDocument(JSON.parse(JSON.stringify(doc)));
  if (base === null || !Array.isArray(doc.projects)) return full();
  const previous = new Map(base.projects.map((p) => [p.id, p]));
  const projects: Project[] = new Array<Project>(doc.projects.length);
  const changed: unknown[] = [];
  const positions: number[] = [];
  const ids = new Set<unknown>();
  doc.projects.forEach((p, i) => {
    const id: unknown = (p as Partial<Project> | null)?.id;
    if (ids.has(id)) return;
    ids.add(id);
    const prev = typeof id === 'string' ? previous.get(id) : undefined;
    if (prev !== undefined && sameJson(p, prev)) projects[i] = prev;
    else {
      changed.push(p);
      positions.push(i);
    }
  });
  if (ids.size !== doc.projects.length) return full();
  const delta = validateDocument(JSON.parse(JSON.stringify({ ...doc, projects: changed })));
  if (!delta.ok) return full();
  delta.document.projects.forEach((p, j) => {
    projects[positions[j] as number] = p;
  });
  return { ok: true, document: { ...delta.document, projects } };
}
