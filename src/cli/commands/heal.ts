/** `agent heal --once [--dry-run] [--json]` and `agent list-stuck [--json]`: one cycle by hand. */
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { coordinationFor } from '../../registry/leases.js';
import { runCycle, type CycleOutcome, type CycleResult } from '../../cycle.js';
import type { Detection } from '../../core/model/plan.js';
import { InputError } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import { exitReport, staleMarkerTable, table } from '../format.js';
import { printJson, printLine, run } from '../run.js';
import type { CliContext } from '../context.js';
import { SourceSet, type CycleSources } from '../../sources/source-set.js';
import { describeReport } from '../../sources/source.js';

/** One cycle by hand, with the configured sources unless the caller passes its own; with the registry it committed. */
export async function cycleOutcome(
  ctx: CliContext,
  dryRun: boolean,
  sources: CycleSources | null = SourceSet.fromConfig(ctx.config.sources, ctx.config, ctx.log),
): Promise<CycleOutcome> {
  const { store, config, hostId, log, now } = ctx;
  const base = { store, config, hostId, log, dryRun, now, sources };
  if (dryRun) return runCycle(base);
  // With a shared registry a cycle by hand takes the queue-wide decisions only when no daemon leads.
  const coordination = coordinationFor(
    ctx.store,
    `${ctx.hostId}/${process.pid}/${randomBytes(3).toString('hex')}`,
    ctx.config,
  );
  const lease = await coordination.leader.acquireOrRenew().catch(() => ({ leader: false, token: null }));
  if (coordination.shared && !lease.leader)
    ctx.log.info('another agent holds the leader lease: retries, launches and the queue breaker are left to it');
  try {
    return await runCycle({
      ...base,
      leader: lease.leader,
      fence: lease.token,
      projectLeases: coordination.projects,
    });
  } finally {
    await coordination.projects.releaseAll().catch(() => undefined);
    if (coordination.shared && lease.leader) await coordination.leader.release().catch(() => undefined);
  }
}

/** One cycle by hand (see cycleOutcome): its report. */
export async function cycle(ctx: CliContext, dryRun: boolean, sources?: CycleSources | null): Promise<CycleResult> {
  return (await cycleOutcome(ctx, dryRun, sources)).result;
}

function printErrors(result: CycleResult): void {
  for (const e of result.errors) printLine(`error (${e.source}): ${e.message}`);
}

export function printCycle(result: CycleResult): void {
  printLine(`${result.dryRun ? 'plan (dry run: nothing changed)' : 'cycle'} in ${result.durationMs} ms`);
  for (const s of result.sourceSync ?? []) printLine(describeReport(s));
  printErrors(result);
  const followed = (result.sourceSync ?? []).flatMap((s) => s.moves);
  if (followed.length > 0) {
    printLine('\nfollowed from sources:');
    printLine(
      table(
        ['PROJECT', 'FROM', 'TO', 'REASON'],
        followed.map((t) => [t.project, t.from, t.to, t.reason]),
      ),
    );
  }
  if (result.transitions.length > 0) {
    printLine('\ntransitions:');
    printLine(
      table(
        ['PROJECT', 'FROM', 'TO', 'REASON'],
        result.transitions.map((t) => [t.project, t.from, t.to, t.reason]),
      ),
    );
  }
  if (result.actions.length > 0) {
    printLine('\nactions:');
    printLine(
      table(
        ['PROJECT', 'ACTION', 'OUTCOME', 'DETAIL'],
        result.actions.map((a) => [a.project ?? '-', a.action, a.outcome, a.detail]),
      ),
    );
  }
  if (result.blocked.length > 0) {
    printLine('\nheld back by the guard:');
    printLine(
      table(
        ['PROJECT', 'ACTION', 'REASON', 'DETAIL'],
        result.blocked.map((b) => [b.project ?? '-', b.action, b.reason, b.detail]),
      ),
    );
  }
  const stale = staleMarkerTable(result.staleMarkers);
  if (stale !== null) printLine(`\n${stale}`);
  const happened = result.transitions.length + result.actions.length + result.blocked.length + followed.length;
  if (happened === 0) printLine('nothing to do');
  if (result.queue) printLine(`\nqueue: ${result.queue.health.status}: ${result.queue.health.reason}`);
}

/** 0 when the cycle saw clearly and everything it tried worked; 1 otherwise. */
export function cycleExitCode(result: CycleResult): number {
  const registry = result.errors.find((e) => e.source === 'registry');
  if (registry && result.sources.length === 0) return EXIT.registryUnreadable;
  const failed = result.actions.some((a) => a.outcome === 'failure');
  const scanFailed = result.errors.some(
    (e) => e.source === 'processes' || e.source === 'tmux' || e.source === 'registry',
  );
  return failed || scanFailed || result.blocked.length > 0 ? EXIT.problems : EXIT.ok;
}

/** A detection's reason for the table: the pane line of a prompt or a limit, with until when it holds. */
function stuckReason(d: Detection): string {
  const agent = d.agent ?? 'agent';
  const since = d.since ?? '?';
  const until = d.until ?? '?';
  if (d.kind === 'awaiting_input') {
    return `${d.reason} (${agent} waits since ${since}; timeout clock paused until ${until}; answer it in the session)`;
  }
  if (d.kind === 'rate_limited') return `${d.reason} (${agent} usage limit since ${since}; resets ${until})`;
  return d.reason;
}

export function registerHeal(program: Command): void {
  program
    .command('heal')
    .description('run one cycle now: scan, detect, heal, commit (the daemon "agent serve" runs them continuously)')
    .option('--once', 'run exactly one cycle (required)')
    .option('--dry-run', 'print the plan and change nothing: no signal, no registry write')
    .option('--json', 'print one JSON document: transitions, actions, blocked, detections, errors')
    .action((opts: { once?: boolean; dryRun?: boolean; json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        if (!opts.once) throw new InputError('"agent heal" needs --once (one cycle); "agent serve" heals continuously');
        const result = await cycle(ctx, opts.dryRun === true);
        if (opts.json) printJson(result);
        else printCycle(result);
        return cycleExitCode(result);
      }),
    );

  program
    .command('list-stuck')
    .description(
      'zombies, phantoms, timing-out projects, stale heartbeats, orphan sessions, defunct processes, agents ' +
        'waiting on a prompt or a usage limit, and panes without progress, with reasons (changes nothing); ' +
        'exit 0 when nothing is stuck',
    )
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const outcome = await cycleOutcome(ctx, true);
        const result = outcome.result;
        const stuck = result.detections;
        // Not stuck, but what an operator looking at a queue that does not move wants next to it.
        const failedCommands = (outcome.registry?.projects ?? []).filter(
          (p) => p.state === 'failed' && p.exitStatus !== null,
        );
        if (opts.json) {
          printJson({
            ok: result.ok,
            stuck,
            staleMarkers: result.staleMarkers,
            failedCommands: failedCommands.map((p) => ({
              project: p.id,
              failureReason: p.failureReason,
              exitStatus: p.exitStatus,
              lastOutput: p.lastOutput,
              nextAttemptAt: p.nextAttemptAt,
            })),
            errors: result.errors,
            queue: result.queue?.health ?? null,
            launchHold: result.launchHold ?? null,
          });
        } else {
          printErrors(result);
          if (stuck.length === 0)
            printLine(result.ok ? 'nothing stuck' : 'nothing stuck seen, but the scan was incomplete (see errors)');
          else {
            const pid = (d: Detection): string => (d.pid === null ? '-' : String(d.pid));
            const rows = stuck.map((d) => [d.kind, d.project ?? '-', d.session ?? '-', pid(d), stuckReason(d)]);
            printLine(table(['KIND', 'PROJECT', 'SESSION', 'PID', 'REASON'], rows));
          }
          if (result.queue?.health.blocked) printLine(`queue blocked: ${result.queue.health.reason}`);
          const hold = result.launchHold;
          if (hold) {
            const scope = hold.scope === 'host' ? 'every launch on this host' : `project ${hold.project}`;
            printLine(`launches held until ${hold.until} (${scope}): usage limit of ${hold.project}`);
          }
          for (const section of [staleMarkerTable(result.staleMarkers), exitReport(failedCommands)])
            if (section !== null) printLine(`\n${section}`);
        }
        const registry = result.errors.find((e) => e.source === 'registry');
        if (registry && result.sources.length === 0) return EXIT.registryUnreadable;
        return stuck.length === 0 && result.ok && !result.queue?.health.blocked ? EXIT.ok : EXIT.problems;
      }),
    );
}
