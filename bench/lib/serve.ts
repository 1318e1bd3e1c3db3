/**
 * `agent serve` for the benches that measure the daemon itself: the built
 * CLI (dist/) as a child on a free loopback port, stopped at teardown, and
 * the HTTP wait that tells when it (or another exporter) answers.
 *
 * With BENCH_BASE set to a checkout of older code (built, its node_modules
 * linked), a bench also measures that code on the same load, at the same
 * time: `agent serve` from its dist/, or its modules imported next to ours
 * ({@link importCode}). That is the before/after of an optimisation.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { freePort } from '../../test/helpers/daemon.js';
import { sleep, type Teardown } from './load.js';

/** A free loopback port (bound then released): the tests' helper, so there is one. */
export { freePort };

/** The code a bench measures: this checkout, or the older one of BENCH_BASE. */
export type Code = 'current' | 'base';

const ROOTS: Record<Code, string | null> = {
  current: fileURLToPath(new URL('../../', import.meta.url)),
  base: process.env['BENCH_BASE'] ?? null,
};

/** The codes to measure: this checkout, and the base when BENCH_BASE names one. */
export const CODES: readonly Code[] = ROOTS.base ? ['current', 'base'] : ['current'];

/** The built CLI (dist/) of a code, which the benches that start `agent serve` run. */
export function agentBin(code: Code = 'current'): string {
  const root = ROOTS[code];
  if (root === null) throw new Error('BENCH_BASE is not set');
  return join(root, 'dist', 'cli', 'main.js');
}

/** The built CLI of this checkout. */
export const AGENT_BIN = agentBin();

/** A module of a code's src/ (path relative to src/, e.g. `cycle.ts`), imported in this process. */
export async function importCode<T>(code: Code, modulePath: string): Promise<T> {
  const root = ROOTS[code];
  if (root === null) throw new Error('BENCH_BASE is not set');
  return (await import(pathToFileURL(join(root, 'src', modulePath)).href)) as T;
}

/** Fails early, before any load is built, when `npm run build` has not made the CLI of every code measured. */
export function requireBuild(): void {
  for (const code of CODES) {
    const bin = agentBin(code);
    if (!existsSync(bin))
      throw new Error(`${bin} is missing: run npm run build${code === 'base' ? ' in BENCH_BASE' : ''} first`);
  }
}

/**
 * The Node options the packaged daemon runs with (the systemd unit's
 * NODE_OPTIONS, which the Dockerfile and `npm start` repeat): the benches
 * measure the daemon as deployed, so its memory figures are the users'.
 */
export const DAEMON_NODE_ARGS: readonly string[] = (
  /^Environment=NODE_OPTIONS=(.*)$/m.exec(
    readFileSync(new URL('../../deploy/tmux-orchestrator-agent.service', import.meta.url), 'utf8'),
  )?.[1] ?? ''
)
  .split(/\s+/)
  .filter(Boolean);

/** Resolves once a GET of `url` answers 2xx (polled every 100 ms); rejects after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      await r.text();
      if (r.ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export interface ServeOptions {
  /** Working directory of the daemon. */
  cwd: string;
  /** Its whole environment; AGENT_LISTEN is set here, to a free loopback port. */
  env: Record<string, string | undefined>;
  /** What it must answer before this resolves: `/healthz` (listening, the default) or `/readyz` (its first cycle done). */
  until?: '/healthz' | '/readyz';
  /** How long it may take to answer; default 15 s. */
  timeoutMs?: number;
  /** Which code's CLI to run; default this checkout's. */
  code?: Code;
  /** Node options before the script (e.g. `--cpu-prof`), after {@link DAEMON_NODE_ARGS}. */
  nodeArgs?: string[];
}

/** A started `agent serve`: the child, its base URL (`http://127.0.0.1:<port>`) and the tail of its stderr. */
export interface ServeProcess {
  child: ChildProcess;
  url: string;
  output: () => string;
}

/**
 * `agent serve` (dist/) as a child on a free loopback port, stopped at
 * teardown; resolves once it answers `until`. Its stderr (the start-up
 * banner, warnings) is kept, not printed: `output()` gives the last 8 KiB,
 * and an error names it.
 */
export async function startServe(teardown: Teardown, options: ServeOptions): Promise<ServeProcess> {
  const { until = '/healthz', timeoutMs = 15_000, code = 'current', nodeArgs = [] } = options;
  const url = `http://127.0.0.1:${await freePort()}`;
  const child = spawn(process.execPath, [...DAEMON_NODE_ARGS, ...nodeArgs, agentBin(code), 'serve'], {
    cwd: options.cwd,
    env: { ...options.env, AGENT_LISTEN: url.slice('http://'.length) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  child.stderr?.on('data', (d: Buffer) => {
    tail = (tail + d.toString()).slice(-8192);
  });
  teardown.add('stop agent serve', async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });
  const output = (): string => tail;
  try {
    await waitForHttp(`${url}${until}`, timeoutMs);
  } catch (err) {
    throw new Error(`agent serve did not answer: ${err instanceof Error ? err.message : String(err)}\n${output()}`, {
      cause: err,
    });
  }
  return { child, url, output };
}
