/**
 * The launcher's choice (docs/design.md#self-healing-policy): which queued projects the agent starts
 * this cycle. Pure: `now`, the host id and the session-suffix source are
 * arguments; the tmux call happens in heal/.
 */
import type { AgentConfig } from '../../config/keys.js';
import { mayLaunch, type LaunchHolds } from '../rules/agent-activity/hold.js';
import type { RandomSource } from './backoff.js';
import { allowsAttempt, type BreakerConfig } from './breaker.js';
import type { LaunchAction, PlannedTransition } from '../model/plan.js';
import { isActive, isImported, ms, SESSION_NAME_PATTERN, type Project } from '../model/project.js';
import { isQueuePaused } from './queue-breaker.js';
import type { QueueBreakerRecord } from '../model/registry-document.js';
import { launchServer, type ServerConfig } from './tmux-servers.js';

export type LaunchConfig = BreakerConfig & ServerConfig & Pick<AgentConfig, 'maxConcurrent'>;

const SUFFIX_LENGTH = 9; // "-" + 8 hex digits
const MAX_SESSION_LENGTH = 128;

/** 8 lowercase hex digits from a source in [0, 1). */
export function hexSuffix(random: RandomSource): string {
  const draw = random();
  const unit = Number.isFinite(draw) ? Math.min(Math.max(draw, 0), 1 - Number.EPSILON) : 0;
  return Math.floor(unit * 0x1_0000_0000)
    .toString(16)
    .padStart(8, '0');
}

/**
 * `<base>-<8 hex>` with every character a session name may not hold (an id
 * allows ".", tmux rewrites it) replaced by "_", the base cut to fit 128
 * characters; always matches SESSION_NAME_PATTERN.
 */
export function sessionNameFor(baseName: string, random: RandomSource): string {
  const base = baseName.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, MAX_SESSION_LENGTH - SUFFIX_LENGTH) || 'project';
  return `${base}-${hexSuffix(random)}`;
}

/** Launch order: highest priority, then oldest `enqueuedAt` (unreadable last), then id. */
export function launchOrder(a: Project, b: Project): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  const ea = ms(a.enqueuedAt) ?? Number.POSITIVE_INFINITY;
  const eb = ms(b.enqueuedAt) ?? Number.POSITIVE_INFINITY;
  if (ea !== eb) return ea < eb ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Queued projects that carry a non-empty `command`, whose breaker allows an
 * attempt, in launch order, up to `maxConcurrent` minus the active
 * (processing, timing_out, zombie) projects; nothing while the queue is paused.
 * Active projects are counted across the whole registry, whichever host runs
 * them. Imported projects (`source` set) are neither launched nor counted:
 * their own scheduler runs them.
 *
 * A project without a tmux socket goes to the first watched server (config
 * `tmuxSockets`), where the agent will see it; the launch records it.
 *
 * A usage limit seen in an agent's pane holds launches until its reset
 * (`holds`: every launch with `rateLimitScope: host`, the limited project's
 * own with `project`); the slot stays free meanwhile.
 *
 * Every launch gets a fresh session name, `<sessionBase or id>-<8 hex>`: the
 * session an earlier attempt recorded is never reused, since it may still be
 * alive (a window its process left behind, a kill that did not finish) and
 * tmux would refuse the launch as a duplicate, attempt after attempt, while
 * the old session runs on untracked.
 *
 * @param random source of the session-name suffix.
 * @param holds launch holds of usage limits (default none).
 */
export function selectLaunches(
  projects: readonly Project[],
  queue: QueueBreakerRecord,
  config: LaunchConfig,
  now: number,
  hostId: string,
  random: RandomSource,
  holds: LaunchHolds | null = null,
): LaunchAction[] {
  if (isQueuePaused(queue, now)) return [];
  const own = projects.filter((p) => !isImported(p));
  const active = own.filter((p) => isActive(p.state)).length;
  const slots = Math.max(0, config.maxConcurrent - active);
  if (slots === 0) return [];
  const candidates = own
    .filter((p) => p.state === 'queued' && p.command !== null && p.command.length > 0)
    .filter((p) => allowsAttempt(p.breaker, now, config))
    .filter((p) => holds === null || mayLaunch(p.id, holds, now))
    .sort(launchOrder)
    .slice(0, slots);
  return candidates.map((p, i): LaunchAction => {
    const base = p.sessionBase !== null && SESSION_NAME_PATTERN.test(p.sessionBase) ? p.sessionBase : p.id;
    const session = sessionNameFor(base, random);
    return {
      kind: 'launch',
      project: p.id,
      session,
      tmuxSocket: launchServer(p, config),
      cwd: p.cwd,
      command: [...(p.command ?? [])],
      reason:
        `queued with priority ${p.priority} since ${p.enqueuedAt}; ` +
        `slot ${active + i + 1} of ${config.maxConcurrent}`,
      then: { to: 'processing', reason: 'launched', patch: { host: hostId, session } },
    };
  });
}

/** Why a launch that did not start fails its project: its own input, or tmux refusing it. */
export type LaunchFailureReason = 'invalid_command' | 'launch_failed';

/**
 * The moves that record a launch that did not start as a failed attempt:
 * queued → processing → failed with `failureReason`. `invalid_command` is a
 * launch refused for the project's own input (its cwd is not a directory,
 * tmux cannot take its command), not retried by default; `launch_failed` is
 * tmux refusing it (a session of that name exists already, the server cannot
 * start), retried with backoff like any failure. Left queued, such a project
 * would be picked first again every cycle and hold its slot. Nothing ran, so
 * no pid and no session are recorded (a generated session name would claim a
 * session that is not ours).
 */
export function failedLaunchMoves(
  action: LaunchAction,
  detail: string,
  failureReason: LaunchFailureReason,
): [attempted: PlannedTransition, failed: PlannedTransition] {
  const host = action.then?.patch?.host;
  const verb = failureReason === 'invalid_command' ? 'launch refused' : 'launch failed';
  return [
    {
      project: action.project,
      from: 'queued',
      to: 'processing',
      reason: 'launch attempted',
      patch: { ...(host !== undefined ? { host } : {}), pid: null, pidStartTime: null },
    },
    {
      project: action.project,
      from: 'processing',
      to: 'failed',
      reason: `${verb}: ${detail}`,
      patch: { failureReason },
    },
  ];
}
