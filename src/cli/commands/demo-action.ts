/**
 * The run of `agent demo` (the command and its options: demo.ts), imported
 * only when the command runs. Stages every failure mode on a private tmux
 * server and a temporary registry, with the daemon in-process on 127.0.0.1
 * with timings of seconds, shown live until each one is healed. Never
 * touches the user's registry, tmux server or processes; removes everything
 * it started on exit, Ctrl-C included.
 */
import type { Command } from 'commander';
import { Agent } from '../../agent.js';
import type { AgentConfig, KeyName } from '../../config/keys.js';
import { loadConfig } from '../../config/load.js';
import { policyEnterHook } from '../../core/policy/policy-hooks.js';
import { DemoRun } from '../../demo/demo-run.js';
import { demoScenarios, DEMO_HOST_ID, ORPHAN_PATTERN } from '../../demo/scenarios.js';
import { LiveView } from '../../demo/live-view.js';
import { DemoWorld, type CleanupReport, type TrackedProcess } from '../../demo/world.js';
import { messageOf } from '../../errors.js';
import { EXIT, exitCodeOf } from '../exit-codes.js';
import { createLogger } from '../../log.js';
import { openStore } from '../../registry/open.js';
import type { OperationContext } from '../../registry/operations.js';
import type { RegistryStore } from '../../registry/store.js';
import { printJson } from '../run.js';
import { countOf } from '../../core/views/wording.js';
import { packageVersion } from '../../version.js';
import type { DemoOptions } from './demo.js';

const TICK_MS = 250;

/** The agent's configuration for the demo: short timings, only the private tmux server, loopback only. */
function demoConfig(world: DemoWorld, listenPort: number, logLevel: string | undefined): AgentConfig {
  const flags: Partial<Record<KeyName, string>> = {
    registry: world.registry,
    hostId: DEMO_HOST_ID,
    listen: `127.0.0.1:${listenPort}`,
    scanSchedule: '* * * * * *',
    tmuxSockets: world.socket,
    maxProcessRuntimeSec: '6',
    heartbeatTimeoutSec: '3',
    maxTimeoutExtensions: '0',
    phantomGracePeriodSec: '2',
    stateSyncIntervalSec: '2',
    timingOutGraceSec: '2',
    killGraceSec: '1',
    orphanGraceSec: '2',
    orphanSessionPatterns: ORPHAN_PATTERN,
    queueBlockedAfterSec: '60',
    maxConcurrent: '10',
    retryBaseSec: '1',
    retryMaxDelaySec: '2',
    breakerFailureThreshold: '3',
    breakerCooldownSec: '600',
    breakerMaxCooldownSec: '3600',
    // Four of the six scenarios fail on purpose: keep the queue breaker out of the way.
    queueBreakerMinFinished: '10000',
    logLevel: logLevel ?? 'error',
  };
  return loadConfig({ env: {}, flags }).config;
}

export async function runDemo(opts: DemoOptions, cmd: Command): Promise<void> {
  const globals = cmd.optsWithGlobals<{ logLevel?: string }>();
  const view = new LiveView(opts.json ? process.stderr : process.stdout, opts.plain === true);
  const say = (text: string): void => void (opts.json ? process.stderr : process.stdout).write(`${text}\n`);
  let interrupted: NodeJS.Signals | null = null;
  let wake: (() => void) | null = null;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted ??= signal;
    signals += 1;
    // A third Ctrl-C while cleaning up gives up on the cleanup.
    if (signals >= 3) process.exit(130);
    wake?.();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const world = new DemoWorld();
  let agent: Agent | null = null;
  let store: RegistryStore | null = null;
  let run: DemoRun | null = null;
  let url: string | null = null;
  let failure: unknown = null;
  let cleanup: CleanupReport | null;
  const startedAt = Date.now();
  try {
    const config = demoConfig(world, opts.port, globals.logLevel);
    const log = createLogger({ level: config.logLevel });
    // The demo writes through its own store, like an orchestrator: the agent's registry watch sees those writes.
    store = openStore(world.registry);
    const ops: OperationContext = { store, now: Date.now, by: 'demo', onEnter: policyEnterHook(config, Math.random) };
    const scenarios = demoScenarios();
    run = new DemoRun(world, store, config, scenarios, view, startedAt);
    await run.markAuditStart();
    // The orphan session first: it starts the private tmux server.
    for (const s of [...scenarios].sort(
      (a, b) => Number(b.kind === 'orphan_session') - Number(a.kind === 'orphan_session'),
    )) {
      if (interrupted) break;
      await s.setup(world, ops, config);
    }
    if (!interrupted) {
      agent = new Agent({
        store: openStore(world.registry),
        config,
        hostId: DEMO_HOST_ID,
        version: packageVersion(),
        log,
      });
      url = (await agent.start())?.url ?? null;
      view.header([
        `tmux-orchestrator-agent ${packageVersion()} demo: ${scenarios.length} failure modes ` +
          'on a private tmux server and a temporary registry',
        `  status page  ${url ?? '-'}/`,
        `  metrics      ${url ?? '-'}/metrics`,
        `  tmux server  tmux -L ${world.socket} ls`,
        `  registry     ${world.registry}`,
        `  timings      timeout ${config.maxProcessRuntimeSec}s, heartbeat ${config.heartbeatTimeoutSec}s, ` +
          `phantom grace ${config.phantomGracePeriodSec}s, timing-out grace ${config.timingOutGraceSec}s, ` +
          `orphan grace ${config.orphanGraceSec}s, a cycle every second and on events`,
        '',
        ...scenarios.map((s) => `  ${s.kind.padEnd(17)} ${(s.project ?? s.session ?? '').padEnd(15)} ${s.story}`),
      ]);
    }
    const deadline = startedAt + opts.duration * 1000;
    let lingerUntil: number | null = null;
    while (!interrupted && agent && run) {
      await run.refresh();
      const cycles = countOf(agent.status().cycles, 'cycle');
      const healed = `${run.healedAt.size}/${scenarios.length} healed`;
      const footer = `${run.elapsedSec().toFixed(1)}s, ${cycles}, ${healed}. Ctrl-C stops and cleans up.`;
      view.render(run.rows(), footer);
      if (run.allHealed() && lingerUntil === null) {
        lingerUntil = Date.now() + opts.linger * 1000;
        if (opts.linger > 0)
          view.event(run.elapsedSec(), `every scenario healed; serving ${url ?? ''}/ for ${opts.linger}s more`);
      }
      if (lingerUntil !== null && Date.now() >= lingerUntil) break;
      if (Date.now() >= deadline) {
        view.event(run.elapsedSec(), `--duration ${opts.duration}s reached`);
        break;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, TICK_MS);
      });
      wake = null;
    }
    if (run && agent) {
      if (interrupted) view.event(run.elapsedSec(), `${interrupted}: stopping`);
      const cycles = countOf(agent.status().cycles, 'cycle');
      view.finish(
        run.rows(),
        `${run.healedAt.size}/${scenarios.length} healed in ${run.elapsedSec().toFixed(1)}s, ${cycles}.`,
      );
    }
  } catch (err) {
    failure = err;
  } finally {
    await agent?.stop().catch(() => undefined);
    await store?.close().catch(() => undefined);
    cleanup = await world.cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const unkilled = cleanup.survivors.length > 0 ? `, ${cleanup.survivors.length} could not be killed` : '';
  say(
    `cleaned up: tmux server ${world.socket} ${cleanup.tmuxServer}, ` +
      `${cleanup.killed.length} leftover processes killed${unkilled}, ` +
      `${world.dir} ${cleanup.dirRemoved ? 'removed' : 'NOT removed'}`,
  );
  const results = run?.results() ?? [];
  const allHealed = results.length > 0 && results.every((r) => r.healed);
  if (failure !== null) process.stderr.write(`agent: demo failed: ${messageOf(failure)}\n`);
  else if (!allHealed)
    say(
      `not healed: ${results
        .filter((r) => !r.healed)
        .map((r) => r.kind)
        .join(', ')}${interrupted ? ` (interrupted by ${interrupted})` : ''}`,
    );
  else say(`every failure mode was healed: ${results.map((r) => r.kind).join(', ')}`);
  if (opts.json) {
    printJson({
      ok: failure === null && allHealed && cleanup.survivors.length === 0,
      healed: results.filter((r) => r.healed).map((r) => r.kind),
      notHealed: results.filter((r) => !r.healed).map((r) => r.kind),
      interrupted,
      error: failure === null ? null : messageOf(failure),
      durationSec: Math.round((Date.now() - startedAt) / 100) / 10,
      url,
      tmuxSocket: world.socket,
      dir: world.dir,
      scenarios: results,
      processes: world.processes().map((p: TrackedProcess) => ({ pid: p.pid, startTime: p.startTime, what: p.what })),
      cleanup: {
        tmuxServer: cleanup.tmuxServer,
        killed: cleanup.killed.length,
        survivors: cleanup.survivors,
        dirRemoved: cleanup.dirRemoved,
      },
    });
  }
  if (failure !== null) process.exitCode = exitCodeOf(failure) === EXIT.problems ? EXIT.problems : exitCodeOf(failure);
  else process.exitCode = allHealed && cleanup.survivors.length === 0 ? EXIT.ok : EXIT.problems;
}
