/**
 * Real child processes for scan/ and heal/ tests, every one tracked so that
 * `cleanup()` in afterEach kills whatever a test left behind (groups too).
 * Nothing here mocks the kernel.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseStat, type StatFields } from '../../src/scan/proc-table.js';

/**
 * /proc/<pid>/stat of a process, parsed by the scan's own parser (its tests pin it on fixture lines).
 * Throws when the process is gone.
 */
export function readStat(pid: number | 'self'): StatFields {
  return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** The stat fields of a process, or null when it is gone. */
export function statOrNull(pid: number | string): StatFields | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/** Start time (field 22) of /proc/<pid>/stat. */
export function statStartTime(pid: number): number {
  return readStat(pid).startTime;
}

/** True while the process exists and is not a zombie (a zombie runs nothing and cannot be killed further). */
export function isRunning(pid: number): boolean {
  const state = statOrNull(pid)?.state;
  return state !== undefined && state !== 'Z' && state !== 'X';
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll `predicate` every 20 ms until true, or throw after `timeoutMs` naming `what`. */
export async function waitUntil(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // already gone
  }
}

/** A tree the test spawned: root, child, grandchild PIDs. */
export interface SpawnedTree {
  root: number;
  child: number;
  grandchild: number;
}

/** Tracks every PID and process group a test starts; `cleanup()` SIGKILLs them all. */
export class Processes {
  /** PID -> start time when tracked, so cleanup never hits a reused PID. */
  private readonly pids = new Map<number, number | null>();
  private readonly groups = new Set<number>();
  private readonly children: ChildProcess[] = [];

  /** Spawn and track; a detached child leads a new process group, which is tracked too. */
  spawn(command: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'], ...options });
    if (child.pid === undefined) throw new Error(`could not spawn ${command}`);
    this.children.push(child);
    this.track(child.pid);
    if (options.detached) this.groups.add(child.pid);
    return child;
  }

  track(pid: number): void {
    let started: number | null = null;
    try {
      started = statStartTime(pid);
    } catch {
      // already gone; cleanup skips it
    }
    this.pids.set(pid, started);
  }

  /** `sleep 60` as a direct child; returns its PID once it runs. */
  async sleeper(options: SpawnOptions = {}): Promise<number> {
    const child = this.spawn('sleep', ['60'], { stdio: 'ignore', ...options });
    const pid = child.pid as number;
    // The PID exists at fork; wait until exec made it `sleep`, so start time and comm are final.
    await waitUntil(
      () => {
        try {
          return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'sleep';
        } catch {
          return false;
        }
      },
      15_000,
      `sleep ${pid} to start`,
    );
    return pid;
  }

  /** A node process that ignores SIGTERM; resolves once the handler is installed. */
  async termIgnorer(options: SpawnOptions = {}): Promise<number> {
    const script = "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);";
    const child = this.spawn(process.execPath, ['-e', script], options);
    await this.readLines(child, (lines) => lines.includes('ready'));
    return child.pid as number;
  }

  /**
   * root (node) -> child (node) -> grandchild (sleep). Each level reports its
   * PID on the shared stdout; the root leads a new group when `detached`.
   */
  async tree(options: { detached: boolean }): Promise<SpawnedTree> {
    const childScript = [
      "const { spawn } = require('node:child_process');",
      "const g = spawn('sleep', ['60'], { stdio: 'ignore' });",
      "console.log('child ' + process.pid); console.log('grandchild ' + g.pid);",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const rootScript = [
      "const { spawn } = require('node:child_process');",
      `spawn(process.execPath, ['-e', ${JSON.stringify(childScript)}], { stdio: ['ignore', 'inherit', 'inherit'] });`,
      "console.log('root ' + process.pid);",
      'setInterval(() => {}, 1000);',
    ].join('\n');
    const child = this.spawn(process.execPath, ['-e', rootScript], { detached: options.detached });
    const lines = await this.readLines(child, (ls) =>
      ['root', 'child', 'grandchild'].every((role) => ls.some((l) => l.startsWith(`${role} `))),
    );
    const pidOf = (role: string): number => {
      const pid = Number(lines.find((l) => l.startsWith(`${role} `))?.split(' ')[1]);
      this.track(pid);
      return pid;
    };
    const tree = { root: pidOf('root'), child: pidOf('child'), grandchild: pidOf('grandchild') };
    await waitUntil(() => isRunning(tree.grandchild), 15_000, 'the grandchild to run');
    return tree;
  }

  /** Collect stdout lines of `child` until `done(lines)` holds. */
  readLines(child: ChildProcess, done: (lines: string[]) => boolean, timeoutMs = 10_000): Promise<string[]> {
    return new Promise((resolve, reject) => {
      let buffer = '';
      const stdout = child.stdout;
      if (!stdout) {
        reject(new Error('child has no stdout pipe'));
        return;
      }
      const timer = setTimeout(
        () => reject(new Error(`timed out reading child output: ${JSON.stringify(buffer)}`)),
        timeoutMs,
      );
      const onData = (chunk: Buffer): void => {
        buffer += chunk.toString('utf8');
        const lines = buffer.split('\n').filter(Boolean);
        if (done(lines)) {
          clearTimeout(timer);
          stdout.off('data', onData);
          // Keep draining so a chatty child never blocks on a full pipe.
          stdout.resume();
          resolve(lines);
        }
      };
      stdout.on('data', onData);
    });
  }

  /** SIGKILL every tracked group and PID, then wait until none runs. */
  async cleanup(): Promise<void> {
    for (const pgid of this.groups) signal(-pgid, 'SIGKILL');
    for (const [pid, started] of this.pids) {
      let now: number | null = null;
      try {
        now = statStartTime(pid);
      } catch {
        // gone
      }
      if (started !== null && now === started) signal(pid, 'SIGKILL');
    }
    const pids = [...this.pids.keys()];
    this.pids.clear();
    this.groups.clear();
    this.children.length = 0;
    await waitUntil(() => pids.every((p) => !isRunning(p)), 15_000, `processes ${pids.join(', ')} to exit`);
  }
}
