/**
 * A test queue: a temporary registry directory, a private tmux server, real
 * processes, and the `agent` binary run against them. Everything is cleaned up
 * by `destroy()`.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { newProject, type Project } from '../../src/core/model/project.js';
import { emptyDocument, type RegistryDocument } from '../../src/core/model/registry-document.js';
import { runCli, tempDir, type CliResult } from './cli.js';
import { Processes, statStartTime } from './processes.js';
import { PrivateTmux } from './tmux.js';

export const SEC = 1000;

export class TestQueue {
  readonly dir = tempDir('toa-queue-');
  readonly tmux = new PrivateTmux('queue');
  readonly processes = new Processes();
  readonly registry: string;
  /** Environment of every CLI run; tests add to it. */
  env: Record<string, string>;

  constructor(env: Record<string, string> = {}) {
    this.registry = join(this.dir.path, 'data', 'registry.json');
    mkdirSync(join(this.dir.path, 'data'), { recursive: true });
    this.env = {
      AGENT_REGISTRY: this.registry,
      AGENT_TMUX_SOCKETS: this.tmux.socket,
      KILL_GRACE_SEC: '1',
      AGENT_HOST_ID: 'test-host',
      LOG_LEVEL: 'warn',
      // No automatic retries unless a test asks for them: full jitter can draw
      // a delay shorter than the gap between two cycles, so a failed project
      // would be requeued (and relaunched) at random.
      AGENT_RETRY_MAX_ATTEMPTS: '1',
      ...env,
    };
  }

  /** A processing project on this queue's tmux server, started `agoSec` seconds ago. */
  project(fields: Partial<Project> & { id: string }, agoSec = 10): Project {
    const now = Date.now();
    return newProject({
      enqueuedAt: new Date(now - (agoSec + 60) * SEC).toISOString(),
      state: 'processing',
      attempts: 1,
      startedAt: new Date(now - agoSec * SEC).toISOString(),
      lastSeenAliveAt: new Date(now - agoSec * SEC).toISOString(),
      tmuxSocket: this.tmux.socket,
      host: 'test-host',
      ...fields,
    });
  }

  /** Pid and recorded start time of a live process. */
  identity(pid: number): Pick<Project, 'pid' | 'pidStartTime'> {
    return { pid, pidStartTime: statStartTime(pid) };
  }

  write(projects: Project[], extra: Partial<RegistryDocument> = {}): void {
    writeFileSync(this.registry, JSON.stringify({ ...emptyDocument(), projects, ...extra }, null, 2), { mode: 0o600 });
  }

  read(): RegistryDocument {
    return JSON.parse(readFileSync(this.registry, 'utf8')) as RegistryDocument;
  }

  bytes(): string {
    return readFileSync(this.registry, 'utf8');
  }

  get(id: string): Project {
    const p = this.read().projects.find((x) => x.id === id);
    if (!p) throw new Error(`no project ${id} in the registry`);
    return p;
  }

  audit(): Record<string, unknown>[] {
    try {
      return readFileSync(join(this.dir.path, 'data', 'audit.jsonl'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    } catch {
      return [];
    }
  }

  agent(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
    return runCli(args, { cwd: this.dir.path, env: { ...this.env, ...env }, timeoutMs: 60_000 });
  }

  /** `agent enqueue` of `command` on this queue's tmux server; throws with the CLI's stderr when it is refused. */
  async enqueue(id: string, command: string[]): Promise<void> {
    const r = await this.agent(['enqueue', '--id', id, '--tmux-socket', this.tmux.socket, '--', ...command]);
    if (r.code !== 0) throw new Error(`agent enqueue ${id} exited ${r.code}: ${r.stderr}`);
  }

  /** `agent heal --once --json`, parsed. */
  async heal(
    env: Record<string, string> = {},
    extra: string[] = [],
  ): Promise<{ code: number | null; result: HealJson; stderr: string }> {
    const r = await this.agent(['heal', '--once', '--json', ...extra], env);
    let result: HealJson;
    try {
      result = JSON.parse(r.stdout) as HealJson;
    } catch {
      throw new Error(`heal printed no JSON (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    }
    return { code: r.code, result, stderr: r.stderr };
  }

  async destroy(): Promise<void> {
    this.tmux.destroy();
    await this.processes.cleanup();
    this.dir.cleanup();
  }
}

export interface HealJson {
  ok: boolean;
  transitions: { project: string; from: string; to: string; reason: string }[];
  actions: { project: string | null; action: string; outcome: string; detail: string }[];
  blocked: { project: string | null; action: string; reason: string; detail: string }[];
  detections: { kind: string; project: string | null; session: string | null; reason: string }[];
  errors: { source: string; message: string }[];
}
