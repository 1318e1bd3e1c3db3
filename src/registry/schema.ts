/**
 * Registry schema version 1 (docs/design.md#the-document), validated with zod. Validation
 * normalises a document (missing optional fields become null/defaults) and
 * keeps unknown fields, so an orchestrator's own fields survive a rewrite.
 * Errors name the project and the field.
 */
import { z } from 'zod';
import {
  BREAKER_STATES,
  COMPLETION_METHODS,
  PROJECT_ID_PATTERN,
  PROJECT_STATES,
  SESSION_NAME_PATTERN,
  SOCKET_NAME_PATTERN,
  closedBreaker,
} from '../core/model/project.js';
import { AGENT_ACTIVITY_KINDS } from '../core/rules/agent-activity/catalogue.js';
import { emptyQueueBreaker, type RegistryDocument } from '../core/model/registry-document.js';
import { previewValue } from '../errors.js';

const ID_RULE = 'letters, digits, ".", "_", "-", 1-64 characters, starting with a letter or digit';
const SESSION_RULE = 'letters, digits, "_", "-", 1-128 characters (tmux rewrites "." and ":")';

const timestamp = z.iso.datetime({ message: 'must be an ISO-8601 UTC time such as 2026-11-26T10:00:00.000Z' });
const nullableTime = timestamp.nullable().default(null);
const count = z
  .number()
  .int('must be an integer')
  .min(0, 'must be 0 or more')
  .max(1_000_000_000, 'must be at most 1e9');
const text = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !s.includes('\0'), 'must not contain NUL');
const path = text(4096).refine((s) => s.startsWith('/'), 'must be an absolute path');

export const projectIdSchema = z.string().regex(PROJECT_ID_PATTERN, `must be ${ID_RULE}`);
export const sessionNameSchema = z.string().regex(SESSION_NAME_PATTERN, `must be ${SESSION_RULE}`);
export const tmuxSocketSchema = z
  .string()
  .max(4096)
  .refine((s) => (s.includes('/') ? s.startsWith('/') && !s.includes('\0') : SOCKET_NAME_PATTERN.test(s)), {
    message: 'must be a socket name (letters, digits, ".", "_", "-") or an absolute socket path',
  });
export const commandSchema = z
  .array(text(65536), { message: 'must be a list of strings (the program and its arguments)' })
  .min(1, 'must name a program')
  .max(1000, 'must have at most 1000 arguments')
  .refine((args) => (args[0] ?? '').length > 0, 'must name a program');

const stateSchema = z.enum(PROJECT_STATES, { message: `must be one of ${PROJECT_STATES.join(', ')}` });

const breakerSchema = z
  .looseObject({
    state: z.enum(BREAKER_STATES, { message: `must be one of ${BREAKER_STATES.join(', ')}` }),
    consecutiveFailures: count,
    openedAt: nullableTime,
    opens: count.default(0),
  })
  .default(() => ({ ...closedBreaker() }));

const historySchema = z.looseObject({
  at: timestamp,
  from: stateSchema,
  to: stateSchema,
  reason: text(4096),
  by: text(256),
});

const evidenceSchema = z.looseObject({
  method: z.enum(COMPLETION_METHODS),
  weight: z.number().min(0).max(100),
  detail: text(4096),
});

const completionSchema = z
  .looseObject({
    decision: z.enum(['completed', 'failed']),
    at: timestamp,
    score: z.number(),
    evidence: z.array(evidenceSchema).max(100),
  })
  .nullable()
  .default(null);

const sourceSchema = z
  .looseObject({
    kind: z.enum(['tmux-orchestrator', 'tmux-sessions'], { message: 'must be tmux-orchestrator or tmux-sessions' }),
    name: text(64),
    ref: text(256),
    status: text(256).nullable().default(null),
    heal: z.boolean().default(false),
  })
  .nullable()
  .optional();

const agentActivitySchema = z
  .looseObject({
    finding: z
      .looseObject({
        kind: z.enum(AGENT_ACTIVITY_KINDS, { message: `must be one of ${AGENT_ACTIVITY_KINDS.join(', ')}` }),
        agent: text(64),
        line: text(1024),
        since: timestamp,
        resetAt: nullableTime,
        resetFrom: z.enum(['text', 'default']).nullable().default(null),
      })
      .nullable()
      .default(null),
    progress: z
      .looseObject({ signature: text(64), since: timestamp })
      .nullable()
      .default(null),
    pausedMs: z
      .number()
      .int('must be an integer')
      .min(0, 'must be 0 or more')
      .max(1e13, 'must be at most 1e13')
      .default(0),
  })
  .nullable()
  .default(null);

export const projectSchema = z.looseObject({
  id: projectIdSchema,
  name: text(256).nullable().default(null),
  state: stateSchema,
  priority: z.number().int('must be an integer').min(-1_000_000).max(1_000_000).default(0),
  host: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be a host id (letters, digits, ".", "_", "-")')
    .nullable()
    .default(null),
  session: sessionNameSchema.nullable().default(null),
  sessionBase: sessionNameSchema.nullable().default(null),
  tmuxSocket: tmuxSocketSchema.nullable().default(null),
  pid: z
    .number()
    .int('must be an integer')
    .min(1, 'must be a PID (1 or more)')
    .max(4_194_304, 'must be a PID (at most 4194304)')
    .nullable()
    .default(null),
  pidStartTime: count.nullable().default(null),
  command: commandSchema.nullable().default(null),
  cwd: path.nullable().default(null),
  projectDir: path.nullable().default(null),
  enqueuedAt: timestamp,
  startedAt: nullableTime,
  heartbeatAt: nullableTime,
  endedAt: nullableTime,
  timeoutExtensions: count.default(0),
  timingOutSince: nullableTime,
  lastSeenAliveAt: nullableTime,
  attempts: count.default(0),
  maxAttempts: z.number().int().min(1, 'must be 1 or more').max(1000).nullable().default(null),
  nextAttemptAt: nullableTime,
  retry: z.boolean().default(true),
  breaker: breakerSchema,
  phases: z
    .array(z.looseObject({ name: text(256), done: z.boolean() }))
    .max(1000)
    .default([]),
  failureReason: text(1024).nullable().default(null),
  completion: completionSchema,
  exitStatus: z
    .number()
    .int('must be an integer')
    .min(0, 'must be 0 or more')
    .max(1000, 'must be at most 1000')
    .nullable()
    .default(null),
  lastOutput: z.array(text(4096)).max(100, 'must have at most 100 lines').nullable().default(null),
  staleMarkers: z
    .array(z.looseObject({ method: z.enum(['marker', 'failure_marker']), file: text(4096), modifiedAt: timestamp }))
    .max(100)
    .default([]),
  agentActivity: agentActivitySchema,
  history: z.array(historySchema).default([]),
  source: sourceSchema,
});

const queueSchema = z
  .looseObject({
    paused: z.boolean(),
    pausedAt: nullableTime,
    resumeAt: nullableTime,
    opens: count.default(0),
    trippedBy: z.array(z.string().max(64)).max(10_000).default([]),
    pausedBy: text(256).nullable().default(null),
  })
  .default(() => ({ ...emptyQueueBreaker() }));

const intentSchema = z.looseObject({
  id: text(128),
  project: z.string().max(64).nullable(),
  action: z.enum(['kill_tree', 'kill_session', 'launch']),
  pid: z.number().int().nullable(),
  pidStartTime: z.number().int().nullable(),
  session: z.string().max(128).nullable(),
  tmuxSocket: z.string().max(4096).nullable(),
  then: z
    .looseObject({ to: stateSchema, reason: text(4096), patch: z.record(z.string(), z.unknown()).optional() })
    .nullable()
    .default(null),
  at: timestamp,
  by: text(256),
});

export const documentSchema = z.looseObject({
  version: z.literal(1, { message: 'must be 1 (the only schema version this agent knows)' }),
  projects: z.array(z.unknown(), { message: 'must be a list of projects' }),
  queue: queueSchema,
  intents: z.array(intentSchema).max(100_000).default([]),
});

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function shortValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  return previewValue(value, 60);
}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');
}

/**
 * Deeper than any registry needs (a project is 4 levels deep). A file nested
 * deeper would overflow the stack of every recursive walk over it (stringify,
 * freeze, zod), so it is refused up front, naming where.
 */
export const MAX_NESTING = 64;

/**
 * Where `root` nests objects or lists more than MAX_NESTING levels deep, or null. Iterative: any depth is safe.
 * `startDepth` is the depth of `root` in the document (a project is at 2).
 */
function tooDeep(root: unknown, startDepth = 0): string | null {
  const stack: [value: unknown, depth: number, where: string][] = [[root, startDepth, '(document)']];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const [value, depth, where] = item;
    if (value === null || typeof value !== 'object') continue;
    if (depth > MAX_NESTING) return where;
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++)
        stack.push([value[i], depth + 1, depth < 2 ? `${where === '(document)' ? '' : where}[${i}]` : where]);
    } else {
      for (const key of Object.keys(value))
        stack.push([
          (value as Record<string, unknown>)[key],
          depth + 1,
          depth < 2 ? (where === '(document)' ? key : `${where}.${key}`) : where,
        ]);
    }
  }
  return null;
}

export type ValidationResult = { ok: true; document: RegistryDocument } | { ok: false; issues: string[] };

/** Validate and normalise a parsed registry document. */
export function validateDocument(raw: unknown): ValidationResult {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    const got = Array.isArray(raw) ? 'a list' : raw === null ? 'null' : typeof raw;
    return { ok: false, issues: [`the registry must be a JSON object with "version" and "projects", got ${got}`] };
  }
  const deep = tooDeep(raw);
  if (deep !== null) return { ok: false, issues: [`field "${deep}": nested more than ${MAX_NESTING} levels deep`] };
  const top = documentSchema.safeParse(raw);
  if (!top.success) {
    return {
      ok: false,
      issues: top.error.issues
        .slice(0, 20)
        .map(
          (i) => `field "${fieldPath(i.path) || '(document)'}": ${i.message}; got ${shortValue(valueAt(raw, i.path))}`,
        ),
    };
  }
  const issues: string[] = [];
  const projects: RegistryDocument['projects'] = [];
  const seen = new Map<string, number>();
  top.data.projects.forEach((candidate, index) => {
    const rawId = valueAt(candidate, ['id']);
    const label =
      typeof rawId === 'string' && rawId.length <= 64
        ? `project "${rawId}" (projects[${index}])`
        : `projects[${index}]`;
    const parsed = projectSchema.safeParse(candidate);
    if (!parsed.success) {
      for (const issue of parsed.error.issues.slice(0, 5)) {
        const got = shortValue(valueAt(candidate, issue.path));
        issues.push(`${label} field "${fieldPath(issue.path) || '(project)'}": ${issue.message}; got ${got}`);
      }
      return;
    }
    const project = parsed.data as RegistryDocument['projects'][number];
    const previous = seen.get(project.id);
    if (previous !== undefined) {
      issues.push(`${label} field "id": duplicate id, also used by projects[${previous}]`);
      return;
    }
    seen.set(project.id, index);
    projects.push(project);
  });
  if (issues.length > 0) return { ok: false, issues: issues.slice(0, 50) };
  return { ok: true, document: { ...top.data, projects } };
}

/**
 * The parts of {@link validateDocument} for a reader that validates a
 * document piece by piece (json/project-text.ts): the document without its
 * projects (whose `projects` is then any list), and one project, at the depth
 * it has in the document. Each answers null wherever validateDocument would
 * report a problem; the caller then runs validateDocument for the messages.
 * A document whose parts all pass, and whose project ids are unique,
 * validates to the same value as a whole.
 */
export function validateTop(raw: unknown): (Omit<RegistryDocument, 'projects'> & { projects: unknown[] }) | null {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || tooDeep(raw) !== null) return null;
  const top = documentSchema.safeParse(raw);
  return top.success ? top.data : null;
}

/** One project, as validateDocument would take it from the document's list (null where it would not). */
export function validateProject(raw: unknown): RegistryDocument['projects'][number] | null {
  if (tooDeep(raw, 2) !== null) return null;
  const parsed = projectSchema.safeParse(raw);
  return parsed.success ? parsed.data : null;
}
