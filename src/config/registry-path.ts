/**
 * Where the JSON registry lives when none is configured: a per-user state
 * file, the same from every working directory, so an `agent enqueue` run
 * inside a project folder reaches the daemon's queue.
 */
import { isAbsolute, join } from 'node:path';

/** The directory under the state home that holds the default registry. */
export const STATE_DIR_NAME = 'tmux-orchestrator-agent';

/**
 * `$XDG_STATE_HOME/tmux-orchestrator-agent/registry.json`; the XDG base
 * directory rules say an unset, empty or relative XDG_STATE_HOME means
 * `$HOME/.local/state`.
 */
export function defaultRegistryPath(env: Readonly<Record<string, string | undefined>>, home: string): string {
  const stateHome = env['XDG_STATE_HOME'];
  const base = stateHome !== undefined && isAbsolute(stateHome) ? stateHome : join(home, '.local', 'state');
  return join(base, STATE_DIR_NAME, 'registry.json');
}
