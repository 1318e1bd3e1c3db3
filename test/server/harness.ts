/**
 * The server on a real temporary JSON registry, listening on a free loopback
 * port. Only the agent's own interfaces (metrics, status, requestCycle) are
 * stubbed, with plain values a test can change.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { DEFAULT_CONFIG, type AgentConfig } from '../../src/config/keys.js';
import { emptyCycleResult, type CycleResult } from '../../src/cycle.js';
import { createLogger } from '../../src/log.js';
import { JsonStore } from '../../src/registry/json-store.js';
import { createApp, type AgentStatus } from '../../src/server/app.js';
import { tempDir } from '../helpers/cli.js';

export const TOKEN = 'test-token-0123456789abcdef';
export const HOST = 'test-host';
/** 2026-11-26T10:00:00.000Z */
export const NOW = Date.UTC(2026, 10, 26, 10, 0, 0);

export function aCycleResult(fields: Partial<CycleResult> = {}): CycleResult {
  return { ...emptyCycleResult(NOW, false), durationMs: 42, ...fields };
}

export function aStatus(fields: Partial<AgentStatus> = {}): AgentStatus {
  return {
    ready: true,
    reason: null,
    lastCycle: aCycleResult(),
    lastCycleAt: new Date(NOW).toISOString(),
    cycles: 1,
    events: { registry_watch: { up: true, detail: 'watching' }, tmux_hooks: { up: false, detail: 'tmux not running' } },
    ...fields,
  };
}

export interface MetricsStub {
  contentType: string;
  openMetricsContentType: string;
  body: string;
  fail: Error | null;
  asked: boolean[];
}

export interface Harness {
  base: string;
  dir: string;
  registry: string;
  store: JsonStore;
  /** What `status()` answers; change it in a test. */
  status: AgentStatus;
  metrics: MetricsStub;
  /** Reasons passed to `requestCycle`. */
  cycleRequests: string[];
  cycleResult: CycleResult;
  /** Log lines the server wrote. */
  logs: string[];
  /** A live process a test may report as a project's (the server's own PID is refused). */
  pid: number;
  /** The registry file's bytes (null when it does not exist). */
  bytes(): Buffer | null;
  files(): string[];
  close(): Promise<void>;
}

export interface HarnessOptions {
  token?: string | null;
  config?: Partial<AgentConfig>;
  now?: () => number;
}

export async function startServer(options: HarnessOptions = {}): Promise<Harness> {
  const dir = tempDir('toa-server-');
  const registry = join(dir.path, 'registry.json');
  const store = new JsonStore({ path: registry, lockWaitMs: 5000 });
  const config: AgentConfig = {
    ...DEFAULT_CONFIG,
    registry,
    hostId: HOST,
    apiToken: options.token === undefined ? TOKEN : options.token,
    ...options.config,
  };
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const harness = {
    status: aStatus(),
    metrics: {
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
      openMetricsContentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
      body: '# HELP orchestrator_queue_blocked x\n# TYPE orchestrator_queue_blocked gauge\norchestrator_queue_blocked 0\n',
      fail: null,
      asked: [],
    } as MetricsStub,
    cycleRequests: [] as string[],
    cycleResult: aCycleResult({ transitions: [{ project: 'p1', from: 'failed', to: 'queued', reason: 'retry due' }] }),
  };
  const app = createApp({
    store,
    config,
    hostId: HOST,
    version: '0.0.0-test',
    log: createLogger({ level: 'debug', stream: sink }),
    now: options.now ?? (() => NOW),
    metrics: {
      render: async (openMetrics) => {
        harness.metrics.asked.push(openMetrics);
        if (harness.metrics.fail) throw harness.metrics.fail;
        return {
          contentType: openMetrics ? harness.metrics.openMetricsContentType : harness.metrics.contentType,
          body: harness.metrics.body,
        };
      },
    },
    status: () => harness.status,
    requestCycle: async (reason) => {
      harness.cycleRequests.push(reason);
      return harness.cycleResult;
    },
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  const worker = spawn('sleep', ['1000'], { stdio: 'ignore' });
  return Object.assign(harness, {
    pid: worker.pid as number,
    base: `http://127.0.0.1:${port}`,
    dir: dir.path,
    registry,
    store,
    logs,
    bytes: () => (existsSync(registry) ? readFileSync(registry) : null),
    files: () => readdirSync(dir.path).sort(),
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      worker.kill('SIGKILL');
      dir.cleanup();
    },
  });
}

export interface CallOptions {
  token?: string | null;
  /** Sent as is (no JSON encoding). */
  raw?: string | Buffer;
  contentType?: string;
  headers?: Record<string, string>;
  method?: string;
}

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read any field of any answer
  json: any;
}

export async function call(
  h: Pick<Harness, 'base'>,
  path: string,
  body?: unknown,
  options: CallOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? TOKEN : options.token;
  if (token !== null) headers['authorization'] = `Bearer ${token}`;
  let payload: string | Buffer | undefined;
  if (options.raw !== undefined) payload = options.raw;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined) headers['content-type'] = options.contentType ?? 'application/json';
  const res = await fetch(`${h.base}${path}`, {
    method: options.method ?? (payload === undefined && body === undefined ? 'GET' : 'POST'),
    headers,
    ...(payload === undefined ? {} : { body: payload }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export const get = (h: Pick<Harness, 'base'>, path: string, headers: Record<string, string> = {}) =>
  call(h, path, undefined, { token: null, method: 'GET', headers });
export const post = (h: Pick<Harness, 'base'>, path: string, body?: unknown, options: CallOptions = {}) =>
  call(h, path, body, { method: 'POST', ...options });
