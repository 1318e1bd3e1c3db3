/**
 * The write API: what an orchestrator reports (enqueue, start, heartbeat,
 * complete, fail), what an operator does (reset, heal, pause or resume the
 * queue), through the same
 * registry operations as the CLI. Every route needs the bearer token; the
 * actor recorded in history and audit is `api@<host>`.
 */
import express, { type RequestHandler, type Response } from 'express';
import { policyEnterHook } from '../core/policy/policy-hooks.js';
import type { Project } from '../core/model/project.js';
import { InputError } from '../errors.js';
import type { ActionOutcome } from '../heal/execute.js';
import { failProject, resetProject, type ProjectActionContext } from '../heal/project-actions.js';
import {
  complete,
  enqueue,
  heartbeat,
  pauseQueue,
  resumeQueue,
  start,
  validateProjectId,
  validateStartInput,
  type OperationContext,
} from '../registry/operations.js';
import { checkReportedPid } from '../scan/reported-pid.js';
import type { ServerDeps } from './app.js';
import { requireToken } from './auth.js';
import { checkBody, jsonBody, type Shape } from './body.js';

const ENQUEUE = {
  id: { type: 'string', required: true },
  name: { type: 'string' },
  session: { type: 'string' },
  tmuxSocket: { type: 'string' },
  cwd: { type: 'string' },
  projectDir: { type: 'string' },
  priority: { type: 'integer' },
  maxAttempts: { type: 'integer' },
  command: { type: 'strings', what: 'the program and its arguments' },
} as const satisfies Shape;

// The PID range is checked before /proc is read (as the CLI's --pid parser does).
const START = {
  pid: { type: 'integer', required: true, min: 1, max: 4_194_304 },
  session: { type: 'string' },
  tmuxSocket: { type: 'string' },
} as const satisfies Shape;

const NOTHING = {} as const satisfies Shape;
const FAIL = { reason: { type: 'string' }, noRetry: { type: 'boolean' } } as const satisfies Shape;
const RESET = { force: { type: 'boolean' } } as const satisfies Shape;
const PAUSE = { until: { type: 'string' } } as const satisfies Shape;

function actionsOf(outcomes: readonly ActionOutcome[]) {
  return outcomes.map((o) => ({
    project: o.action.project,
    action: o.action.kind,
    outcome: o.outcome,
    detail: o.detail,
  }));
}

export function writeApi(deps: ServerDeps): express.Router {
  const router = express.Router();
  const by = `api@${deps.hostId}`;
  const { store, config, now, hostId } = deps;
  const ops: OperationContext = { store, now, by, onEnter: policyEnterHook(config, Math.random), servers: config };
  const actions: ProjectActionContext = { store, config, now, by, hostId, operations: ops };
  // Authentication comes before the body is read: an unauthenticated client gets 401/403, never a parse error.
  const guard: RequestHandler[] = [requireToken(deps.config.apiToken), ...jsonBody()];
  const idOf = (params: Record<string, unknown>) => validateProjectId(params['id']);
  const sendProject = (res: Response, project: Project, status = 200) => res.status(status).json({ project });
  const logWrite = (what: string, project: string | null, extra: Record<string, unknown> = {}) =>
    deps.log.info(`api: ${what}`, { project, by, ...extra });

  router.post('/api/projects', ...guard, async (req, res) => {
    const body = checkBody(req.body, ENQUEUE);
    const command = body.command ?? [];
    // The CLI runs a command where the operator stands; over HTTP there is no such place, so it must be said.
    if (command.length > 0 && body.cwd === undefined) {
      throw new InputError('field "cwd" is required with a command: the absolute directory the command runs in', {
        field: 'cwd',
      });
    }
    const project = await enqueue(ops, { ...body, command });
    logWrite('enqueued', project.id);
    res.location(`/api/projects/${encodeURIComponent(project.id)}`);
    sendProject(res, project, 201);
  });

  router.post('/api/projects/:id/start', ...guard, async (req, res) => {
    const id = idOf(req.params);
    const body = checkBody(req.body, START);
    validateStartInput(id, body);
    const self = { pid: process.pid, what: 'the agent daemon serving this API' };
    const options = { store: deps.store, config: deps.config, tmuxSocket: body.tmuxSocket, self };
    const pidStartTime = await checkReportedPid(body.pid, options);
    const project = await start(ops, id, {
      pid: body.pid,
      pidStartTime,
      session: body.session,
      tmuxSocket: body.tmuxSocket,
      host: deps.hostId,
    });
    logWrite('started', id, { pid: body.pid });
    sendProject(res, project);
  });

  router.post('/api/projects/:id/heartbeat', ...guard, async (req, res) => {
    const id = idOf(req.params);
    checkBody(req.body, NOTHING);
    // Heartbeats are frequent: logged at debug only.
    const project = await heartbeat(ops, id);
    deps.log.debug('api: heartbeat', { project: id, by });
    sendProject(res, project);
  });

  router.post('/api/projects/:id/complete', ...guard, async (req, res) => {
    const id = idOf(req.params);
    checkBody(req.body, NOTHING);
    const project = await complete(ops, id);
    logWrite('completed', id);
    sendProject(res, project);
  });

  router.post('/api/projects/:id/fail', ...guard, async (req, res) => {
    const id = idOf(req.params);
    const body = checkBody(req.body, FAIL);
    const { project, outcomes } = await failProject(actions, id, { reason: body.reason, noRetry: body.noRetry });
    const kills = actionsOf(outcomes);
    logWrite('failed', id, { reason: project.failureReason, noRetry: body.noRetry === true, actions: kills });
    if (outcomes.some((o) => o.outcome === 'failure')) {
      deps.log.error('api: fail recorded, but the live project could not be killed', { project: id, actions: kills });
    }
    res.json({ project, actions: actionsOf(outcomes) });
  });

  router.post('/api/projects/:id/reset', ...guard, async (req, res) => {
    const id = idOf(req.params);
    const body = checkBody(req.body, RESET);
    const force = body.force === true;
    const { project, outcomes } = await resetProject(actions, id, force);
    if (!project) {
      deps.log.error('api: reset --force could not kill the project; nothing reset', {
        project: id,
        actions: actionsOf(outcomes),
      });
      res.status(500).json({
        error: {
          message: `project "${id}" could not be killed, so it was not reset: ${outcomes
            .filter((o) => o.outcome === 'failure')
            .map((o) => o.detail)
            .join('; ')}`,
        },
        actions: actionsOf(outcomes),
      });
      return;
    }
    logWrite(force ? 'reset --force' : 'reset', id, { actions: actionsOf(outcomes) });
    res.json({ project, actions: actionsOf(outcomes) });
  });

  router.post('/api/queue/pause', ...guard, async (req, res) => {
    const body = checkBody(req.body, PAUSE);
    const { queue } = await pauseQueue(ops, { until: body.until });
    logWrite('queue paused', null, { resumeAt: queue.resumeAt });
    res.json({ queue });
  });

  router.post('/api/queue/resume', ...guard, async (req, res) => {
    checkBody(req.body, NOTHING);
    const { queue, changed } = await resumeQueue(ops);
    if (changed) {
      logWrite('queue resumed', null);
      // The daemon does not wake on its own store's writes: the held launches and retries go now, not at the next tick.
      void deps.requestCycle('api: queue resumed').catch(() => undefined);
    }
    res.json({ queue, changed });
  });

  router.post('/api/heal', ...guard, async (req, res) => {
    checkBody(req.body, NOTHING);
    logWrite('heal requested', null);
    const result = await deps.requestCycle('api');
    res.json(result);
  });

  return router;
}
