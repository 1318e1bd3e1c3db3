/** Small builders shared by the evidence tests: projects, config, temp dirs, fake binaries. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type AgentConfig, DEFAULT_CONFIG } from '../../src/config/keys.js';
import { newProject, type Project } from '../../src/core/model/project.js';
import type { PrivateTmux } from '../helpers/tmux.js';

export function aProject(fields: Partial<Project> = {}): Project {
  return newProject({ id: 'p1', enqueuedAt: '2026-01-01T09:00:00.000Z', state: 'processing', ...fields });
}

export function aConfig(fields: Partial<AgentConfig> = {}): AgentConfig {
  return { ...DEFAULT_CONFIG, evidenceTimeoutMs: 3000, tmuxTimeoutMs: 3000, ...fields };
}

/** Temp directories removed by `cleanup()` (call it in afterEach). */
export class TempDirs {
  private readonly dirs: string[] = [];

  make(label = 'evidence'): string {
    const dir = mkdtempSync(join(tmpdir(), `toa-${label}-`));
    this.dirs.push(dir);
    return dir;
  }

  cleanup(): void {
    for (const dir of this.dirs.splice(0)) {
      try {
        chmodSync(dir, 0o700);
      } catch {
        // already gone
      }
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** An executable that hangs: `exec` so the timeout's SIGKILL reaches the sleeper itself. */
export function hangingBinary(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\nexec sleep 60\n', { mode: 0o755 });
  return path;
}

/** Poll `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Kill a private tmux server and remove its socket file, which tmux leaves
 * behind on kill-server.
 */
export function destroyTmux(tmux: PrivateTmux): void {
  let socketPath = '';
  try {
    socketPath = tmux.run(['display-message', '-p', '#{socket_path}']).trim();
  } catch {
    // no server running: tmux created no socket file
  }
  tmux.destroy();
  if (socketPath !== '') rmSync(socketPath, { force: true });
}
