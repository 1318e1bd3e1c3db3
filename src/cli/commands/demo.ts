/**
 * `agent demo`: every failure mode the agent heals, staged on a private tmux
 * server and a temporary registry, with the daemon running in-process on
 * 127.0.0.1 with timings of seconds, shown live until each one is healed.
 * The run itself is in demo-action.ts, imported when the command runs: the
 * daemon (`agent serve`) builds this program too and never needs the demo.
 */
import { InvalidArgumentError, type Command } from 'commander';

export interface DemoOptions {
  duration: number;
  linger: number;
  port: number;
  plain?: boolean;
  json?: boolean;
}

function seconds(name: string, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n > max)
      throw new InvalidArgumentError(`${name} must be a whole number of seconds from 0 to ${max}`);
    return n;
  };
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('port must be from 0 to 65535 (0: a free one)');
  return n;
}
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description(
      'stage every failure mode (completes, hangs, zombie, phantom, fails repeatedly, orphan session) ' +
        'on a private tmux server and a temporary registry, and watch the agent detect and heal them live; ' +
        'never touches your registry or tmux server',
    )
    .option(
      '--duration <sec>',
      'stop after this long even if not everything was healed',
      seconds('--duration', 3600),
      120,
    )
    .option(
      '--linger <sec>',
      'keep the daemon serving this long after everything was healed, to look at the URLs',
      seconds('--linger', 3600),
      0,
    )
    .option('--port <port>', 'HTTP port on 127.0.0.1; 0 picks a free one', port, 0)
    .option('--plain', 'plain appended lines even on a terminal')
    .option('--json', 'print a JSON summary on stdout (the live view goes to stderr)')
    .action(async (opts: DemoOptions, cmd: Command) => (await import('./demo-action.js')).runDemo(opts, cmd));
}
