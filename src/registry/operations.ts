/**
 * What an orchestrator or operator reports, as registry operations: enqueue,
 * start, heartbeat, complete, fail, reset, and pausing or resuming the queue.
 * The CLI and the HTTP API both call these, so validation and history are
 * the same on every path.
 */
import { stat } from 'node:fs/promises';
import {
  applyTransition,
  applyUpdate,
  findProject,
  type EnterHook,
  type TransitionRecord,
} from '../core/model/apply.js';
import { closedBreaker, iso, isActive, newProject, type Actor, type Project } from '../core/model/project.js';
import {
  parsePauseEnd,
  pauseQueue as pauseQueueRecord,
  resumeQueue as resumeQueueRecord,
} from '../core/policy/queue-breaker.js';
import type { QueueBreakerRecord, RegistryDocument } from '../core/model/registry-document.js';
import { unwatchedRefusal, type ServerConfig } from '../core/policy/tmux-servers.js';
import { ConflictError, InputError, UnknownProjectError } from '../errors.js';
import { commandSchema, projectIdSchema, sessionNameSchema, tmuxSocketSchema } from './schema.js';
import type { RegistryStore, Transaction } from './store.js';

export interface OperationContext {
  store: RegistryStore;
  now: () => number;
  by: Actor;
  /** Policy fields set on entering a state (breaker, retry time); see core/model/apply. */
  onEnter?: EnterHook;
  /** The tmux servers the agent watches (config `tmuxSockets`); a project is refused any other. Default: all. */
  servers?: ServerConfig;
}

/** `label` is the field in words for the message, `field` its name in the API (InputError.field). */
function check<T>(
  schema: {
    safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
  },
  label: string,
  value: unknown,
  field: string,
): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const shown = JSON.stringify(value) ?? String(value);
  const cut = shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
  throw new InputError(`invalid ${label} ${cut}: ${parsed.error.issues[0]?.message ?? 'invalid'}`, { field });
}

export function validateProjectId(id: unknown): string {
  return check(projectIdSchema, 'project id', id, 'id');
}

function mustFind(doc: RegistryDocument, id: string): Project {
  const project = findProject(doc, id);
  if (!project) throw new UnknownProjectError(id);
  return project;
}

function auditAll(tx: Transaction, records: (TransitionRecord | null)[]): void {
  for (const r of records) if (r) tx.audit(r);
}

export interface EnqueueInput {
  id: string;
  name?: string | undefined;
  session?: string | undefined;
  tmuxSocket?: string | undefined;
  cwd?: string | undefined;
  projectDir?: string | undefined;
  priority?: number | undefined;
  maxAttempts?: number | undefined;
  command?: string[] | undefined;
}

/**
 * The command's working directory must exist when it is enqueued: tmux would
 * otherwise start the command elsewhere, and a launch that cannot start only
 * fails later, when nobody is looking. (Checked on the host that enqueues.)
 */
async function checkDirectory(cwd: string): Promise<void> {
  const refuse = (why: string) =>
    new InputError(`invalid cwd ${JSON.stringify(cwd)}: ${why}; it must be an existing directory`, { field: 'cwd' });
  const info = await stat(cwd).catch((err: NodeJS.ErrnoException) => err);
  if (info instanceof Error) {
    const missing = info.code === 'ENOENT' || info.code === 'ENOTDIR';
    throw refuse(missing ? 'no such directory' : `cannot be read (${info.code ?? info.message})`);
  }
  if (!info.isDirectory()) throw refuse('not a directory');
}

export async function enqueue(ctx: OperationContext, input: EnqueueInput): Promise<Project> {
  const id = validateProjectId(input.id);
  if (input.session !== undefined) check(sessionNameSchema, 'session name', input.session, 'session');
  if (input.tmuxSocket !== undefined) {
    check(tmuxSocketSchema, 'tmux socket', input.tmuxSocket, 'tmuxSocket');
    const refusal = ctx.servers ? unwatchedRefusal(input.tmuxSocket, ctx.servers) : null;
    if (refusal !== null) {
      const advice = 'add it there, or leave the socket out to use the first of them';
      throw new InputError(`invalid tmux socket ${JSON.stringify(input.tmuxSocket)}: ${refusal}; ${advice}`, {
        field: 'tmuxSocket',
      });
    }
  }
  if (input.command !== undefined && input.command.length > 0)
    check(commandSchema, 'command', input.command, 'command');
  for (const [label, value, field] of [
    ['cwd', input.cwd, 'cwd'],
    ['project dir', input.projectDir, 'projectDir'],
  ] as const) {
    if (value !== undefined && !value.startsWith('/'))
      throw new InputError(`invalid ${label} ${JSON.stringify(value)}: must be an absolute path`, { field });
  }
  if (input.cwd !== undefined) await checkDirectory(input.cwd);
  if (input.priority !== undefined && (!Number.isInteger(input.priority) || Math.abs(input.priority) > 1_000_000)) {
    throw new InputError(`invalid priority ${input.priority}: must be an integer from -1000000 to 1000000`, {
      field: 'priority',
    });
  }
  if (
    input.maxAttempts !== undefined &&
    (!Number.isInteger(input.maxAttempts) || input.maxAttempts < 1 || input.maxAttempts > 1000)
  ) {
    throw new InputError(`invalid max attempts ${input.maxAttempts}: must be an integer from 1 to 1000`, {
      field: 'maxAttempts',
    });
  }
  if (input.name !== undefined && (input.name.length > 256 || input.name.includes('\0'))) {
    throw new InputError('invalid name: must be at most 256 characters without NUL', { field: 'name' });
  }
  return ctx.store.update((doc, tx) => {
    if (findProject(doc, id))
      throw new ConflictError(`a project with id "${id}" already exists; use "agent reset ${id}" to run it again`);
    const at = iso(ctx.now());
    const command = input.command !== undefined && input.command.length > 0 ? input.command : null;
    const launched = command !== null;
    const project = newProject({
      id,
      enqueuedAt: at,
      name: input.name ?? null,
      // The agent names every session it launches afresh (`<session>-<8 hex>`); an orchestrator's is exact.
      session: launched ? null : (input.session ?? null),
      sessionBase: launched ? (input.session ?? null) : null,
      tmuxSocket: input.tmuxSocket ?? null,
      cwd: input.cwd ?? null,
      projectDir: input.projectDir ?? input.cwd ?? null,
      priority: input.priority ?? 0,
      maxAttempts: input.maxAttempts ?? null,
      command,
    });
    doc.projects.push(project);
    tx.audit({ at, type: 'transition', project: id, from: null, to: 'queued', reason: 'enqueued', by: ctx.by });
    return project;
  });
}

export interface StartInput {
  pid: number;
  /** Start time of the PID in clock ticks (read by the caller from /proc). */
  pidStartTime: number | null;
  session?: string | undefined;
  tmuxSocket?: string | undefined;
  host?: string | undefined;
}

/** The checks of a reported start that need no I/O: callers run them before they look the PID up. */
export function validateStartInput(id: string, input: Pick<StartInput, 'pid' | 'session' | 'tmuxSocket'>): void {
  validateProjectId(id);
  if (!Number.isInteger(input.pid) || input.pid < 1 || input.pid > 4_194_304)
    throw new InputError(`invalid pid ${input.pid}: must be an integer from 1 to 4194304`, { field: 'pid' });
  if (input.session !== undefined) check(sessionNameSchema, 'session name', input.session, 'session');
  if (input.tmuxSocket !== undefined) check(tmuxSocketSchema, 'tmux socket', input.tmuxSocket, 'tmuxSocket');
}

export async function start(ctx: OperationContext, id: string, input: StartInput): Promise<Project> {
  validateStartInput(id, input);
  return ctx.store.update((doc, tx) => {
    const project = mustFind(doc, id);
    const patch: Partial<Project> = { pid: input.pid, pidStartTime: input.pidStartTime };
    if (input.session !== undefined) patch.session = input.session;
    if (input.tmuxSocket !== undefined) patch.tmuxSocket = input.tmuxSocket;
    // The process runs where its start is reported from: that host owns the project now, whichever ran an
    // earlier attempt.
    if (input.host !== undefined) patch.host = input.host;
    const { project: next, record } = applyTransition(
      doc,
      project,
      'processing',
      { now: ctx.now(), by: ctx.by, reason: 'started (reported)', patch },
      ctx.onEnter,
    );
    tx.audit(record);
    return next;
  });
}

export async function heartbeat(ctx: OperationContext, id: string): Promise<Project> {
  validateProjectId(id);
  return ctx.store.update((doc) => {
    const project = mustFind(doc, id);
    if (!isActive(project.state)) {
      throw new ConflictError(
        `project "${id}" is ${project.state}; heartbeats are accepted only while processing, timing_out or zombie`,
      );
    }
    const at = iso(ctx.now());
    // Heartbeats are frequent: they update the record but are not history or audit lines.
    return applyUpdate(doc, project, { heartbeatAt: at, lastSeenAliveAt: at }).project;
  });
}

export async function complete(ctx: OperationContext, id: string): Promise<Project> {
  validateProjectId(id);
  return ctx.store.update((doc, tx) => {
    const project = mustFind(doc, id);
    const now = ctx.now();
    const { project: next, record } = applyTransition(
      doc,
      project,
      'completed',
      {
        now,
        by: ctx.by,
        reason: 'completed (reported)',
        patch: {
          completion: {
            decision: 'completed',
            at: iso(now),
            score: 1,
            evidence: [{ method: 'reported', weight: 1, detail: `reported by ${ctx.by}` }],
          },
        },
      },
      ctx.onEnter,
    );
    tx.audit(record);
    return next;
  });
}

export interface FailInput {
  reason?: string | undefined;
  noRetry?: boolean | undefined;
}

export const FAILURE_REASON_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._:/-]{0,199}$/;

export async function fail(ctx: OperationContext, id: string, input: FailInput): Promise<Project> {
  validateProjectId(id);
  const reason = input.reason ?? 'reported';
  if (!FAILURE_REASON_PATTERN.test(reason)) {
    throw new InputError(
      `invalid failure reason ${JSON.stringify(reason.slice(0, 60))}: ` +
        'letters, digits, spaces and ._:/- only, 1-200 characters',
      { field: 'reason' },
    );
  }
  return ctx.store.update((doc, tx) => {
    const project = mustFind(doc, id);
    const patch: Partial<Project> = { failureReason: reason };
    if (input.noRetry) patch.retry = false;
    const { project: next, record } = applyTransition(
      doc,
      project,
      'failed',
      { now: ctx.now(), by: ctx.by, reason: `failed (reported): ${reason}`, patch },
      ctx.onEnter,
    );
    tx.audit(record);
    return next;
  });
}

/**
 * Back to queued with attempts and breaker reset, and what its agent was seen
 * waiting on forgotten (a usage limit it recorded no longer holds launches:
 * the operator's way to end a hold early). A completed project needs
 * `force` (a deliberate re-run); a live one is refused here: the caller with
 * `--force` kills it first and then calls this.
 */
export async function reset(ctx: OperationContext, id: string, options: { force?: boolean }): Promise<Project> {
  validateProjectId(id);
  return ctx.store.update((doc, tx) => {
    const project = mustFind(doc, id);
    if (project.state === 'queued') {
      const fresh = { attempts: 0, breaker: closedBreaker(), nextAttemptAt: null, retry: true, agentActivity: null };
      const note = { now: ctx.now(), by: ctx.by, reason: 'reset (already queued)' };
      const { project: next, record } = applyUpdate(doc, project, fresh, note);
      auditAll(tx, [record]);
      return next;
    }
    if (isActive(project.state)) {
      throw new ConflictError(
        `project "${id}" is ${project.state} (live); ` +
          `"agent reset ${id} --force" kills its process tree and session first`,
      );
    }
    if (project.state === 'completed' && !options.force) {
      throw new ConflictError(`project "${id}" is completed; "agent reset ${id} --force" runs it again`);
    }
    const { project: next, record } = applyTransition(doc, project, 'queued', {
      now: ctx.now(),
      by: ctx.by,
      reason: options.force ? 'reset --force' : 'reset',
      patch: {
        attempts: 0,
        breaker: closedBreaker(),
        retry: true,
        failureReason: null,
        completion: null,
        agentActivity: null,
      },
    });
    tx.audit(record);
    return next;
  });
}

export interface QueueChange {
  queue: QueueBreakerRecord;
  /** The record before the change. */
  previous: QueueBreakerRecord;
  /** False when there was nothing to do (resuming a queue that runs). */
  changed: boolean;
}

/**
 * `agent queue pause [--until T]`: no launches and no retries until `until`
 * (an ISO time or a duration such as 30m), or until resumed when absent.
 * Audited as a note with the actor.
 */
export async function pauseQueue(ctx: OperationContext, input: { until?: string | undefined }): Promise<QueueChange> {
  const now = ctx.now();
  const until = input.until === undefined ? null : parsePauseEnd(input.until, now);
  return ctx.store.update((doc, tx) => {
    const previous = doc.queue;
    doc.queue = pauseQueueRecord(previous, now, ctx.by, until);
    const reason = 'queue paused by operator';
    tx.audit({ at: iso(now), type: 'note', project: null, by: ctx.by, reason, queue: doc.queue });
    return { queue: doc.queue, previous, changed: true };
  });
}

/** `agent queue resume`: launches and retries go on now, whoever paused the queue. Audited. */
export async function resumeQueue(ctx: OperationContext): Promise<QueueChange> {
  return ctx.store.update((doc, tx) => {
    const now = ctx.now();
    const previous = doc.queue;
    doc.queue = resumeQueueRecord(previous, now);
    if (doc.queue === previous) return { queue: previous, previous, changed: false };
    const reason = 'queue resumed by operator';
    tx.audit({
      at: iso(now),
      type: 'note',
      project: null,
      by: ctx.by,
      reason,
      pausedBy: previous.pausedBy,
      queue: doc.queue,
    });
    return { queue: doc.queue, previous, changed: true };
  });
}
