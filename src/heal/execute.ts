/**
 * Executes the actions of a guarded plan against the OS and reports each
 * outcome. Kills run concurrently, so one cycle's grace is paid once.
 */
import type { AgentConfig } from '../config/keys.js';
import type { LaunchFailureReason } from '../core/policy/launch.js';
import type { HealAction } from '../core/model/plan.js';
import { iso, type Project } from '../core/model/project.js';
import { unwatchedRefusal } from '../core/policy/tmux-servers.js';
import { InputError, messageOf } from '../errors.js';
import { readStartTime } from '../scan/proc-table.js';
import { TmuxCommandError } from '../scan/tmux-command.js';
import { killTree } from './kill-tree.js';
import { killSession, launchSession } from './tmux-actions.js';

export type Outcome = 'success' | 'failure' | 'skipped';

export interface ActionOutcome {
  action: HealAction;
  outcome: Outcome;
  detail: string;
  /** For a launch: what the project now runs as, and when the attempt began (read before tmux started it). */
  launched?: Pick<Project, 'pid' | 'pidStartTime' | 'session' | 'tmuxSocket' | 'startedAt'>;
  /**
   * For a launch known not to have started: the project's own cwd or command
   * is invalid (`invalid_command`), or tmux answered with an error
   * (`launch_failed`). A launch whose tmux timed out carries none: its session
   * may exist, so its intent is left for the next cycle to adopt or drop.
   */
  launchFailure?: LaunchFailureReason;
}

export interface ExecuteOptions {
  config: AgentConfig;
  /** Clock of a launch's start time; default Date.now. */
  now?: () => number;
  procRoot?: string;
  tmuxPath?: string;
}

async function executeOne(action: HealAction, options: ExecuteOptions): Promise<ActionOutcome> {
  const { config } = options;
  const tmux = { timeoutMs: config.tmuxTimeoutMs, ...(options.tmuxPath ? { tmuxPath: options.tmuxPath } : {}) };
  switch (action.kind) {
    case 'kill_tree': {
      const tree = await killTree({
        pid: action.pid,
        pidStartTime: action.pidStartTime,
        graceMs: config.killGraceSec * 1000,
        allowForeignUsers: config.allowForeignUsers,
        ...(options.procRoot ? { procRoot: options.procRoot } : {}),
      });
      if (tree.outcome !== 'success' || action.session === null)
        return { action, outcome: tree.outcome, detail: tree.detail };
      const session = await killSession(action.tmuxSocket, action.session, tmux);
      // The tree is what mattered; a session already gone is fine.
      const outcome: Outcome = session.outcome === 'failure' ? 'failure' : 'success';
      return { action, outcome, detail: `${tree.detail}; ${session.detail}` };
    }
    case 'kill_session': {
      const result = await killSession(action.tmuxSocket, action.session, tmux);
      return { action, outcome: result.outcome, detail: result.detail };
    }
    case 'launch': {
      // Launched where the agent does not look, a project would never be seen again.
      const unwatched = unwatchedRefusal(action.tmuxSocket, config);
      if (unwatched !== null) {
        return { action, outcome: 'failure', detail: unwatched, launchFailure: 'invalid_command' };
      }
      // Before tmux starts the command: nothing it writes (a marker, a commit) can predate the attempt.
      const startedAt = iso((options.now ?? Date.now)());
      let panePid: number;
      try {
        ({ panePid } = await launchSession(action.tmuxSocket, action.session, action.cwd, action.command, tmux));
      } catch (err) {
        // Bad input (no such cwd, a command tmux cannot take) never runs, however often it is tried.
        if (err instanceof InputError)
          return { action, outcome: 'failure', detail: messageOf(err), launchFailure: 'invalid_command' };
        // tmux said no (a duplicate session, a server that cannot start): nothing was created.
        if (err instanceof TmuxCommandError && !err.timedOut)
          return { action, outcome: 'failure', detail: messageOf(err), launchFailure: 'launch_failed' };
        throw err;
      }
      const pidStartTime = await readStartTime(panePid, options.procRoot);
      return {
        action,
        outcome: 'success',
        detail: `session ${action.session} started, pid ${panePid}`,
        launched: { pid: panePid, pidStartTime, session: action.session, tmuxSocket: action.tmuxSocket, startedAt },
      };
    }
  }
}

/** Run every action; a throw becomes a `failure` outcome with its message. */
export async function executeActions(
  actions: readonly HealAction[],
  options: ExecuteOptions,
): Promise<ActionOutcome[]> {
  return Promise.all(
    actions.map((action) =>
      executeOne(action, options).catch((err: unknown): ActionOutcome => ({
        action,
        outcome: 'failure',
        detail: messageOf(err),
      })),
    ),
  );
}
