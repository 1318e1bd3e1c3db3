/**
 * Re-reading a registry file that another writer changed, paid for what
 * changed: the file is cut into the text of each project and the rest, a
 * project whose text is byte for byte the text of a project in the version
 * read or written before is that version's validated project, and only the
 * others are parsed and validated. Comparing bytes costs a fraction of zod.
 *
 * The cut relies on the layout every writer of this project produces
 * (`serialise`: JSON.stringify with an indent of 2), in which each project
 * starts on a line `    {` and ends on the first line `    }` after it. What
 * makes the result exactly that of parsing and validating the whole file:
 *
 * - the projects list is `[`, then the projects separated by `,` and each
 *   preceded by a newline and four spaces, then a newline and `  ]` — checked
 *   byte by byte;
 * - the rest of the file, with `[]` in place of that list, is exactly what
 *   `serialise` prints for it once parsed (so it is valid JSON, the list is
 *   the value of its one top-level "projects" key, and nothing can hide in
 *   the layout);
 * - each project's text is one complete JSON value: parsed here, or equal to
 *   a text that was (or that `serialise` printed);
 * - validation is a function of a project's text alone, apart from the
 *   uniqueness of ids, which is checked over all of them.
 *
 * Anything else — another layout, any problem at all — answers null, and the
 * caller parses and validates the whole file as before, for the same result
 * and the same messages.
 */
import type { Project } from '../../core/model/project.js';
import type { RegistryDocument } from '../../core/model/registry-document.js';
import { validateProject, validateTop } from '../schema.js';

/** Serialised form written to disk: stable, readable, newline-terminated. */
export function serialise(doc: RegistryDocument): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/** Where the projects are in a registry file's bytes. */
export interface ProjectSpans {
  /** Offset of the projects list's `[`, and just past its `]`. */
  listStart: number;
  listEnd: number;
  /** Per project, in order: the offset of its `{`, and just past its `}`. */
  starts: number[];
  ends: number[];
}

const LIST_KEY = Buffer.from('\n  "projects": [');
const PROJECT_OPEN = Buffer.from('\n    {');
const PROJECT_CLOSE = Buffer.from('\n    }');
const LIST_CLOSE = Buffer.from('\n  ]');
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const SPACE = 0x20;
const NEWLINE = 0x0a;

/**
 * The first `\n    }` (PROJECT_CLOSE) that starts at `from` or later; -1 when there is none. The same answer
 * as `bytes.indexOf(PROJECT_CLOSE, from)`, found several times faster: a search for a pattern that starts
 * with a newline stops at every line of the file (a 10,000-project registry has 800,000), one for `}`
 * only at the end of each object (a dozen per project), each then checked for the newline and four
 * spaces before it.
 */
function projectClose(bytes: Buffer, from: number): number {
  const indent = PROJECT_CLOSE.length - 1;
  let at = from + indent;
  for (;;) {
    const brace = bytes.indexOf(CLOSE_BRACE, at);
    if (brace < 0) return -1;
    let k = 1;
    while (k < indent && bytes[brace - k] === SPACE) k += 1;
    if (k === indent && bytes[brace - indent] === NEWLINE) return brace - indent;
    at = brace + 1;
  }
}

function bytesAt(bytes: Buffer, expected: Buffer, at: number): boolean {
  return (
    at + expected.length <= bytes.length && bytes.compare(expected, 0, expected.length, at, at + expected.length) === 0
  );
}

/** The projects of a file in the serialiser's layout, or null when it is not in that layout. */
export function projectSpans(bytes: Buffer): ProjectSpans | null {
  const key = bytes.indexOf(LIST_KEY);
  if (key < 0) return null;
  const listStart = key + LIST_KEY.length - 1;
  const starts: number[] = [];
  const ends: number[] = [];
  if (bytes[listStart + 1] === CLOSE_BRACKET) return { listStart, listEnd: listStart + 2, starts, ends };
  let at = listStart + 1;
  for (;;) {
    if (!bytesAt(bytes, PROJECT_OPEN, at)) return null;
    const start = at + PROJECT_OPEN.length - 1;
    const close = projectClose(bytes, start);
    if (close < 0) return null;
    const end = close + PROJECT_CLOSE.length;
    starts.push(start);
    ends.push(end);
    if (bytes[end] === COMMA) at = end + 1;
    else if (bytesAt(bytes, LIST_CLOSE, end)) return { listStart, listEnd: end + LIST_CLOSE.length, starts, ends };
    else return null;
  }
}

/** A version of the file whose projects were validated: what the next re-read compares with. */
export interface KnownText {
  bytes: Buffer;
  /** Aligned with `projects`. */
  spans: ProjectSpans;
  projects: readonly Project[];
}

/** `"id": "<id>"` on the first line of a project as the serialiser prints it: where to look for its old text. */
const ID_PREFIX = Buffer.from('{\n      "id": "');
const QUOTE = 0x22;

function idHint(bytes: Buffer, start: number, end: number): string | null {
  if (!bytesAt(bytes, ID_PREFIX, start)) return null;
  const from = start + ID_PREFIX.length;
  const to = bytes.indexOf(QUOTE, from);
  return to < 0 || to > end || to - from > 64 ? null : bytes.toString('latin1', from, to);
}

/**
 * The validated document of `bytes`, reusing the projects of `known` whose
 * text did not change (none without `known`), with its spans for the next
 * re-read; null when the file is not in the serialiser's layout or anything
 * in it would not validate — then only a full parse and validation tells what.
 */
export function parseByProject(
  bytes: Buffer,
  known: KnownText | null,
): { document: RegistryDocument; spans: ProjectSpans; reused: number } | null {
  const spans = projectSpans(bytes);
  if (spans === null) return null;
  const rest = `${bytes.toString('utf8', 0, spans.listStart + 1)}]${bytes.toString('utf8', spans.listEnd)}`;
  let raw: unknown;
  try {
    raw = JSON.parse(rest);
  } catch {
    return null;
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || serialise(raw as RegistryDocument) !== rest)
    return null;
  const top = validateTop(raw);
  if (top === null) return null;

  const count = spans.starts.length;
  const projects = new Array<Project>(count);
  const ids = new Set<string>();
  let byId: Map<string, number> | null = null;
  let reused = 0;
  const sameAsKnown = (j: number, start: number, end: number): boolean => {
    if (known === null || j < 0 || j >= known.projects.length) return false;
    const ks = known.spans.starts[j] as number;
    const ke = known.spans.ends[j] as number;
    return ke - ks === end - start && bytes.compare(known.bytes, ks, ke, start, end) === 0;
  };
  for (let i = 0; i < count; i++) {
    const start = spans.starts[i] as number;
    const end = spans.ends[i] as number;
    let project: Project | null = null;
    if (known !== null) {
      let j = sameAsKnown(i, start, end) ? i : -1;
      if (j < 0) {
        // Moved (a project added or archived before it): find its old place by id, then compare.
        const id = idHint(bytes, start, end);
        byId ??= new Map(known.projects.map((p, k) => [p.id, k]));
        const k = id === null ? undefined : byId.get(id);
        if (k !== undefined && sameAsKnown(k, start, end)) j = k;
      }
      if (j >= 0) {
        project = known.projects[j] as Project;
        reused += 1;
      }
    }
    if (project === null) {
      let candidate: unknown;
      try {
        candidate = JSON.parse(bytes.toString('utf8', start, end));
      } catch {
        return null;
      }
      project = validateProject(candidate);
      if (project === null) return null;
    }
    if (ids.has(project.id)) return null;
    ids.add(project.id);
    projects[i] = project;
  }
  return { document: { ...top, projects } as RegistryDocument, spans, reused };
}

/**
 * What a cache entry (./document-cache.ts) offers a re-read: its bytes and
 * validated projects, with the spans worked out on first use for a file this
 * store wrote (the serialiser's own output, so they align unless the count
 * says otherwise); null when its layout is unknown.
 */
export function knownText(
  entry: { document: RegistryDocument; bytes: Buffer; spans: ProjectSpans | null | undefined } | null,
): KnownText | null {
  if (entry === null) return null;
  if (entry.spans === undefined) {
    const spans = projectSpans(entry.bytes);
    entry.spans = spans !== null && spans.starts.length === entry.document.projects.length ? spans : null;
  }
  return entry.spans === null ? null : { bytes: entry.bytes, spans: entry.spans, projects: entry.document.projects };
}
