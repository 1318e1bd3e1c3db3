/**
 * The `sources` configuration key: queues the agent watches without their
 * writers registering anything (docs/sources.md). Each entry is validated
 * here, with a message naming the entry, the field and what is allowed; the
 * loader adds the key and where the value came from.
 */
import { compilePattern } from '../core/rules/patterns.js';
import { messageOf } from '../errors.js';

export const SOURCE_KINDS = ['tmux-orchestrator', 'tmux-sessions'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

interface SourceBase {
  /** Label value of orchestrator_source_up{source}; unique among the sources. */
  name: string;
  /** Prefix of the ids of the projects this source imports (`to-`, `ts-`). */
  idPrefix: string;
  /** tmux server of the source's sessions: null for the default server, a socket name or a socket path. */
  tmuxSocket: string | null;
  /** Whether the agent may kill the process trees and sessions of this source's projects. */
  heal: boolean;
}

/** Tmux-Orchestrator's SQLite queue (`task_queue.db`). */
export interface TmuxOrchestratorSourceConfig extends SourceBase {
  kind: 'tmux-orchestrator';
  /** Absolute path of the database file. */
  db: string;
  /** True: never write back to the database. */
  readOnly: boolean;
  /** SQLite busy timeout of every read and write, in ms (their writers use 10 s). */
  busyTimeoutMs: number;
}

/** Every tmux session whose name matches `pattern`, as an observed project. */
export interface TmuxSessionsSourceConfig extends SourceBase {
  kind: 'tmux-sessions';
  pattern: string;
}

export type SourceConfig = TmuxOrchestratorSourceConfig | TmuxSessionsSourceConfig;

const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const PREFIX = /^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$/;
const SOCKET = /^(default|[A-Za-z0-9._-]{1,64}|\/[^\0]{1,4095})$/;

const FIELDS: Record<SourceKind, readonly string[]> = {
  'tmux-orchestrator': ['kind', 'name', 'idPrefix', 'db', 'tmuxSocket', 'readOnly', 'heal', 'busyTimeoutMs'],
  'tmux-sessions': ['kind', 'name', 'idPrefix', 'pattern', 'tmuxSocket', 'heal'],
};

/** Shown after "allowed:" when the value is not a list of entries. */
export const SOURCES_ALLOWED =
  'a list of sources, each {kind: tmux-orchestrator, db: /abs/path/task_queue.db} or ' +
  '{kind: tmux-sessions, pattern: "^regex"} (JSON in the environment); see docs/sources.md';

/** A source entry that is not valid: `field` names what is wrong, `allowed` what would be accepted. */
export class SourceConfigIssue extends Error {
  constructor(
    readonly where: string,
    readonly allowed: string,
  ) {
    super(`${where}; allowed: ${allowed}`);
  }
}

function issue(index: number, field: string | null, problem: string, allowed: string): never {
  throw new SourceConfigIssue(`sources[${index}]${field ? `.${field}` : ''} ${problem}`, allowed);
}

function optionalString(
  entry: Record<string, unknown>,
  index: number,
  field: string,
  pattern: RegExp,
  allowed: string,
): string | undefined {
  const value = entry[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) issue(index, field, `is ${JSON.stringify(value)}`, allowed);
  return value;
}

function optionalBool(entry: Record<string, unknown>, index: number, field: string): boolean | undefined {
  const value = entry[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') issue(index, field, `is ${JSON.stringify(value)}`, 'true or false');
  return value;
}

function parseEntry(raw: unknown, index: number): SourceConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    issue(index, null, `is ${JSON.stringify(raw)}`, SOURCES_ALLOWED);
  }
  const entry = raw as Record<string, unknown>;
  const kind = entry['kind'];
  if (typeof kind !== 'string' || !(SOURCE_KINDS as readonly string[]).includes(kind)) {
    issue(index, 'kind', `is ${JSON.stringify(kind)}`, SOURCE_KINDS.join(' or '));
  }
  const k = kind as SourceKind;
  const unknown = Object.keys(entry).filter((f) => !FIELDS[k].includes(f));
  if (unknown.length > 0) {
    issue(index, unknown[0] ?? null, `is not a field of a ${k} source`, `the fields ${FIELDS[k].join(', ')}`);
  }
  const nameAllowed = 'lower-case letters, digits, ".", "_", "-" (1-64, starting with a letter or digit)';
  const name = optionalString(entry, index, 'name', NAME, nameAllowed) ?? k;
  const socketAllowed = '"default", a socket name or an absolute socket path';
  const socket = optionalString(entry, index, 'tmuxSocket', SOCKET, socketAllowed);
  const tmuxSocket = socket === undefined || socket === 'default' ? null : socket;
  const prefixAllowed = 'letters, digits, ".", "_", "-" (1-16, starting with a letter or digit)';
  if (k === 'tmux-orchestrator') {
    const db = entry['db'];
    if (typeof db !== 'string' || !db.startsWith('/') || db.includes('\0') || db.length > 4096) {
      issue(index, 'db', `is ${JSON.stringify(db)}`, "the absolute path of Tmux-Orchestrator's task_queue.db");
    }
    const timeout = entry['busyTimeoutMs'];
    const validTimeout = typeof timeout === 'number' && Number.isInteger(timeout) && timeout >= 0 && timeout <= 600_000;
    if (timeout !== undefined && !validTimeout) {
      issue(index, 'busyTimeoutMs', `is ${JSON.stringify(timeout)}`, 'an integer from 0 to 600000');
    }
    return {
      kind: k,
      name,
      idPrefix: optionalString(entry, index, 'idPrefix', PREFIX, prefixAllowed) ?? 'to-',
      db,
      tmuxSocket,
      readOnly: optionalBool(entry, index, 'readOnly') ?? false,
      heal: optionalBool(entry, index, 'heal') ?? true,
      busyTimeoutMs: timeout ?? 10_000,
    };
  }
  const pattern = entry['pattern'];
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > 4096) {
    const allowed = 'a regular expression of session names, e.g. "^claudesquad_"';
    issue(index, 'pattern', `is ${JSON.stringify(pattern)}`, allowed);
  }
  try {
    compilePattern(pattern);
  } catch (err) {
    issue(index, 'pattern', `is ${JSON.stringify(pattern)}`, `a valid regular expression (${messageOf(err)})`);
  }
  return {
    kind: k,
    name,
    idPrefix: optionalString(entry, index, 'idPrefix', PREFIX, prefixAllowed) ?? 'ts-',
    pattern,
    tmuxSocket,
    heal: optionalBool(entry, index, 'heal') ?? false,
  };
}

/**
 * Validate a `sources` value: a list (or, from the environment or a flag,
 * its JSON text). Throws SourceConfigIssue naming the entry and field.
 */
export function parseSources(raw: unknown): SourceConfig[] {
  let value = raw;
  if (typeof raw === 'string') {
    if (raw.trim() === '') return [];
    try {
      value = JSON.parse(raw);
    } catch (err) {
      throw new SourceConfigIssue(`is not JSON (${messageOf(err)})`, SOURCES_ALLOWED);
    }
  }
  if (value === null) return [];
  if (!Array.isArray(value)) throw new SourceConfigIssue(`is ${typeof value}`, SOURCES_ALLOWED);
  if (value.length > 64) throw new SourceConfigIssue(`has ${value.length} entries`, 'at most 64 sources');
  const sources = value.map(parseEntry);
  const seen = new Map<string, number>();
  const prefixes = new Map<string, number>();
  sources.forEach((s, i) => {
    const before = seen.get(s.name);
    if (before !== undefined) {
      issue(i, 'name', `"${s.name}" is also the name of sources[${before}]`, 'a name per source (give each a "name")');
    }
    seen.set(s.name, i);
    const clash = [...prefixes.entries()].find(([p]) => p.startsWith(s.idPrefix) || s.idPrefix.startsWith(p));
    if (clash) {
      const allowed = 'an id prefix per source (give each an "idPrefix")';
      issue(i, 'idPrefix', `"${s.idPrefix}" overlaps the id prefix of sources[${clash[1]}]`, allowed);
    }
    prefixes.set(s.idPrefix, i);
  });
  return sources;
}
