/**
 * `agent serve` as a real child process on a loopback port chosen by the
 * kernel (AGENT_LISTEN=127.0.0.1:0); the URL is read from its start-up lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { AGENT_BIN, cleanEnv } from './cli.js';

export interface RunningAgent {
  child: ChildProcess;
  url: string;
  stderr: () => string;
  /** SIGTERM and wait; resolves with the exit code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

export async function startAgent(env: Record<string, string>, cwd: string, args: string[] = []): Promise<RunningAgent> {
  const child = spawn(process.execPath, [AGENT_BIN, 'serve', ...args], {
    cwd,
    env: cleanEnv({ AGENT_LISTEN: '127.0.0.1:0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`agent serve did not start within 15 s:\n${err}`)), 15_000);
    const check = (): void => {
      const m = /status page\s+(http:\/\/[^\s/]+)\//.exec(err);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stderr?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`agent serve exited with ${code} before starting:\n${err}`));
    });
  });
  return {
    child,
    url,
    stderr: () => err,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      const started = Date.now();
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = child.exitCode ?? (await exited);
      clearTimeout(timer);
      return { code, ms: Date.now() - started };
    },
  };
}

/** A free TCP port on 127.0.0.1 (for servers that cannot be told to pick one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Poll `fn` until it returns a truthy value, at most `timeoutMs`. */
export async function eventually<T>(
  fn: () => Promise<T | null | undefined | false> | T | null | undefined | false,
  timeoutMs: number,
  what: string,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
