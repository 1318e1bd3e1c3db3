/** `agent serve`: the daemon. */
import type { Command } from 'commander';
import { messageOf } from '../../errors.js';
import { run } from '../run.js';
import { packageVersion } from '../../version.js';

/**
 * NODE_OPTIONS without the young-generation cap the packaged daemon runs with
 * (`--max-semi-space-size=N`, set by the systemd unit and the Dockerfile);
 * undefined when nothing else is left. V8 read it at start-up; the daemon's
 * children inherit its environment, and a tmux server its launcher starts
 * would hand the cap on to every project in it, often Node programs.
 */
export function withoutSemiSpaceCap(nodeOptions: string | undefined): string | undefined {
  const rest = (nodeOptions ?? '').split(/\s+/).filter((o) => o !== '' && !/^--max-semi-space-size=\d+$/.test(o));
  return rest.length > 0 ? rest.join(' ') : undefined;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description(
      'run the daemon: cycles on the schedule and on events, /metrics, /healthz, /readyz, the status page and the API',
    )
    .option('--listen <host:port>', 'HTTP listen address, e.g. 127.0.0.1:9820 (env AGENT_LISTEN; default 0.0.0.0:9820)')
    .addHelpText(
      'after',
      [
        '',
        'Environment: AGENT_LISTEN (host:port, same as --listen), AGENT_REGISTRY (same as --registry),',
        'AGENT_API_TOKEN (the write API, and reads from other hosts). Every key: config/default.yaml.',
        'One daemon per JSON registry: a second "agent serve" on the same registry exits 2,',
        'naming the PID and host of the one that holds it.',
      ].join('\n'),
    )
    .action((_opts: unknown, cmd: Command) =>
      run(
        cmd,
        async (ctx) => {
          const nodeOptions = withoutSemiSpaceCap(process.env['NODE_OPTIONS']);
          if (nodeOptions === undefined) delete process.env['NODE_OPTIONS'];
          else process.env['NODE_OPTIONS'] = nodeOptions;
          // Loaded here: the daemon's HTTP server and metrics cost every other command ~0.2 s of start-up.
          const { Agent } = await import('../../agent.js');
          const agent = new Agent({
            store: ctx.store,
            config: ctx.config,
            hostId: ctx.hostId,
            version: packageVersion(),
            log: ctx.log,
          });
          let stopping = false;
          let stopped!: () => void;
          const done = new Promise<void>((resolve) => (stopped = resolve));
          const shutdown = (signal: string): void => {
            if (stopping) return;
            stopping = true;
            ctx.log.info('shutting down: finishing the running cycle', { signal });
            // The orchestrated processes are never ours to stop: only the agent exits.
            const force = setTimeout(() => {
              ctx.log.error('shutdown took longer than 10 s; exiting anyway');
              process.exit(1);
            }, 10_000);
            force.unref();
            agent
              .stop()
              .then(
                () => void ctx.log.info('stopped', { signal }),
                (err: unknown) => void ctx.log.error('error while stopping', { error: messageOf(err) }),
              )
              .finally(stopped);
          };
          process.on('SIGTERM', () => shutdown('SIGTERM'));
          process.on('SIGINT', () => shutdown('SIGINT'));
          let listening;
          try {
            listening = await agent.start();
          } catch (err) {
            await agent.stop();
            throw err;
          }
          const url = listening?.url ?? '';
          process.stderr.write(
            `tmux-orchestrator-agent ${packageVersion()} serving registry ${ctx.store.location}\n` +
              `  status page  ${url}/\n  metrics      ${url}/metrics\n  ready        ${url}/readyz\n`,
          );
          ctx.log.info('serving', {
            registry: ctx.store.location,
            listen: ctx.config.listen,
            url,
            schedule: ctx.config.scanSchedule,
            host: ctx.hostId,
          });
          await done;
          return 0;
        },
        { daemon: true },
      ),
    );
}
