/**
 * Which tmux servers the agent watches, and where a project runs. A project
 * on a server the agent does not scan is never seen again: its process
 * looks dead, its session missing. So a launch without a socket goes to the
 * first watched server, an explicit socket the agent does not watch is
 * refused at enqueue and at launch, and `agent diagnostics` reports any
 * project found on one. Socket values follow the registry's convention:
 * null is the default server, a value with `/` a socket path, else a name.
 */
import type { AgentConfig } from '../../config/keys.js';
import { isTerminal, type Project } from '../model/project.js';

export type ServerConfig = Pick<AgentConfig, 'tmuxSockets'>;

/** The config spelling `default` means the default server. */
export function normaliseSocket(socket: string | null | undefined): string | null {
  return socket === undefined || socket === null || socket === 'default' ? null : socket;
}

export function describeSocket(socket: string | null): string {
  return socket === null ? 'the default tmux server' : `tmux server ${socket}`;
}

/** The servers a cycle scans: configured, else the default server plus every socket a project names. */
export function watchedServers(config: ServerConfig, projects: readonly Project[]): (string | null)[] {
  const configured = config.tmuxSockets?.map(normaliseSocket);
  return [...new Set(configured ?? [null, ...projects.map((p) => p.tmuxSocket)])];
}

/** Whether `socket` is scanned. Without configured servers every project's server is. */
export function isWatched(socket: string | null, config: ServerConfig): boolean {
  const configured = config.tmuxSockets;
  return configured === null || configured.some((s) => normaliseSocket(s) === normaliseSocket(socket));
}

/**
 * Where a launch goes: the project's own server, else the first watched one
 * (the default server when none are configured).
 */
export function launchServer(project: Pick<Project, 'tmuxSocket'>, config: ServerConfig): string | null {
  return project.tmuxSocket ?? normaliseSocket(config.tmuxSockets?.[0]);
}

/** "the default tmux server, tmux server a (config tmuxSockets)" for messages. */
export function describeWatched(config: ServerConfig): string {
  if (config.tmuxSockets === null) return 'the default tmux server and every server a project names';
  const servers = config.tmuxSockets.map((s) => describeSocket(normaliseSocket(s)));
  return `${servers.join(', ')} (config tmuxSockets, env AGENT_TMUX_SOCKETS)`;
}

/** Why `socket` may not be used by a project, or null when it may. */
export function unwatchedRefusal(socket: string | null, config: ServerConfig): string | null {
  if (isWatched(socket, config)) return null;
  return `${describeSocket(socket)} is not watched by this agent; it watches ${describeWatched(config)}`;
}

export interface UnwatchedProject {
  project: string;
  state: Project['state'];
  server: string | null;
  reason: string;
}

/**
 * Projects that run, or would run, on a server the agent does not watch:
 * every project that is not finished, on its recorded server, or for a
 * queued one the agent launches, on the server its launch would use.
 */
export function unwatchedProjects(projects: readonly Project[], config: ServerConfig): UnwatchedProject[] {
  const out: UnwatchedProject[] = [];
  for (const p of projects) {
    if (isTerminal(p.state)) continue;
    const launched = p.state === 'queued' && p.command !== null && p.command.length > 0;
    const server = launched ? launchServer(p, config) : p.tmuxSocket;
    const refusal = unwatchedRefusal(server, config);
    if (refusal === null) continue;
    out.push({ project: p.id, state: p.state, server, reason: `${p.state} project ${p.id}: ${refusal}` });
  }
  return out;
}
