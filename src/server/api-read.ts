/**
 * The read API (no token from this host, the token from any other: see
 * auth.ts): projects from the registry, and what is stuck
 * according to the last cycle together with the queue's health now.
 */
import express from 'express';
import { findProject } from '../core/model/apply.js';
import { PROJECT_STATES, type ProjectState } from '../core/model/project.js';
import { displayOrder, projectRow } from '../core/views/project-view.js';
import { summariseQueue } from '../core/views/queue-summary.js';
import { hostLaunchHolds } from '../core/rules/agent-activity/observe.js';
import { isLocal } from '../core/rules/reconcile.js';
import { InputError, UnknownProjectError, messageOf } from '../errors.js';
import { validateProjectId } from '../registry/operations.js';
import type { ServerDeps } from './app.js';
import { requireTokenOffHost } from './auth.js';

function stateFilter(query: Record<string, unknown>): ProjectState | null {
  for (const key of Object.keys(query)) {
    if (key !== 'state')
      throw new InputError(`unknown query parameter "${key.slice(0, 64)}"; allowed: state`, {
        field: key.slice(0, 64),
      });
  }
  const state = query['state'];
  if (state === undefined) return null;
  if (typeof state !== 'string' || !(PROJECT_STATES as readonly string[]).includes(state)) {
    throw new InputError(
      `query parameter "state" must be one of ${PROJECT_STATES.join(', ')}; got ${JSON.stringify(state).slice(0, 60)}`,
      { field: 'state' },
    );
  }
  return state as ProjectState;
}

export function readApi(deps: ServerDeps): express.Router {
  const router = express.Router();
  const guard = requireTokenOffHost(deps.config.apiToken, 'bearer');

  router.get('/api/projects', guard, async (req, res) => {
    const state = stateFilter(req.query);
    const doc = await deps.store.load();
    const now = deps.now();
    const projects = displayOrder(doc.projects.filter((p) => state === null || p.state === state));
    const holds = hostLaunchHolds(doc.projects, now, deps.config.rateLimitScope, (p) => isLocal(p, deps.hostId));
    const rows = projects.map((p) => projectRow(p, deps.config, now, doc.queue, holds));
    res.json({ registry: deps.store.location, count: projects.length, projects: rows });
  });

  router.get('/api/projects/:id', guard, async (req, res) => {
    const id = validateProjectId(req.params['id']);
    const project = findProject(await deps.store.load(), id);
    if (!project) throw new UnknownProjectError(id);
    res.json(project);
  });

  router.get('/api/stuck', guard, async (_req, res) => {
    const status = deps.status();
    const cycle = status.lastCycle;
    let queue = null;
    let registryError: string | null = null;
    try {
      const doc = await deps.store.load();
      queue = summariseQueue(doc, deps.config, deps.now(), { scanOk: cycle?.ok ?? true, hostId: deps.hostId }).health;
    } catch (err) {
      registryError = messageOf(err);
    }
    const errors = [
      ...(cycle?.errors ?? []),
      ...(registryError === null ? [] : [{ source: 'registry' as const, message: `now: ${registryError}` }]),
    ];
    res.json({
      // Nothing stuck is only an answer when the last cycle saw clearly and the registry reads now.
      ok: cycle !== null && cycle.ok && registryError === null,
      lastCycleAt: status.lastCycleAt,
      cycle: cycle === null ? null : { startedAt: cycle.startedAt, durationMs: cycle.durationMs, ok: cycle.ok },
      stuck: cycle?.detections ?? [],
      staleMarkers: cycle?.staleMarkers ?? [],
      // A usage limit that holds launches (its reset, the limited project and its pane line); null when none.
      launchHold: cycle?.launchHold ?? null,
      blocked: cycle?.blocked ?? [],
      queue,
      errors,
      ...(cycle === null ? { reason: status.reason ?? 'no cycle has completed yet' } : {}),
    });
  });

  return router;
}
