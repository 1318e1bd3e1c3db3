/**
 * How a command the agent launched ended. The launch keeps the window's pane
 * after the command exits (remain-on-exit), so the scan sees the pane dead
 * with its exit status or signal, and the evidence step reads its last lines.
 * Pure: both arrive as data.
 *
 * Only a project with a `command` is launched by the agent, and the pane
 * whose process is its recorded PID runs that command (a launch records the
 * pane's PID: the launcher, which exits with the command's status, 128 +
 * n when signal n killed it). A project an orchestrator starts and reports
 * has no command: it never has a command exit, even in a pane that a user
 * keeps after exit, and keeps the phantom grace.
 */
import type { Liveness } from './liveness.js';
import type { CompletionEvidence, Project } from '../model/project.js';

/** Lines kept of a command's last output. */
export const LAST_OUTPUT_LINES = 20;
/** Characters kept of one line of it. */
export const LAST_OUTPUT_LINE_CHARS = 300;

export interface CommandExit {
  paneId: string;
  /** The exit status, 128 + n when killed by signal n (as a shell reports it). */
  status: number;
  /** The signal that killed it, or null when it exited. */
  signal: number | null;
  /** True when every pane of the session is dead: nothing runs in it any more, it may be closed. */
  sessionDead: boolean;
}

/** The exit of the project's command when its pane is dead and tmux said how it ended, else null. */
export function commandExit(project: Pick<Project, 'pid' | 'command'>, l: Pick<Liveness, 'panes'>): CommandExit | null {
  if (project.command === null || project.command.length === 0) return null;
  const pane = l.panes.find((p) => p.paneDead && p.panePid === project.pid);
  if (!pane) return null;
  const status = pane.deadSignal !== null ? 128 + pane.deadSignal : pane.deadStatus;
  if (status === null) return null;
  return { paneId: pane.paneId, status, signal: pane.deadSignal, sessionDead: l.panes.every((p) => p.paneDead) };
}

/** Signal numbers a status above 128 can stand for (Linux has 64). */
const MAX_SIGNAL = 64;

/**
 * "exited with status 3", "exited with status 137 (128 + 9: killed by signal
 * 9)", "killed by signal 15 (status 143)". The launcher reports a command
 * a signal killed as 128 + n, as shells do; tmux names the signal itself only
 * when the pane's own process (the launcher) was killed.
 */
export function describeExit(exit: CommandExit): string {
  if (exit.signal !== null) return `killed by signal ${exit.signal} (status ${exit.status})`;
  const signal = exit.status - 128;
  if (signal >= 1 && signal <= MAX_SIGNAL)
    return `exited with status ${exit.status} (128 + ${signal}: killed by signal ${signal})`;
  return `exited with status ${exit.status}`;
}

/** An exit with status 0 as completion evidence of `weight` (config completionExitZeroWeight); null for any other. */
export function exitEvidence(exit: CommandExit | null, weight: number): CompletionEvidence | null {
  if (exit === null || exit.status !== 0) return null;
  return { method: 'exit', weight, detail: `the launched command ${describeExit(exit)}` };
}

// CSI/OSC escape sequences, then any other control character (tab becomes a space first).
const ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * The last LAST_OUTPUT_LINES non-blank lines of `lines`, in order, each
 * without escape sequences or control characters and cut to
 * LAST_OUTPUT_LINE_CHARS: safe to store and to print on any terminal.
 */
export function lastOutputOf(lines: readonly string[]): string[] {
  const clean = lines
    .map((line) => line.replace(/\t/g, ' ').replace(ESCAPES, '').replace(CONTROLS, '').trimEnd())
    .filter((line) => line.trim() !== '');
  return clean
    .slice(-LAST_OUTPUT_LINES)
    .map((line) => (line.length > LAST_OUTPUT_LINE_CHARS ? `${line.slice(0, LAST_OUTPUT_LINE_CHARS - 1)}…` : line));
}
