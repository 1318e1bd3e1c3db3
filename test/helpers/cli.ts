/**
 * Runs the built `agent` binary (dist/, built by `npm test` before mocha) as a
 * real child process, with a private working directory and environment.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KEY_DEFINITIONS } from '../../src/config/keys.js';

export const AGENT_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

/** Every environment name a config key reads (the seed names have no AGENT_ prefix). */
const CONFIG_ENV_NAMES = new Set(KEY_DEFINITIONS.map((d) => d.env));

let stateHome: string | null = null;

/**
 * XDG_STATE_HOME of every agent under test (a temporary directory for the
 * whole run, removed at exit): the default registry lives under it, and no
 * test may write to the real ~/.local/state. A test that uses the default
 * registry gives its own XDG_STATE_HOME.
 */
export function testStateHome(): string {
  if (stateHome === null) {
    const dir = mkdtempSync(join(tmpdir(), 'toa-state-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    stateHome = dir;
  }
  return stateHome;
}

/** Environment for the agent under test: no inherited AGENT_* or seed variables, a private XDG_STATE_HOME. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = { XDG_STATE_HOME: testStateHome() };
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === 'XDG_STATE_HOME') continue;
    if (k.startsWith('AGENT_') || CONFIG_ENV_NAMES.has(k)) continue;
    env[k] = v;
  }
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [AGENT_BIN, ...args], {
      cwd: options.cwd,
      env: cleanEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A temporary directory removed by the returned cleanup. */
export function tempDir(prefix = 'toa-'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}
