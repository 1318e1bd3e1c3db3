import { expect } from 'chai';

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Project } from '../../src/core/model/project.js';
import { lastDistinctLines, PANES_PER_CALL, paneOutputGatherer } from '../../src/evidence/pane-output.js';
import type { GatherContext } from '../../src/evidence/types.js';
import { launchArgv } from '../../src/heal/tmux-actions.js';
import { PrivateTmux } from '../helpers/tmux.js';
import { aConfig, aProject, destroyTmux, hangingBinary, TempDirs, waitFor } from './fixtures.js';

/** A node process that prints `lines` and then stays alive, so the pane keeps its output. */
function printer(lines: string[]): string[] {
  return [
    process.execPath,
    '-e',
    `for (const l of ${JSON.stringify(lines)}) console.log(l); setTimeout(() => {}, 60000);`,
  ];
}

describe('evidence: pane output', function () {
  this.timeout(15000);
  const temp = new TempDirs();
  let tmux: PrivateTmux;

  beforeEach(() => {
    tmux = new PrivateTmux('evidence');
  });
  afterEach(() => {
    destroyTmux(tmux);
    temp.cleanup();
  });

  async function startPrinting(session: string, lines: string[]): Promise<void> {
    tmux.newSession(session, printer(lines));
    const last = lines[lines.length - 1] ?? '';
    await waitFor(
      () => tmux.run(['capture-pane', '-p', '-t', `=${session}:`]).includes(last),
      15_000,
      `"${last}" in ${session}`,
    );
  }

  it('reports a completion line as output evidence (weight 0.5)', async () => {
    await startPrinting('work-1', ['working...', 'All tasks complete']);
    const paneId = tmux.run(['list-panes', '-t', '=work-1:', '-F', '#{pane_id}']).trim();
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), {
      config: aConfig(),
    });
    expect(result).to.deep.equal({
      evidence: { method: 'output', weight: 0.5, detail: `pane ${paneId}: "All tasks complete"` },
    });
  });

  it('finds the completion line in any pane of the session', async () => {
    await startPrinting('work-1', ['just a shell']);
    tmux.run(['split-window', '-t', '=work-1:', '--', ...printer(['Orchestration complete'])]);
    await waitFor(
      () =>
        tmux
          .run(['list-panes', '-t', '=work-1:', '-F', '#{pane_id}'])
          .trim()
          .split('\n')
          .some((id) => tmux.run(['capture-pane', '-p', '-t', id]).includes('Orchestration complete')),
      5000,
      'second pane output',
    );
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), {
      config: aConfig(),
    });
    expect(result)
      .to.have.nested.property('evidence.detail')
      .that.matches(/^pane %\d+: "Orchestration complete"$/);
  });

  it('lets an error line veto the completion line, and says why', async () => {
    await startPrinting('work-1', [
      'All tasks complete',
      'Traceback (most recent call last):',
      '  File "x.py", line 1',
    ]);
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), {
      config: aConfig(),
    });
    expect(result).to.have.property('evidence', null);
    expect(result)
      .to.have.property('note')
      .that.matches(/vetoed: pane %\d+: error line "Traceback \(most recent call last\):"/);
  });

  it('finds nothing when no line matches', async () => {
    await startPrinting('work-1', ['still working']);
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), {
      config: aConfig(),
    });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('gathers nothing, and is not unavailable, when the session is missing', async () => {
    // w-10 would match a prefix target "w-1"; the exact target must not find it.
    await startPrinting('w-10', ['All tasks complete']);
    const result = await paneOutputGatherer.gather(aProject({ session: 'w-1', tmuxSocket: tmux.socket }), {
      config: aConfig(),
    });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('gathers nothing when the tmux server is not running', async () => {
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), {
      config: aConfig(),
    });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('gathers nothing for a project without a session', async () => {
    const result = await paneOutputGatherer.gather(aProject({ session: null }), { config: aConfig() });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('reports a hanging tmux as unavailable within the timeout', async () => {
    const tmuxPath = hangingBinary(temp.make('bin'), 'tmux');
    const started = Date.now();
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), {
      config: aConfig({ evidenceTimeoutMs: 300 }),
      tmuxPath,
    });
    expect(result)
      .to.have.property('unavailable')
      .that.matches(/timed out/);
    // Far below the hang (60 s), generous for a busy machine.
    expect(Date.now() - started).to.be.below(10_000);
  });

  it('reports a tmux that is not installed as unavailable', async () => {
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), {
      config: aConfig(),
      tmuxPath: `${temp.make('bin')}/tmux`,
    });
    expect(result)
      .to.have.property('unavailable')
      .that.matches(/not installed/);
  });

  describe('the bulk read of a gathering', () => {
    const realTmux = execFileSync('sh', ['-c', 'command -v tmux'], { encoding: 'utf8' }).trim();

    /** tmux itself, logging each call's arguments; `failOn` makes calls containing that word fail. */
    function loggingTmux(failOn?: string): { tmuxPath: string; calls: () => string[] } {
      const dir = temp.make('bin');
      const log = join(dir, 'calls.log');
      const fail = failOn ? `case " $* " in *" ${failOn} "*) echo "refused by the test" >&2; exit 1;; esac\n` : '';
      writeFileSync(join(dir, 'tmux'), `#!/bin/sh\necho "$*" >> ${log}\n${fail}exec ${realTmux} "$@"\n`, {
        mode: 0o755,
      });
      return { tmuxPath: join(dir, 'tmux'), calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean) };
    }

    /** Each project's result with the bulk read, next to its result read alone. */
    async function bothWays(projects: Project[], ctx: GatherContext): Promise<{ bulk: unknown[]; alone: unknown[] }> {
      const prepared = await paneOutputGatherer.prepare?.(projects, ctx);
      const bulk = await Promise.all(projects.map((p) => paneOutputGatherer.gather(p, ctx, prepared)));
      const alone = await Promise.all(projects.map((p) => paneOutputGatherer.gather(p, { config: ctx.config })));
      return { bulk, alone };
    }

    it('reads every project of a server in two tmux calls and decides as the per-project read does', async () => {
      await startPrinting('done', ['working...', 'All tasks complete']);
      await startPrinting('vetoed', ['All tasks complete', 'Traceback (most recent call last):']);
      await startPrinting('busy', ['still working']);
      await startPrinting('two', ['just a shell']);
      tmux.run(['split-window', '-t', '=two:', '--', ...printer(['Orchestration complete'])]);
      await waitFor(
        () =>
          tmux
            .run(['list-panes', '-a', '-F', '#{pane_id}'])
            .trim()
            .split('\n')
            .some((id) => tmux.run(['capture-pane', '-p', '-t', id]).includes('Orchestration complete')),
        15_000,
        'second pane output',
      );
      const projects = ['done', 'vetoed', 'busy', 'two', 'gone', 'w'].map((session, i) =>
        aProject({ id: `p${i}`, session, tmuxSocket: tmux.socket }),
      );
      const { tmuxPath, calls } = loggingTmux();
      const { bulk, alone } = await bothWays(projects, { config: aConfig(), tmuxPath });
      expect(bulk).to.deep.equal(alone);
      expect(bulk[0])
        .to.have.nested.property('evidence.detail')
        .that.matches(/"All tasks complete"$/);
      expect(bulk[1])
        .to.have.property('note')
        .that.matches(/vetoed/);
      expect(bulk[3])
        .to.have.nested.property('evidence.detail')
        .that.matches(/"Orchestration complete"$/);
      expect(bulk[4]).to.deep.equal({ evidence: null });
      expect(calls().map((c) => c.split(' ').slice(2, 4).join(' '))).to.deep.equal([
        'list-panes -a',
        'capture-pane -p',
      ]);
    });

    it(`captures more than ${PANES_PER_CALL} panes in calls of ${PANES_PER_CALL}`, async function () {
      // 35 panes read twice, through a logging wrapper: on a busy machine one call of 32 captures can take seconds.
      this.timeout(120_000);
      const n = PANES_PER_CALL + 3;
      for (let i = 0; i < n; i++)
        tmux.newSession(`s-${i}`, printer([i === n - 1 ? 'All tasks complete' : `step ${i}`]));
      await waitFor(
        () => tmux.run(['capture-pane', '-p', '-t', `=s-${n - 1}:`]).includes('All tasks complete'),
        15_000,
        "the last session's output",
      );
      const projects = Array.from({ length: n }, (_, i) =>
        aProject({ id: `p${i}`, session: `s-${i}`, tmuxSocket: tmux.socket }),
      );
      const { tmuxPath, calls } = loggingTmux();
      const config = aConfig({ evidenceTimeoutMs: 30_000, tmuxTimeoutMs: 30_000 });
      const { bulk, alone } = await bothWays(projects, { config, tmuxPath });
      expect(bulk).to.deep.equal(alone);
      expect(bulk.filter((r) => (r as { evidence: unknown }).evidence !== null)).to.have.length(1);
      expect(calls()).to.have.length(3);
    });

    it('is not fooled by a pane that prints marker-like lines', async () => {
      await startPrinting('tricky', ['toa-capture-0000000000000000-0', 'toa-capture-', 'All tasks complete']);
      await startPrinting('plain', ['still working']);
      const projects = ['tricky', 'plain'].map((session, i) =>
        aProject({ id: `p${i}`, session, tmuxSocket: tmux.socket }),
      );
      const { bulk, alone } = await bothWays(projects, { config: aConfig() });
      expect(bulk).to.deep.equal(alone);
      expect(bulk[0])
        .to.have.nested.property('evidence.detail')
        .that.matches(/"All tasks complete"$/);
    });

    it('leaves the projects of a batch tmux refused to the per-project read', async () => {
      await startPrinting('done', ['All tasks complete']);
      const project = aProject({ session: 'done', tmuxSocket: tmux.socket });
      const { tmuxPath, calls } = loggingTmux('display-message');
      const ctx = { config: aConfig(), tmuxPath };
      const prepared = await paneOutputGatherer.prepare?.([project], ctx);
      expect(await paneOutputGatherer.gather(project, ctx, prepared))
        .to.have.nested.property('evidence.detail')
        .that.matches(/"All tasks complete"$/);
      expect(calls().map((c) => c.split(' ').slice(2, 4).join(' '))).to.deep.equal([
        'list-panes -a',
        'capture-pane -p',
        'list-panes -t',
        'capture-pane -p',
      ]);
    });

    it('settles every session of a server that is not running without another tmux call', async () => {
      const project = aProject({ session: 'work-1', tmuxSocket: tmux.socket });
      const { tmuxPath, calls } = loggingTmux();
      const ctx = { config: aConfig(), tmuxPath };
      const prepared = await paneOutputGatherer.prepare?.([project], ctx);
      expect(await paneOutputGatherer.gather(project, ctx, prepared)).to.deep.equal({ evidence: null });
      expect(calls()).to.have.length(1);
    });

    it('lists the panes but captures none of the live ones when no output pattern is configured', async () => {
      await startPrinting('work-1', ['All tasks complete']);
      const { tmuxPath, calls } = loggingTmux();
      const project = aProject({ session: 'work-1', tmuxSocket: tmux.socket });
      const ctx = { config: aConfig({ completionOutputPatterns: [] }), tmuxPath };
      const prepared = await paneOutputGatherer.prepare?.([project], ctx);
      expect(await paneOutputGatherer.gather(project, ctx, prepared)).to.deep.equal({ evidence: null });
      expect(calls().map((c) => c.split(' ').slice(2, 4).join(' '))).to.deep.equal(['list-panes -a']);
    });

    it("hands on the last lines of a dead pane (a command that exited), without tmux's own line, with or without patterns", async () => {
      const script = 'echo "step 1"; echo "step 1"; echo "fatal: API key expired" >&2; exit 3';
      tmux.run([
        'new-session',
        '-d',
        '-s',
        'crashed',
        '--',
        // As the agent launches it: tmux drops the last output of a pane process that exits at once.
        ...launchArgv(['sh', '-c', script]),
        ';',
        'set-option',
        '-w',
        '-t',
        '=crashed:',
        'remain-on-exit',
        'on',
      ]);
      // tmux may miss the SIGCHLD of a command that exits at once (see the scan's nudge): send the server another.
      const server = Number(tmux.run(['display-message', '-p', '#{pid}']).trim());
      await waitFor(
        () =>
          process.kill(server, 'SIGCHLD') &&
          tmux.run(['capture-pane', '-p', '-S', '-200', '-t', '=crashed:']).includes('Pane is dead'),
        15_000,
        'the pane to die',
      );
      const paneId = tmux.run(['list-panes', '-t', '=crashed:', '-F', '#{pane_id}']).trim();
      const project = aProject({ session: 'crashed', tmuxSocket: tmux.socket });
      for (const config of [aConfig(), aConfig({ completionOutputPatterns: [] })]) {
        const { bulk, alone } = await bothWays([project], { config });
        expect(bulk).to.deep.equal(alone);
        expect(bulk[0]).to.deep.include({
          evidence: null,
          deadPaneLines: [{ paneId, lines: ['step 1', 'step 1', 'fatal: API key expired'] }],
        });
      }
    });
  });

  it('keeps the last 200 non-blank lines, each distinct line once', () => {
    const capture = [...Array.from({ length: 250 }, (_, i) => `line ${i}`), 'done', 'done', '', '   ', ''].join('\n');
    const lines = lastDistinctLines(capture);
    expect(lines[0]).to.equal('line 52');
    expect(lines.at(-1)).to.equal('done');
    expect(lines.filter((l) => l === 'done')).to.have.length(1);
  });
});
