/**
 * An event source tells the agent "something changed, run a cycle". Each is
 * one small file behind this interface; when one fails, polling (the cron
 * schedule) remains, and the failure is visible in status and metrics.
 */
export interface EventSource {
  /** Stable name for status and metrics: registry_watch, tmux_hooks, pid_probe. */
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Up and working; `detail` says what it watches or why it is down. */
  health(): { up: boolean; detail: string };
}

export type Trigger = (reason: string) => void;
