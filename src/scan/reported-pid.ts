/**
 * What a reported start (`agent start ID --pid P`, `POST .../start`) may
 * name. The PID is recorded and later signalled as the project's process
 * tree, so a PID that can never be a project's is refused before anything is
 * written: PID 1, the agent itself (the reporting command, the daemon that
 * holds the registry), a tmux server the agent watches (killing it would kill
 * every session on it), and a PID that does not exist.
 */
import type { AgentConfig } from '../config/keys.js';
import { socketsToScan } from '../cycle.js';
import { InputError } from '../errors.js';
import type { RegistryStore } from '../registry/store.js';
import { readStartTime } from './proc-table.js';
import { describeSocket, normaliseSocket, runTmux } from './tmux-command.js';

export interface ReportedPidOptions {
  store: RegistryStore;
  config: AgentConfig;
  /** The socket the report names for the project, if any: its server is watched from now on. */
  tmuxSocket?: string | undefined;
  /** The process reporting: the CLI command, or the daemon serving the API. */
  self: { pid: number; what: string };
}

/** The PID of a tmux server; null when it is not running or does not answer. */
async function tmuxServerPid(socket: string | null, timeoutMs: number): Promise<number | null> {
  try {
    const out = (await runTmux(socket, ['display-message', '-p', '#{pid}'], { timeoutMs })).trim();
    return /^\d+$/.test(out) ? Number(out) : null;
  } catch {
    return null; // not running (no sessions, no server), or unreadable: it has no PID to compare
  }
}

function refuse(pid: number, why: string): never {
  throw new InputError(`refused pid ${pid}: ${why}; nothing was written`, { field: 'pid' });
}

/** The start time of a PID a project may be reported with; InputError (exit 2, HTTP 400) naming why it may not. */
export async function checkReportedPid(pid: number, options: ReportedPidOptions): Promise<number> {
  if (pid === 1) refuse(pid, "PID 1 is the system's init process, never a project's");
  if (pid === options.self.pid) refuse(pid, `that is ${options.self.what} itself, not the project's process`);
  const store = options.store;
  const daemon = await store.daemonHolder();
  if (daemon?.alive === true && daemon.holder.pid === pid) {
    refuse(pid, `that is the agent daemon (agent serve) holding registry ${store.location}`);
  }
  const startTime = await readStartTime(pid);
  if (startTime === null) {
    const why = 'no such process on this host (the start is reported by the process that is running)';
    throw new InputError(`invalid pid ${pid}: ${why}`, { field: 'pid' });
  }
  const projects = (await store.load()).projects;
  const sockets = [...new Set([...socketsToScan(options.config, projects), normaliseSocket(options.tmuxSocket)])];
  const timeoutMs = options.config.tmuxTimeoutMs;
  const servers = await Promise.all(
    sockets.map(async (socket) => ({ socket, pid: await tmuxServerPid(socket, timeoutMs) })),
  );
  const server = servers.find((s) => s.pid === pid);
  if (server) {
    const what = `${describeSocket(server.socket)}, which holds every session on it`;
    refuse(pid, `that is ${what}; report the PID of the command in the pane (tmux list-panes -F '#{pane_pid}')`);
  }
  return startTime;
}
