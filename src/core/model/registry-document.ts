import type { FollowUp, HealActionKind } from './plan.js';
import type { Project } from './project.js';

/** Queue-wide breaker state, persisted in the registry (docs/design.md#self-healing-policy). */
export interface QueueBreakerRecord {
  paused: boolean;
  pausedAt: string | null;
  /**
   * End of the current pause (cooldown end, or the `--until` of a manual
   * pause), or of the last one once running again: projects that finished
   * before it never count toward the next trip. Null if the queue has never
   * paused, or while a manual pause lasts until it is resumed.
   */
  resumeAt: string | null;
  /** How many times the queue breaker has tripped since the queue last ran cleanly. */
  opens: number;
  /** The failed project ids that tripped the breaker last, newest first (kept after it resumes). */
  trippedBy: string[];
  /**
   * Who paused the queue: `breaker` when the queue breaker tripped, the actor
   * (`cli@host`, `api@host`) for `agent queue pause`; null while running (and
   * in records written before this field, read as the breaker's).
   */
  pausedBy: string | null;
}

/** `pausedBy` of a pause the queue breaker decided. */
export const PAUSED_BY_BREAKER = 'breaker';

/**
 * A destructive action recorded before it runs (docs/architecture.md#crash-safety): after a crash the
 * next cycle finishes or re-plans it and never repeats a kill on a new PID.
 */
export interface Intent {
  id: string;
  project: string | null;
  action: HealActionKind;
  /** The PID and start time the action was planned against, when it targets a process. */
  pid: number | null;
  pidStartTime: number | null;
  session: string | null;
  tmuxSocket: string | null;
  /** The move to apply once the action is known to have happened. */
  then: FollowUp | null;
  at: string;
  by: string;
}

/** Schema version 1 of the registry file. Unknown top-level fields are preserved. */
export interface RegistryDocument {
  version: 1;
  projects: Project[];
  queue: QueueBreakerRecord;
  intents: Intent[];
  [extra: string]: unknown;
}

export function emptyQueueBreaker(): QueueBreakerRecord {
  return { paused: false, pausedAt: null, resumeAt: null, opens: 0, trippedBy: [], pausedBy: null };
}

export function emptyDocument(): RegistryDocument {
  return { version: 1, projects: [], queue: emptyQueueBreaker(), intents: [] };
}
