/** `agent status [--json]`: the queue summary and every project by state. */
import type { Command } from 'commander';
import { currentState, halfOpensAt } from '../../core/policy/breaker.js';
import { PROJECT_STATES, type Project } from '../../core/model/project.js';
import { displayOrder, nextAttempt, projectRow, stateSince, waitingOn } from '../../core/views/project-view.js';
import type { LaunchHolds } from '../../core/rules/agent-activity/hold.js';
import { hostLaunchHolds } from '../../core/rules/agent-activity/observe.js';
import { isLocal } from '../../core/rules/reconcile.js';
import type { QueueBreakerRecord } from '../../core/model/registry-document.js';
import { summariseQueue } from '../../core/views/queue-summary.js';
import { exitReport, reasonText, relative, staleMarkerTable, table } from '../format.js';
import { describePause, RESUME_HINT } from './queue.js';
import { printJson, printLine, run } from '../run.js';
import type { CliContext } from '../context.js';

function breakerText(project: Project, ctx: CliContext, now: number): string {
  const state = currentState(project.breaker, now, ctx.config);
  if (state !== 'open') return state;
  const at = halfOpensAt(project.breaker, ctx.config);
  return at === null ? 'open' : `open (half-open ${relative(new Date(at).toISOString(), now)})`;
}

/** "in 12s", "due now", "held: breaker open", "never: attempts exhausted (5 of 5)": never a time in the past. */
function nextAttemptText(
  project: Project,
  queue: QueueBreakerRecord,
  ctx: CliContext,
  now: number,
  holds: LaunchHolds,
): string {
  const next = nextAttempt(project, queue, ctx.config, now, holds);
  switch (next.status) {
    case 'scheduled':
      return relative(next.at, now);
    case 'due':
      return project.state === 'queued' ? 'next free slot' : 'due now';
    case 'held':
    case 'never':
      return `${next.status}: ${next.reason ?? '?'}${next.until === undefined ? '' : ` until ${next.until}`}`;
    case 'none':
      return '-';
  }
}

/** Projects whose agent waits on a prompt or a usage limit, with the pane line; null when none. */
function waitingTable(projects: readonly Project[], ctx: CliContext, now: number): string | null {
  const rows = projects.flatMap((p) => {
    const w = waitingOn(p, ctx.config, now);
    return w === null ? [] : [[p.id, w.kind, p.session ?? '-', relative(w.since, now), relative(w.until, now), w.line]];
  });
  if (rows.length === 0) return null;
  const headers = ['PROJECT', 'KIND', 'SESSION', 'SINCE', 'UNTIL', 'LINE'];
  return `waiting on a human or a usage limit:\n${table(headers, rows)}`;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('queue summary (paused, blocked) and projects by state with attempts, next attempt and breaker')
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const doc = await ctx.store.load();
        const now = ctx.now();
        const summary = summariseQueue(doc, ctx.config, now, { scanOk: true, hostId: ctx.hostId });
        const holds = hostLaunchHolds(doc.projects, now, ctx.config.rateLimitScope, (p) => isLocal(p, ctx.hostId));
        const projects = displayOrder(doc.projects);
        if (opts.json) {
          printJson({
            registry: ctx.store.location,
            queue: summary,
            projects: projects.map((p) => projectRow(p, ctx.config, now, doc.queue, holds)),
          });
          return;
        }
        const c = summary.counts;
        printLine(`registry  ${ctx.store.location}`);
        printLine(`queue     ${summary.health.status}: ${summary.health.reason}`);
        printLine(`projects  ${PROJECT_STATES.map((s) => `${s} ${c[s]}`).join(', ')}`);
        printLine(
          `breakers  closed ${summary.breakers.closed}, open ${summary.breakers.open}, ` +
            `half-open ${summary.breakers.half_open}`,
        );
        const pause = describePause(doc.queue, now);
        if (pause !== null) printLine(`paused    ${pause}; ${RESUME_HINT}`);
        const hold = summary.launchHold;
        if (hold !== null) {
          const scope = hold.scope === 'host' ? 'no launch on this host' : `no new attempt of ${hold.project}`;
          const when = `${hold.until} (${relative(hold.until, now)})`;
          printLine(`held      ${scope} until ${when}: usage limit of ${hold.project}: ${hold.line}`);
        }
        if (projects.length === 0) {
          printLine('\nno projects; add one with: agent enqueue --id <id> -- <command...>');
          return;
        }
        printLine('');
        printLine(
          table(
            ['ID', 'STATE', 'PRIO', 'ATTEMPTS', 'NEXT ATTEMPT', 'BREAKER', 'SESSION', 'PID', 'SINCE', 'REASON'],
            projects.map((p) => [
              p.id,
              p.state,
              String(p.priority),
              `${p.attempts}/${p.maxAttempts ?? ctx.config.retryMaxAttempts}`,
              nextAttemptText(p, doc.queue, ctx, now, holds),
              breakerText(p, ctx, now),
              p.session ?? '-',
              p.pid === null ? '-' : String(p.pid),
              relative(stateSince(p), now),
              reasonText(p),
            ]),
          ),
        );
        const stale = staleMarkerTable(
          projects.map((p) => ({ project: p.id, startedAt: p.startedAt, markers: p.staleMarkers })),
        );
        const exits = exitReport(projects);
        const waiting = waitingTable(projects, ctx, now);
        for (const section of [waiting, stale, exits]) if (section !== null) printLine(`\n${section}`);
      }),
    );
}
