/**
 * A private tmux server per test (`tmux -L <unique>`), killed in cleanup.
 * Nothing here mocks tmux: every call runs the real binary.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let counter = 0;

export class PrivateTmux {
  readonly socket: string;

  constructor(label = 'test') {
    counter += 1;
    this.socket = `toa-${label}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}`;
  }

  /** Run tmux on this server and return stdout. */
  run(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], {
      encoding: 'utf8',
      env: { ...process.env, LC_ALL: 'C' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  /** Start a detached session running `command` (an argument vector, no shell) and return its pane PID. */
  newSession(name: string, command: string[], cwd?: string): number {
    const args = ['new-session', '-d', '-s', name, '-x', '200', '-y', '50'];
    if (cwd) args.push('-c', cwd);
    // A word ending in ";" would be a tmux command separator: escape it as the agent does.
    this.run([...args, '--', ...command.map((w) => (w.endsWith(';') ? `${w.slice(0, -1)}\\;` : w))]);
    // Keep dead panes around only when a test asks for it; default server options apply otherwise.
    return this.panePid(name);
  }

  panePid(session: string): number {
    const out = this.run(['list-panes', '-t', `=${session}:`, '-F', '#{pane_pid}']).trim();
    const pid = Number(out.split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pane pid for session ${session}: ${out}`);
    return pid;
  }

  hasSession(name: string): boolean {
    try {
      this.run(['has-session', '-t', `=${name}`]);
      return true;
    } catch {
      return false;
    }
  }

  sessions(): string[] {
    try {
      return this.run(['list-sessions', '-F', '#{session_name}']).split('\n').filter(Boolean);
    } catch {
      return [];
    }
  }

  killSession(name: string): void {
    this.run(['kill-session', '-t', `=${name}`]);
  }

  /** Where tmux puts this server's socket (it does not remove it on kill-server). */
  get socketPath(): string {
    const base = process.env['TMUX_TMPDIR'] ?? tmpdir();
    return join(base, `tmux-${process.getuid?.() ?? 0}`, this.socket);
  }

  /** Kill the whole server and remove its socket file; safe to call twice. */
  destroy(): void {
    try {
      execFileSync('tmux', ['-L', this.socket, 'kill-server'], { stdio: 'ignore' });
    } catch {
      // already gone
    }
    rmSync(this.socketPath, { force: true });
  }
}
