/**
 * How the agent runs a program (tmux, git, sqlite3): through execFile with an
 * argument array (never a shell), in the C locale so its output parses the
 * same on every host, killed with SIGKILL at the timeout (a hung tmux or git
 * must not hold a cycle), with room for a large output.
 */
import type { ExecFileOptionsWithStringEncoding } from 'node:child_process';

export function programOptions(
  timeoutMs: number,
  maxBuffer: number,
  env: Readonly<Record<string, string>> = {},
): ExecFileOptionsWithStringEncoding {
  return {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer,
    env: { ...process.env, LC_ALL: 'C', ...env },
    windowsHide: true,
  };
}
