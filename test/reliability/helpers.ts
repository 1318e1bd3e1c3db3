/**
 * Shared pieces of the reliability tests: victim processes that log every
 * SIGTERM they receive (with their own /proc stat line, so a signal to a
 * reused PID is told apart), registry and audit invariants read straight from
 * the files, and a few HTTP calls against a running `agent serve`.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RegistryDocument } from '../../src/core/model/registry-document.js';
import { validateDocument } from '../../src/registry/schema.js';
import { parseStat } from '../../src/scan/proc-table.js';
import { isRunning, statStartTime, waitUntil, type Processes } from '../helpers/processes.js';
import type { PrivateTmux } from '../helpers/tmux.js';

/**
 * A victim: a shell that traps SIGTERM, appends `TERM <its /proc/self/stat>`
 * to the signal log and exits. `sleep & wait` keeps the trap immediate. It
 * ignores SIGHUP, so it outlives its tmux session (a zombie). It says READY
 * only once the traps are installed, so no signal can go unlogged.
 */
const VICTIM_SCRIPT = `#!/bin/sh
log=$1
trap 'echo "TERM $(cat /proc/$$/stat)" >> "$log"; exit 0' TERM
trap '' HUP
echo "READY $$" >> "$log"
while :; do sleep 1 & wait $!; done
`;

export interface Identity {
  pid: number;
  pidStartTime: number;
}

/** One line of the signal log: which process (pid and start time) received a SIGTERM. */
export interface Signalled {
  pid: number;
  startTime: number;
}

export class Victims {
  readonly script: string;
  readonly log: string;

  constructor(
    dir: string,
    private readonly processes: Processes,
  ) {
    this.script = join(dir, 'victim.sh');
    this.log = join(dir, 'signals.log');
    writeFileSync(this.script, VICTIM_SCRIPT);
    chmodSync(this.script, 0o755);
    writeFileSync(this.log, '');
  }

  /** Start a victim in its own process group; resolves once its SIGTERM trap is installed. */
  async spawn(): Promise<Identity> {
    const child = this.processes.spawn('/bin/sh', [this.script, this.log], { detached: true, stdio: 'ignore' });
    const pid = child.pid as number;
    await waitUntil(() => this.readyPids().has(pid), 10_000, `victim ${pid} to install its trap`);
    return { pid, pidStartTime: statStartTime(pid) };
  }

  /** Start a victim as the pane of a new tmux session; resolves once its traps are installed. */
  async inSession(tmux: PrivateTmux, session: string): Promise<Identity> {
    const pid = tmux.newSession(session, ['/bin/sh', this.script, this.log]);
    this.processes.track(pid);
    await waitUntil(
      () => this.readyPids().has(pid),
      10_000,
      `victim ${pid} in session ${session} to install its traps`,
    );
    return { pid, pidStartTime: statStartTime(pid) };
  }

  /** The identity of a process that has exited: what a phantom project records. */
  async gone(): Promise<Identity> {
    const identity = await this.spawn();
    process.kill(-identity.pid, 'SIGKILL');
    await waitUntil(() => !isRunning(identity.pid), 15_000, `victim ${identity.pid} to exit`);
    return identity;
  }

  private readyPids(): Set<number> {
    const pids = new Set<number>();
    for (const line of readFileSync(this.log, 'utf8').split('\n'))
      if (line.startsWith('READY ')) pids.add(Number(line.slice(6)));
    return pids;
  }

  /** SIGTERMs received by one process (pid and start time). */
  termsTo(identity: Identity): number {
    return this.signalled().filter((s) => s.pid === identity.pid && s.startTime === identity.pidStartTime).length;
  }

  /** Every SIGTERM any victim received, in order. */
  signalled(): Signalled[] {
    const out: Signalled[] = [];
    for (const line of readFileSync(this.log, 'utf8').split('\n')) {
      if (!line.startsWith('TERM ')) continue;
      const { pid, startTime } = parseStat(line.slice(5));
      out.push({ pid, startTime });
    }
    return out;
  }
}

export const key = (i: { pid: number; startTime?: number; pidStartTime?: number }): string =>
  `${i.pid}@${i.startTime ?? i.pidStartTime}`;

/** The registry file parses and validates; returns the document. Throws naming the problem. */
export function validRegistry(path: string): RegistryDocument {
  const text = readFileSync(path, 'utf8');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`registry ${path} does not parse: ${(err as Error).message}\n${text.slice(0, 500)}`, {
      cause: err,
    });
  }
  const checked = validateDocument(raw);
  if (!checked.ok) throw new Error(`registry ${path} does not validate: ${checked.issues.join('; ')}`);
  return checked.document;
}

/** Every line of a JSON-lines file parses and the file ends with a newline; returns the entries. */
export function wholeLines(path: string): Record<string, unknown>[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  if (text.length > 0 && !text.endsWith('\n'))
    throw new Error(`${path} ends with a partial line: ${JSON.stringify(text.slice(-200))}`);
  return text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`${path} has a line that does not parse: ${JSON.stringify(line.slice(0, 200))}`);
      }
    });
}

export const TOKEN = 'reliability-token-0123456789';

/** POST /api/heal with the token: resolves with the cycle result once a cycle (started after the call) finished. */
export async function healOnce(
  url: string,
  timeoutMs = 30_000,
): Promise<{ ok: boolean; startedAt: string; errors: { source: string; message: string }[] }> {
  const res = await fetch(`${url}/api/heal`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) throw new Error(`POST /api/heal answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as { ok: boolean; startedAt: string; errors: { source: string; message: string }[] };
}

/** One sample of a counter or gauge from /metrics (0 when the series is absent). */
export async function metric(url: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith('{') || rest.startsWith(' '))) continue;
    if (want.every((w) => rest.includes(w))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return 0;
}

export async function readyz(url: string): Promise<{ status: number; reason: string | null }> {
  const res = await fetch(`${url}/readyz`);
  const body = (await res.json()) as { reason: string | null };
  return { status: res.status, reason: body.reason };
}
