/**
 * What the AI agent in a pane is doing, through a real `agent serve`: the
 * agent launches each project's command in a real tmux pane, where it prints
 * the screens the agent CLIs print (box drawing, `❯`, colours, wide
 * characters), and the daemon reads them. A permission prompt is reported and
 * waited on, not killed; a usage limit holds launches until its reset, then
 * releases them, and is never a breaker's failure; a pane that scrolls on
 * shows progress, a silent one does not; bad pane text is handled.
 */
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Project } from '../../src/core/model/project.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { isRunning } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';

const ESC = '\x1b';
const EVERY_SECOND = '* * * * * *';
const BORDER = '─'.repeat(60);

/** Claude Code's permission question for a shell command, in its coloured box. */
const PERMISSION_PROMPT = [
  `${ESC}[38;5;174m╭${BORDER}╮${ESC}[39m`,
  `│ ${ESC}[1mBash command${ESC}[22m${' '.repeat(47)}│`,
  `│   rm -rf build/ && npm run build${' '.repeat(27)}│`,
  `│ Do you want to proceed?${' '.repeat(36)}│`,
  `│ ${ESC}[38;5;153m❯ 1. Yes${ESC}[39m${' '.repeat(51)}│`,
  `│   2. Yes, and don't ask again for rm commands in /repo     │`,
  `│   3. No, and tell Claude what to do differently (esc)      │`,
  `╰${BORDER}╯`,
].join('\n');

/** Claude Code's usage-limit message, with the reset in an IANA zone. */
function sessionLimit(reset: string): string {
  return [
    `${ESC}[1m❯ continue the refactor${ESC}[0m`,
    `  ${ESC}[2m⎿${ESC}[0m  ${ESC}[38;5;203mYou've hit your session limit · resets ${reset}${ESC}[0m`,
    '     /upgrade to increase your usage limit.',
  ].join('\n');
}

/** A shell command that prints `screen` and stays, like an agent CLI waiting. */
function shows(screen: string, then = 'exec sleep 600'): string[] {
  return ['sh', '-c', `printf '%s' "$1"; ${then}`, 'sh', screen];
}

interface Stuck {
  kind: string;
  project: string | null;
  session: string | null;
  reason: string;
  agent?: string;
  since?: string;
  until?: string;
}

interface StuckAnswer {
  ok: boolean;
  cycle: { startedAt: string } | null;
  stuck: Stuck[];
  launchHold: { until: string; scope: string; project: string; line: string } | null;
}

describe('e2e: what the agent in the pane is doing', function () {
  this.timeout(180_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  beforeEach(() => {
    q = new TestQueue({ AGENT_SCAN_SCHEDULE: EVERY_SECOND, LOG_LEVEL: 'info' });
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  const enqueue = (id: string, command: string[]): Promise<void> => q.enqueue(id, command);
  const stuck = async (): Promise<StuckAnswer> =>
    (await (await fetch(`${agent!.url}/api/stuck`)).json()) as StuckAnswer;
  const metrics = async (): Promise<string> => (await fetch(`${agent!.url}/metrics`)).text();
  /** The value of one exposition line that starts with `series`, or null. */
  const sample = (body: string, series: string): number | null => {
    const line = body.split('\n').find((l) => l.startsWith(`${series} `));
    return line === undefined ? null : Number(line.slice(series.length + 1));
  };
  const finding = async (kind: string, project: string, timeoutMs = 30_000): Promise<Stuck> =>
    eventually(
      async () => (await stuck()).stuck.find((d) => d.kind === kind && d.project === project),
      timeoutMs,
      `${kind} of ${project} in /api/stuck`,
    ).catch((err: Error) => {
      throw new Error(
        `${err.message}; registry: ${JSON.stringify(q.read().projects.map((p) => [p.id, p.state, p.agentActivity]))}; log: ${agent?.stderr().slice(-3000)}`,
      );
    });
  /** A cycle that started at or after `at`: the daemon has looked again since. */
  const cycleAfter = (at: number, what: string): Promise<StuckAnswer> =>
    eventually(
      async () => {
        const s = await stuck();
        return s.cycle !== null && Date.parse(s.cycle.startedAt) >= at ? s : null;
      },
      30_000,
      what,
    );

  it('reports a permission prompt, does not kill it past its runtime, and applies the timeout after AWAITING_INPUT_MAX_SEC', async () => {
    agent = await startAgent(
      {
        ...q.env,
        MAX_PROCESS_RUNTIME_SEC: '2',
        AWAITING_INPUT_MAX_SEC: '10',
        MAX_TIMEOUT_EXTENSIONS: '0',
        TIMING_OUT_GRACE_SEC: '0',
        HEARTBEAT_TIMEOUT_SEC: '1',
      },
      q.dir.path,
    );
    await enqueue('ask', shows(PERMISSION_PROMPT));

    const seen = await finding('awaiting_input', 'ask');
    const project = q.get('ask');
    expect(seen).to.include({ reason: 'Do you want to proceed?', agent: 'claude-code', session: project.session });
    expect(project.agentActivity?.finding).to.include({ kind: 'awaiting_input', line: 'Do you want to proceed?' });

    const listed = await q.agent(['list-stuck', '--json']);
    expect(listed.code, listed.stderr).to.equal(1);
    const fromCli = (JSON.parse(listed.stdout) as { stuck: Stuck[] }).stuck.find((d) => d.project === 'ask');
    expect(fromCli).to.include({ kind: 'awaiting_input', reason: 'Do you want to proceed?', since: seen.since });

    const page = await (await fetch(`${agent.url}/`)).text();
    expect(page).to.include('<span class="badge bad">waiting on a prompt</span> <q>Do you want to proceed?</q>');
    expect(page).to.match(/claude-code asks since .*; never killed for it; timeout clock paused until /);

    const body = await metrics();
    expect(sample(body, 'orchestrator_stuck_projects{kind="awaiting_input"}')).to.equal(1);
    const waiting = `orchestrator_active_project_waiting_since_timestamp_seconds{project="ask",session="${project.session}",kind="awaiting_input",agent="claude-code",line="Do you want to proceed?"}`;
    expect(sample(body, waiting)).to.equal(Date.parse(seen.since as string) / 1000);

    // Its 2 s of runtime are long gone by a cycle 4 s past its start: the prompt is still waited on.
    const started = Date.parse(project.startedAt as string);
    await cycleAfter(started + 4000, 'a cycle past the runtime');
    const waited = q.get('ask');
    expect(waited.state).to.equal('processing');
    expect(isRunning(waited.pid as number)).to.equal(true);
    expect(waited.history.map((h) => h.to)).to.deep.equal(['processing']);

    const failed = await eventually(
      () => (q.get('ask').state === 'failed' ? q.get('ask') : null),
      60_000,
      'the normal timeout after the wait',
    );
    expect(failed.failureReason).to.equal('timeout');
    const timedOut = failed.history.find((h) => h.to === 'timing_out');
    expect(
      Date.parse(timedOut?.at ?? '') - Date.parse(seen.since as string),
      'timed out after AWAITING_INPUT_MAX_SEC',
    ).to.be.at.least(10_000);
    expect(timedOut?.reason).to.contain('paused while its agent waited');
  });

  it('holds the launch of a queued project until a usage limit resets, then launches it, and no breaker counts the limit', async () => {
    // The older Claude Code message names the reset to the second (epoch seconds), so the wait is 12 s, not up to a
    // minute more as a clock time on a whole minute would take; reading clock times is tested in the rules.
    const reset = Math.ceil((Date.now() + 12_000) / 1000) * 1000;
    const limitLine = `Claude AI usage limit reached|${reset / 1000}`;
    const go = join(q.dir.path, 'go');
    agent = await startAgent(
      {
        ...q.env,
        AGENT_MAX_CONCURRENT: '2',
        AGENT_BREAKER_FAILURE_THRESHOLD: '1',
        AGENT_QUEUE_BREAKER_MIN_FINISHED: '1',
      },
      q.dir.path,
    );
    // The agent CLI prints its limit and, once the test says so, gives up with status 1.
    await enqueue('lim', shows(`${limitLine}\n`, `while [ ! -e '${go}' ]; do sleep 0.2; done; exit 1`));
    const limited = await finding('rate_limited', 'lim');
    expect(limited.reason).to.equal(limitLine);
    expect(limited.until).to.equal(new Date(reset).toISOString());
    expect(sample(await metrics(), 'orchestrator_rate_limited_until_timestamp_seconds')).to.equal(reset / 1000);

    await enqueue('next', ['sleep', '600']);
    await eventually(
      () => q.get('lim').agentActivity?.finding?.kind === 'rate_limited',
      10_000,
      'the limit kept on the project',
    );
    writeFileSync(go, '');
    const lim = await eventually(
      () => (q.get('lim').state === 'failed' ? q.get('lim') : null),
      30_000,
      'the limited agent to give up',
    );
    expect(lim.failureReason).to.equal('exit_status');
    expect(lim.breaker).to.include({ state: 'closed', consecutiveFailures: 0 });
    expect(lim.history.at(-1)).to.include({ to: 'failed', rateLimited: true });

    const held = await cycleAfter(Date.parse(lim.endedAt as string) + 1000, 'a cycle after the failure');
    if (Date.parse(held.cycle?.startedAt ?? '') < reset) {
      expect(held.launchHold).to.include({ until: new Date(reset).toISOString(), scope: 'host', project: 'lim' });
      expect(q.get('next').state).to.equal('queued');
      const status = await q.agent(['status']);
      expect(status.stdout).to.match(new RegExp(`held +no launch on this host until ${new Date(reset).toISOString()}`));
      const page = await (await fetch(`${agent.url}/`)).text();
      expect(page).to.include(`<b>No launch on this host</b> until <time datetime="${new Date(reset).toISOString()}"`);
    }

    const next = await eventually(
      () => (q.get('next').state === 'processing' ? q.get('next') : null),
      90_000,
      'the queued project to launch after the reset',
    );
    expect(Date.parse(next.startedAt as string)).to.be.at.least(reset);
    expect(q.read().queue.paused, 'the queue breaker did not count the limit').to.equal(false);
    await eventually(
      async () => sample(await metrics(), 'orchestrator_rate_limited_until_timestamp_seconds') === 0,
      10_000,
      'the gauge back to 0',
    );
    expect((await stuck()).launchHold).to.equal(null);
  });

  it('never reports a pane that scrolls on as no_progress, and reports a silent one after NO_PROGRESS_SEC', async () => {
    agent = await startAgent({ ...q.env, AGENT_MAX_CONCURRENT: '2', NO_PROGRESS_SEC: '3' }, q.dir.path);
    await enqueue('scroll', [
      'sh',
      '-c',
      'i=0; while :; do i=$((i+1)); echo "compiling module $i of 999"; sleep 1; done',
    ]);
    await enqueue('quiet', ['sh', '-c', 'echo "thinking..."; exec sleep 600']);

    const quiet = await finding('no_progress', 'quiet');
    expect(quiet.reason).to.match(
      /^pane unchanged since .* and no heartbeat or pane activity for [\d.]+s \(no-progress limit 3s\)/,
    );
    // Three more seconds of scrolling, looked at every second.
    const later = await cycleAfter(Date.now() + 4000, 'cycles past another no-progress limit');
    expect(later.stuck.filter((d) => d.project === 'scroll')).to.deep.equal([]);
    expect(
      sample(await metrics(), 'orchestrator_detections_total{kind="no_progress"}'),
      'only the silent pane, ever',
    ).to.equal(1);
    expect(q.get('scroll').state).to.equal('processing');
  });

  it('handles escape sequences and wide characters in the line, a 10 MB pane, an unknown time zone and a reset in the past without a crash or a kill', async function () {
    this.timeout(400_000);
    const edit = `│ ${ESC}[1mDo you want to make this edit to ${ESC}[38;5;174m設計メモ.md${ESC}[0m? ${ESC}]8;;file:///repo${ESC}\\link${ESC}]8;;${ESC}\\ │\n│ ❯ 1. Yes │`;
    const tenMegabytes =
      'head -c 5242880 /dev/zero | tr "\\000" "x"; printf "\\n"; yes "compiling module 42 of 97 ..." | head -c 5242880; printf "%s" "$1"; exec sleep 600';
    const past = Math.floor((Date.now() - 10 * 60_000) / 1000);
    await enqueue('wide', shows(edit));
    await enqueue('huge', ['sh', '-c', tenMegabytes, 'sh', '\nCreate new file? (Y)es/(N)o [Yes]: ']);
    await enqueue('zone', shows(sessionLimit('5pm (Mars/Olympus_Mons)')));
    await enqueue('past', shows(`Claude AI usage limit reached|${past}\n`));
    // All four launch in the first cycle: the unknown zone's hold would keep any later one queued.
    agent = await startAgent({ ...q.env, AGENT_MAX_CONCURRENT: '4', RATE_LIMIT_DEFAULT_HOLD_SEC: '600' }, q.dir.path);

    const wide = await finding('awaiting_input', 'wide');
    expect(wide.reason).to.equal('Do you want to make this edit to 設計メモ.md? link');
    const zone = await finding('rate_limited', 'zone');
    expect(Date.parse(zone.until as string) - Date.parse(zone.since as string), 'the default hold').to.equal(600_000);
    await eventually(
      () => /usage limit without a reset time[^\n]*holding for the default 600s/.test(agent!.stderr()),
      10_000,
      'the default hold in the log',
    );
    await eventually(
      () => /usage limit whose reset time has already passed: nothing held/.test(agent!.stderr()),
      30_000,
      'the past reset in the log',
    );
    expect((await stuck()).stuck.filter((d) => d.project === 'past')).to.deep.equal([]);
    await finding('awaiting_input', 'huge', 360_000);

    const body = await metrics();
    expect(body).to.contain('line="Do you want to make this edit to 設計メモ.md? link"');
    expect(sample(body, 'orchestrator_heal_actions_total{action="kill_tree",outcome="success"}')).to.equal(0);
    const projects = q.read().projects;
    expect(projects.map((p: Project) => [p.id, p.state])).to.have.deep.members([
      ['wide', 'processing'],
      ['huge', 'processing'],
      ['zone', 'processing'],
      ['past', 'processing'],
    ]);
    expect(agent.child.exitCode).to.equal(null);
    expect((await fetch(`${agent.url}/healthz`)).status).to.equal(200);
  });
});
