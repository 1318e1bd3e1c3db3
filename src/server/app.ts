/**
 * The express app of `agent serve`: `/metrics`, `/healthz`,
 * `/readyz` (open), the status page `/` and the read API (open to this
 * host, the token from elsewhere: see auth.ts), and the token-guarded write
 * API. The app owns no state: the registry, the last cycle and the metrics
 * come in through `ServerDeps`, so tests run it on a temporary registry.
 */
import express, { type RequestHandler } from 'express';
import type { AgentConfig } from '../config/keys.js';
import type { CycleResult } from '../cycle.js';
import { messageOf } from '../errors.js';
import { componentLogger, type Logger } from '../log.js';
import type { RegistryStore } from '../registry/store.js';
import { readApi } from './api-read.js';
import { writeApi } from './api-write.js';
import { requireTokenOffHost } from './auth.js';
import { BODY_LIMIT_BYTES } from './body.js';
import { errorHandler, sendError } from './errors.js';
import { renderStatusPage, statusPageData } from './status-page.js';

export interface AgentStatus {
  /** The last cycle succeeded and the registry is readable. */
  ready: boolean;
  /** Why not ready; null when ready. */
  reason: string | null;
  lastCycle: CycleResult | null;
  lastCycleAt: string | null;
  cycles: number;
  /** Event sources (registry_watch, tmux_hooks, pid_probe) and whether they work. */
  events: Record<string, { up: boolean; detail: string }>;
  /** The leader lease: whether this agent holds it, and who does (shared registry only). */
  leadership?: { leader: boolean; holder: string | null; token: number | null; shared: boolean };
}

export interface ServerDeps {
  store: RegistryStore;
  config: AgentConfig;
  hostId: string;
  version: string;
  log: Logger;
  now: () => number;
  metrics: { render(openMetrics: boolean): Promise<{ contentType: string; body: string }> };
  status: () => AgentStatus;
  /** Run (or join) a cycle now; resolves with its result. */
  requestCycle: (reason: string) => Promise<CycleResult>;
}

const OPENMETRICS = 'application/openmetrics-text';
const WRITE_ACTIONS = ['start', 'heartbeat', 'complete', 'fail', 'reset'];

/** Headers of every answer: nothing cached, nothing sniffed, no framing, nothing loaded from elsewhere. */
const baseHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'no-referrer',
    'Content-Security-Policy':
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
  });
  next();
};

/**
 * The q the Accept header gives a media type: from its most specific matching range (exact, then `major/*`, then
 * any); 0 when none matches.
 */
function qualityOf(accept: string, type: string): number {
  const [major] = type.split('/');
  let specificity = 0;
  let quality = 0;
  for (const range of accept.split(',')) {
    const [name = '', ...params] = range.split(';').map((x) => x.trim().toLowerCase());
    const level = name === type ? 3 : name === `${major}/*` ? 2 : name === '*/*' ? 1 : 0;
    if (level === 0 || level < specificity) continue;
    const q = params.find((x) => x.startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    const valid = Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0;
    quality = level > specificity ? valid : Math.max(quality, valid);
    specificity = level;
  }
  return quality;
}

/**
 * OpenMetrics only when asked for by name with at least the weight of text.
 * Prometheus asks for OpenMetrics at q=1, text at q=0.5 and anything at
 * q=0.1; a browser or curl gets text. Media-type parameters (`version=`)
 * are not matched: the agent serves one version of each.
 */
export function wantsOpenMetrics(accept: string | undefined): boolean {
  if (accept === undefined) return false;
  // Only a range naming OpenMetrics asks for it; a wildcard means "text is fine".
  const named = accept.toLowerCase().includes(OPENMETRICS);
  const open = qualityOf(accept, OPENMETRICS);
  return named && open > 0 && open >= qualityOf(accept, 'text/plain');
}

function methodNotAllowed(allowed: string): RequestHandler {
  return (req, res) => {
    res.set('Allow', allowed);
    sendError(res, 405, `${req.method} is not allowed on ${req.path}; allowed: ${allowed}`);
  };
}

export function createApp(serverDeps: ServerDeps): express.Express {
  const deps: ServerDeps = { ...serverDeps, log: componentLogger(serverDeps.log, 'server') };
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(baseHeaders);
  app.use((req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      deps.log.debug('request', {
        method: req.method,
        path: req.path.slice(0, 200),
        status: res.statusCode,
        ms: Math.round(ms * 10) / 10,
      });
    });
    next();
  });

  app
    .route('/metrics')
    .get(async (req, res) => {
      const openMetrics = wantsOpenMetrics(req.get('accept'));
      const { contentType, body } = await deps.metrics.render(openMetrics);
      // Set raw: express would rewrite the parameters of the exposition's content type.
      res.status(200).setHeader('Content-Type', contentType);
      res.end(body);
    })
    .all(methodNotAllowed('GET, HEAD'));

  app
    .route('/healthz')
    .get((_req, res) => {
      res.type('text/plain').send('ok\n');
    })
    .all(methodNotAllowed('GET, HEAD'));

  app
    .route('/readyz')
    .get(async (_req, res) => {
      const status = deps.status();
      // A source that failed does not make the agent unready (its own queue is still kept); it shows here.
      const sources = (status.lastCycle?.sourceSync ?? []).map((s) => ({
        source: s.source,
        kind: s.kind,
        location: s.location,
        up: s.ok,
        error: s.error,
      }));
      const listed = sources.length > 0 ? { sources } : {};
      const base = { lastCycleAt: status.lastCycleAt, cycles: status.cycles, ...listed };
      if (!status.ready) {
        res.status(503).json({ ready: false, reason: status.reason ?? 'not ready', ...base });
        return;
      }
      // The registry may have broken since the last cycle: readiness is also "readable now".
      try {
        await deps.store.load();
      } catch (err) {
        res.status(503).json({ ready: false, reason: `registry unreadable: ${messageOf(err)}`, ...base });
        return;
      }
      res.json({ ready: true, reason: null, ...base });
    })
    .all(methodNotAllowed('GET, HEAD'));

  app
    .route('/')
    .get(requireTokenOffHost(deps.config.apiToken, 'basic'), async (_req, res) => {
      res.type('html').send(renderStatusPage(await statusPageData(deps)));
    })
    .all(methodNotAllowed('GET, HEAD'));

  app.use(readApi(deps));
  app.use(writeApi(deps));
  app.all('/api/projects', methodNotAllowed('GET, HEAD, POST'));
  app.all('/api/projects/:id', methodNotAllowed('GET, HEAD'));
  app.all('/api/stuck', methodNotAllowed('GET, HEAD'));
  app.all('/api/heal', methodNotAllowed('POST'));
  app.all('/api/projects/:id/:action', (req, res, next) => {
    if (WRITE_ACTIONS.includes(req.params['action'] ?? '')) methodNotAllowed('POST')(req, res, next);
    else next();
  });

  app.use((req, res) =>
    sendError(
      res,
      404,
      `no such route: ${req.method} ${req.path.slice(0, 200)}; ` +
        'see /, /api/projects, /api/stuck, /metrics, /healthz, /readyz',
    ),
  );
  app.use(errorHandler(deps.log, BODY_LIMIT_BYTES));
  return app;
}
