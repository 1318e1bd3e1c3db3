/**
 * The two tmux actions of a heal: kill a session and launch a project's
 * command in a new one. Targets are exact (`=name`), names are validated
 * before tmux runs, and no user text is ever read by a shell.
 */
import { stat } from 'node:fs/promises';
import { killSessionRefusal } from '../core/guard/kill-safety.js';
import { SESSION_NAME_PATTERN } from '../core/model/project.js';
import { InputError } from '../errors.js';
import {
  describeSocket,
  exactSession,
  runTmux,
  TmuxCommandError,
  tmuxLiteral,
  type RunTmuxOptions,
} from '../scan/tmux-command.js';

export interface TmuxActionResult {
  outcome: 'success' | 'failure' | 'skipped';
  detail: string;
}

export interface LaunchResult {
  /** PID of the pane's process: the launcher's, whose child is the project's command (see LAUNCH_SCRIPT). */
  panePid: number;
}

/** tmux's answer for an exact target that names no session. */
function isMissingSession(stderr: string): boolean {
  return /can't find session/.test(stderr) || /no such session/.test(stderr);
}

function validSession(session: string): boolean {
  return SESSION_NAME_PATTERN.test(session);
}

/**
 * Kill exactly `session` (never a prefix match: `w-1` leaves `w-10` alone).
 * A session or server that is already gone is `skipped`; an invalid name is a
 * `failure` with nothing run, since scanned names of other tools may be odd.
 */
export async function killSession(
  socket: string | null,
  session: string,
  options: RunTmuxOptions,
): Promise<TmuxActionResult> {
  const refused = killSessionRefusal(session);
  if (refused) return { outcome: 'failure', detail: refused.detail };
  const gone = (err: unknown): boolean =>
    err instanceof TmuxCommandError && !err.timedOut && (err.noServer || isMissingSession(err.stderr));
  const skipped: TmuxActionResult = {
    outcome: 'skipped',
    detail: `session ${session} on ${describeSocket(socket)} is already gone`,
  };
  try {
    await runTmux(socket, ['kill-session', '-t', exactSession(session)], options);
    return { outcome: 'success', detail: `killed session ${session} on ${describeSocket(socket)}` };
  } catch (err) {
    if (gone(err)) return skipped;
    // When a tree kill ends the last pane, tmux closes the session and its server exits; a kill-session
    // connecting in that instant hears "server exited unexpectedly". Ask again before calling it a failure.
    if (err instanceof TmuxCommandError && !err.timedOut) {
      const still = await runTmux(socket, ['has-session', '-t', exactSession(session)], options).then(
        () => true,
        (again: unknown) => !gone(again),
      );
      if (!still) return skipped;
    }
    return { outcome: 'failure', detail: err instanceof Error ? err.message : String(err) };
  }
}

/** The launcher's name in its own error messages ("toa-launch: cannot run x: No such file or directory"). */
export const LAUNCH_NAME = 'toa-launch';

/** How long the launcher waits at most for a terminal that does not answer its cursor-position question. */
export const LAUNCH_REPLY_WAIT_SEC = 5;

/**
 * The fixed program every launched command runs under, as `/usr/bin/perl -e
 * LAUNCH_SCRIPT -- <command words>` (perl-base is part of every Debian
 * system): the words arrive as @ARGV and the first is run as a program, so no
 * text of the user's is ever read as code.
 *
 * Why a launcher at all: tmux drops what a pane's process wrote but tmux had
 * not read yet when that process exits (by design), so an instant crash often
 * lost its error line. The launcher forks the command, waits for it, and then
 * waits for tmux itself: it asks the terminal for the cursor position (DSR,
 * `ESC [ 6 n`, after a CAN that ends any escape sequence the command left
 * unfinished) and reads tmux's answer. tmux parses a pane's output in order,
 * so once it answers it has read, and drawn, everything the command wrote.
 * Only then does the launcher exit with the command's status (128 + n when
 * signal n killed it, as shells report it). For the question and answer the
 * launcher takes the terminal back (foreground process group, no echo, no
 * line buffering, unread input dropped): the command is gone, and a shell it
 * ran may have left the terminal to a group that no longer exists. A terminal
 * that does not answer (a process the command left behind reads the answer
 * first, say) holds the launcher at most LAUNCH_REPLY_WAIT_SEC; with no
 * terminal, or a hung-up one (its session killed), it exits at once, and so
 * it does on SIGHUP or SIGTERM once the command is gone.
 *
 * It is the pane's first process and the project's recorded PID; the command
 * is its child, so a tree kill reaches both. It passes SIGHUP and SIGTERM on
 * to the command and lives as long as the command does: a killed session's
 * hangup (which the kernel sends only to the pane's first process) reaches
 * the command as before, and a command that ignores it runs on under a live
 * recorded PID without its session, a zombie that the next cycle kills as a
 * tree. SIGINT and SIGQUIT from the terminal reach the command directly (same
 * process group); the launcher ignores them. A shell cannot do this: it runs
 * no trap while it waits for a foreground command.
 */
export const LAUNCH_SCRIPT = [
  'my $pid = fork;',
  `defined $pid or die "${LAUNCH_NAME}: cannot fork: $!\\n";`,
  'if ($pid == 0) {',
  '  exec { $ARGV[0] } @ARGV;',
  `  print STDERR "${LAUNCH_NAME}: cannot run $ARGV[0]: $!\\n";`,
  '  exit($!{ENOENT} ? 127 : 126);',
  '}',
  "$SIG{INT} = $SIG{QUIT} = 'IGNORE';",
  '$SIG{HUP} = $SIG{TERM} = sub { kill $_[0], $pid };',
  'waitpid $pid, 0;',
  'my $status = $? & 127 ? 128 + ($? & 127) : $? >> 8;',
  '$SIG{HUP} = $SIG{TERM} = sub { exit $status };',
  "if (-t STDIN && open my $tty, '+<', '/dev/tty') {",
  '  require POSIX;',
  "  $SIG{TTOU} = $SIG{TTIN} = 'IGNORE';",
  '  my $fd = fileno $tty;',
  '  POSIX::tcsetpgrp($fd, POSIX::getpgrp());',
  '  my $mode = POSIX::Termios->new;',
  '  if ($mode->getattr($fd)) {',
  '    $mode->setlflag($mode->getlflag & ~(POSIX::ICANON() | POSIX::ECHO()));',
  '    $mode->setcc(POSIX::VMIN(), 1);',
  '    $mode->setattr($fd, POSIX::TCSANOW());',
  '  }',
  '  POSIX::tcflush($fd, POSIX::TCIFLUSH());',
  `  my ($reply, $end) = ('', time + ${LAUNCH_REPLY_WAIT_SEC});`,
  String.raw`  if (syswrite $tty, "\x18\e[6n") {`,
  String.raw`    while ($reply !~ /\e\[\d+;\d+R/ && (my $left = $end - time) > 0) {`,
  "      vec(my $ready = '', $fd, 1) = 1;",
  '      last unless select($ready, undef, undef, $left) > 0 && sysread $tty, $reply, 64, length $reply;',
  '    }',
  '  }',
  '}',
  'exit $status',
].join('\n');
/** The interpreter of LAUNCH_SCRIPT (perl-base, Essential on Debian). */
export const LAUNCH_INTERPRETER = '/usr/bin/perl';

/**
 * The argument vector for tmux: the launcher and the command's words
 * after it, each made literal for tmux's own parser (see tmuxLiteral).
 */
export function launchArgv(command: readonly string[]): string[] {
  if (command.length === 0 || command.some((a) => typeof a !== 'string')) {
    throw new InputError('command must be a non-empty list of strings');
  }
  if (command[0] === '') throw new InputError('command must not start with an empty program name');
  return [LAUNCH_INTERPRETER, '-e', LAUNCH_SCRIPT, '--', ...command].map(tmuxLiteral);
}

/**
 * Start `command` detached in a new session `session` (in `cwd` when given)
 * under the launcher (LAUNCH_SCRIPT) and return the pane PID, the
 * launcher's: the project's recorded PID, whose tree holds the command.
 * The PID is printed by `new-session -P` itself, so a command that exits at
 * once cannot race a second lookup. The window keeps its pane when the
 * command exits (`remain-on-exit on`), so the cycle can read the exit status
 * and the last lines of output before it closes the session; the option is
 * set in the same tmux call, which the server runs to the end before it
 * handles the child's exit, so even an instant exit keeps its pane
 * (and its PID, read from the pane when tmux printed none).
 * Throws InputError for bad input (nothing run) and TmuxCommandError when tmux
 * fails (a duplicate session, say).
 */
export async function launchSession(
  socket: string | null,
  session: string,
  cwd: string | null,
  command: readonly string[],
  options: RunTmuxOptions,
): Promise<LaunchResult> {
  if (!validSession(session)) {
    throw new InputError(`invalid session name ${JSON.stringify(session)}: it must match ${SESSION_NAME_PATTERN}`);
  }
  const argv = launchArgv(command);
  const args = ['new-session', '-d', '-P', '-F', '#{pane_pid}', '-s', session];
  if (cwd !== null) {
    // tmux silently falls back to another directory when -c does not exist; running there would be worse.
    const info = await stat(cwd).catch(() => null);
    if (!info?.isDirectory()) throw new InputError(`cwd ${JSON.stringify(cwd)} is not an existing directory`);
    args.push('-c', cwd);
  }
  const keepPane = [';', 'set-option', '-w', '-t', `${exactSession(session)}:`, 'remain-on-exit', 'on'];
  const newSession = (): Promise<string> => runTmux(socket, [...args, '--', ...argv, ...keepPane], options);
  // When the last session of a server closes, the server exits; a client connecting in that instant hears
  // "server exited unexpectedly" and nothing was created. Once more starts a new server.
  const stdout = await newSession().catch((err: unknown) => {
    if (err instanceof TmuxCommandError && !err.timedOut && /server exited unexpectedly/.test(err.stderr)) {
      return newSession();
    }
    throw err;
  });
  let text = stdout.trim();
  if (text === '') {
    // In a burst of launches that start the server, tmux sometimes drops the -P output of a session it made. The
    // kept pane still has its PID, and the session is this launch's alone (every launch gets a fresh name).
    text = (
      await runTmux(socket, ['list-panes', '-t', `${exactSession(session)}:`, '-F', '#{pane_pid}'], options)
    ).trim();
  }
  const panePid = Number(text);
  if (!/^\d+$/.test(text) || panePid <= 0) {
    throw new Error(`tmux new-session on ${describeSocket(socket)} printed no pane pid: ${JSON.stringify(stdout)}`);
  }
  return { panePid };
}
