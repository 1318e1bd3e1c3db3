/**
 * The real monitoring servers for end-to-end tests, on loopback only:
 * Prometheus and Alertmanager as child processes on free 127.0.0.1 ports
 * (Debian's binaries; Alertmanager is `alertmanager` or
 * `prometheus-alertmanager`), a webhook receiver on node:http, and thin
 * clients of their HTTP APIs. Every server stops in `stop()`/`close()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { delimiter, join } from 'node:path';
import { eventually, freePort } from './daemon.js';

/** The first of `names` that is an executable on PATH. */
export function findBinary(...names: string[]): string {
  for (const name of names) {
    for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, name), constants.X_OK);
        return join(dir, name);
      } catch {
        // not here
      }
    }
  }
  throw new Error(`none of ${names.join(', ')} is installed (apt-get install prometheus prometheus-alertmanager)`);
}

export interface RunningServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** host:port */
  address: string;
  child: ChildProcess;
  /** The last 64 KiB of the server's stdout and stderr, for failure messages. */
  output(): string;
  /** SIGTERM, SIGKILL after 5 s; resolves once the process has exited. Safe to call twice. */
  stop(): Promise<void>;
}

const OUTPUT_LIMIT = 64 * 1024;

/**
 * Spawn `binary args(port)` on a free loopback port and wait until
 * `<url><readyPath>` answers 200. The process is killed if it never does.
 */
async function startServer(
  name: string,
  binary: string,
  args: (address: string) => string[],
  readyPath: string,
  cwd?: string,
): Promise<RunningServer> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const url = `http://${address}`;
  const child = spawn(binary, args(address), { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const collect = (d: Buffer): void => {
    out = (out + d.toString()).slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const server: RunningServer = {
    url,
    address,
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null || child.signalCode !== null)
          throw new Error(`${name} exited (${child.exitCode ?? child.signalCode})`);
        return (await fetch(`${url}${readyPath}`)).status === 200;
      },
      20_000,
      `${name} to be ready on ${address}`,
      100,
    );
  } catch (err) {
    await server.stop();
    throw new Error(`${(err as Error).message}\n--- ${name} output ---\n${out}`, { cause: err });
  }
  return server;
}

/** Prometheus with `configFile`, its TSDB in `dataDir`; ready when /-/ready answers. */
export function startPrometheus(configFile: string, dataDir: string): Promise<RunningServer> {
  return startServer(
    'prometheus',
    findBinary('prometheus'),
    (address) => [`--config.file=${configFile}`, `--storage.tsdb.path=${dataDir}`, `--web.listen-address=${address}`],
    '/-/ready',
  );
}

/** Alertmanager with `configFile`, state in `dataDir`, clustering off. */
export function startAlertmanager(configFile: string, dataDir: string): Promise<RunningServer> {
  return startServer(
    'alertmanager',
    findBinary('alertmanager', 'prometheus-alertmanager'),
    (address) => [
      `--config.file=${configFile}`,
      `--storage.path=${dataDir}`,
      `--web.listen-address=${address}`,
      '--cluster.listen-address=',
    ],
    '/-/ready',
  );
}

/** An Alertmanager webhook notification (https://prometheus.io/docs/alerting/latest/configuration/#webhook_config). */
export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
}

export interface WebhookNotification {
  receiver: string;
  status: 'firing' | 'resolved';
  alerts: WebhookAlert[];
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
}

export interface Delivery {
  /** The request path: which receiver URL Alertmanager posted to. */
  path: string;
  at: number;
  body: WebhookNotification;
}

/** A webhook receiver on 127.0.0.1 that records every POST it gets. */
export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  private server: Server | null = null;
  url = '';

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        try {
          this.deliveries.push({
            path: req.url ?? '',
            at: Date.now(),
            body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookNotification,
          });
          res.writeHead(200).end();
        } catch {
          res.writeHead(400).end();
        }
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (typeof address !== 'object' || address === null) throw new Error('webhook receiver has no address');
    this.url = `http://127.0.0.1:${address.port}`;
    return this.url;
  }

  /** Every alert delivered to `path`, with the notification it came in. */
  alerts(path: string): Array<{ delivery: Delivery; alert: WebhookAlert }> {
    return this.deliveries
      .filter((d) => d.path === path)
      .flatMap((delivery) => delivery.body.alerts.map((alert) => ({ delivery, alert })));
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export interface PromSample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: Array<[number, string]>;
}

interface PromResponse<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

/** GET a Prometheus API path; throws with Prometheus's error unless status is success. */
export async function promApi<T>(
  base: string,
  path: string,
  params: Record<string, string | string[]> = {},
): Promise<T> {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) for (const value of Array.isArray(v) ? v : [v]) search.append(k, value);
  const r = await fetch(`${base}${path}${search.toString() ? `?${search.toString()}` : ''}`);
  const text = await r.text();
  let body: PromResponse<T>;
  try {
    body = JSON.parse(text) as PromResponse<T>;
  } catch {
    throw new Error(`${path} answered ${r.status}: ${text.slice(0, 500)}`);
  }
  if (body.status !== 'success' || body.data === undefined)
    throw new Error(
      `${path} ${JSON.stringify(params)}: ${body.errorType ?? r.status}: ${body.error ?? text.slice(0, 500)}`,
    );
  return body.data;
}

export interface QueryResult {
  resultType: 'vector' | 'matrix' | 'scalar' | 'string';
  /** For vector/matrix: the series; for scalar/string: one pseudo-series with `value`. */
  series: PromSample[];
}

function normalise(data: { resultType: QueryResult['resultType']; result: unknown }): QueryResult {
  if (data.resultType === 'scalar' || data.resultType === 'string')
    return { resultType: data.resultType, series: [{ metric: {}, value: data.result as [number, string] }] };
  return { resultType: data.resultType, series: data.result as PromSample[] };
}

/** An instant query (`/api/v1/query`) at now. */
export async function instantQuery(base: string, query: string): Promise<QueryResult> {
  return normalise(
    await promApi<{ resultType: QueryResult['resultType']; result: unknown }>(base, '/api/v1/query', { query }),
  );
}

/** A range query (`/api/v1/query_range`) over the last `seconds` at `stepSec`, as Grafana runs time-series panels. */
export async function rangeQuery(base: string, query: string, seconds: number, stepSec = 1): Promise<QueryResult> {
  const end = Date.now() / 1000;
  return normalise(
    await promApi<{ resultType: QueryResult['resultType']; result: unknown }>(base, '/api/v1/query_range', {
      query,
      start: String(end - seconds),
      end: String(end),
      step: String(stepSec),
    }),
  );
}

export interface RulesApiGroup {
  name: string;
  file: string;
  rules: Array<{
    type: 'alerting' | 'recording';
    name: string;
    query: string;
    health: string;
    lastError?: string;
    state?: string;
  }>;
}

/** `/api/v1/rules`: the groups Prometheus loaded. */
export async function loadedRuleGroups(base: string): Promise<RulesApiGroup[]> {
  return (await promApi<{ groups: RulesApiGroup[] }>(base, '/api/v1/rules')).groups;
}

/**
 * Metric names in a Prometheus text exposition: those of its samples (histogram series with their suffixes) and
 * those its `# TYPE` lines declare, so a labelled gauge that has no series yet (no project waits on a prompt, say)
 * still counts as exported.
 */
export function expositionMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const declared = /^# TYPE ([A-Za-z_:][A-Za-z0-9_:]*) (\w+)$/.exec(line);
    if (declared?.[1] && declared[2] !== 'histogram' && declared[2] !== 'summary') names.add(declared[1]);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)/.exec(line);
    if (m?.[1]) names.add(m[1]);
  }
  return names;
}
