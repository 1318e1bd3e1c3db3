/** `agent queue pause [--until T]` and `agent queue resume`: hold or release the whole queue by hand. */
import type { Command } from 'commander';
import { isManualPause, isQueuePaused, pausedByText } from '../../core/policy/queue-breaker.js';
import type { QueueBreakerRecord } from '../../core/model/registry-document.js';
import { pauseQueue, resumeQueue } from '../../registry/operations.js';
import { relative } from '../format.js';
import { printJson, printLine, run } from '../run.js';

export const RESUME_HINT = 'resume now with: agent queue resume';

/** "by cli@h until resumed", "by the queue breaker until <time> (in 29m 58s), tripped by a, b"; null while running. */
export function describePause(queue: QueueBreakerRecord, now: number): string | null {
  if (!isQueuePaused(queue, now)) return null;
  const until =
    queue.resumeAt === null ? 'until resumed' : `until ${queue.resumeAt} (${relative(queue.resumeAt, now)})`;
  const byBreaker = !isManualPause(queue) && queue.trippedBy.length > 0;
  const tripped = byBreaker ? `, tripped by ${queue.trippedBy.join(', ')}` : '';
  return `by ${pausedByText(queue)} ${until}${tripped}`;
}

export function registerQueue(program: Command): void {
  const queue = program
    .command('queue')
    .description('pause or resume the whole queue by hand (no launches and no retries while paused)');

  queue
    .command('pause')
    .description('pause the queue: no launches and no retries until --until, or until "agent queue resume"')
    .option(
      '--until <time>',
      'when the pause ends: an ISO-8601 time with its zone (2026-12-04T18:00:00Z) ' +
        'or a duration (30m, 2h; units s, m, h, d)',
    )
    .option('--json', 'print the queue record as one JSON document')
    .action((opts: { until?: string; json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const { queue: record } = await pauseQueue(ctx.operations, { until: opts.until });
        if (opts.json) printJson({ queue: record });
        else printLine(`queue paused ${describePause(record, ctx.now()) ?? ''}; ${RESUME_HINT}`);
      }),
    );

  queue
    .command('resume')
    .description('resume the queue now, whoever paused it (the queue breaker or an operator)')
    .option('--json', 'print the queue record as one JSON document')
    .action((opts: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const now = ctx.now();
        const { queue: record, previous, changed } = await resumeQueue(ctx.operations);
        if (opts.json) printJson({ queue: record, changed });
        else if (!changed) printLine('queue is not paused; nothing to do');
        else printLine(`queue resumed by ${ctx.operations.by} (was paused ${describePause(previous, now) ?? ''})`);
      }),
    );
}
