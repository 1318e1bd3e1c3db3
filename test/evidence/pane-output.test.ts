import { expect } from 'chai';

import { lastDistinctLines, paneOutputGatherer } from '../../src/evidence/pane-output.js';
import { PrivateTmux } from '../helpers/tmux.js';
import { aConfig, aProject, destroyTmux, hangingBinary, TempDirs, waitFor } from './fixtures.js';

/** A node process that prints `lines` and then stays alive, so the pane keeps its output. */
function printer(lines: string[]): string[] {
  return [process.execPath, '-e', `for (const l of ${JSON.stringify(lines)}) console.log(l); setTimeout(() => {}, 60000);`];
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
    await waitFor(() => tmux.run(['capture-pane', '-p', '-t', `=${session}:`]).includes(last), 5000, `"${last}" in ${session}`);
  }

  it('reports a completion line as output evidence (weight 0.5)', async () => {
    await startPrinting('work-1', ['working...', 'All tasks complete']);
    const paneId = tmux.run(['list-panes', '-t', '=work-1:', '-F', '#{pane_id}']).trim();
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), { config: aConfig() });
    expect(result).to.deep.equal({ evidence: { method: 'output', weight: 0.5, detail: `pane ${paneId}: "All tasks complete"` } });
  });

  it('finds the completion line in any pane of the session', async () => {
    await startPrinting('work-1', ['just a shell']);
    tmux.run(['split-window', '-t', '=work-1:', '--', ...printer(['Orchestration complete'])]);
    await waitFor(
      () => tmux.run(['list-panes', '-t', '=work-1:', '-F', '#{pane_id}']).trim().split('\n').some((id) => tmux.run(['capture-pane', '-p', '-t', id]).includes('Orchestration complete')),
      5000,
      'second pane output',
    );
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), { config: aConfig() });
    expect(result).to.have.nested.property('evidence.detail').that.matches(/^pane %\d+: "Orchestration complete"$/);
  });

  it('lets an error line veto the completion line, and says why', async () => {
    await startPrinting('work-1', ['All tasks complete', 'Traceback (most recent call last):', '  File "x.py", line 1']);
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), { config: aConfig() });
    expect(result).to.have.property('evidence', null);
    expect(result).to.have.property('note').that.matches(/vetoed: pane %\d+: error line "Traceback \(most recent call last\):"/);
  });

  it('finds nothing when no line matches', async () => {
    await startPrinting('work-1', ['still working']);
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), { config: aConfig() });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('gathers nothing, and is not unavailable, when the session is missing', async () => {
    // w-10 would match a prefix target "w-1"; the exact target must not find it.
    await startPrinting('w-10', ['All tasks complete']);
    const result = await paneOutputGatherer.gather(aProject({ session: 'w-1', tmuxSocket: tmux.socket }), { config: aConfig() });
    expect(result).to.deep.equal({ evidence: null });
  });

  it('gathers nothing when the tmux server is not running', async () => {
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), { config: aConfig() });
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
    expect(result).to.have.property('unavailable').that.matches(/timed out/);
    expect(Date.now() - started).to.be.below(2000);
  });

  it('reports a tmux that is not installed as unavailable', async () => {
    const result = await paneOutputGatherer.gather(aProject({ session: 'work-1', tmuxSocket: tmux.socket }), {
      config: aConfig(),
      tmuxPath: `${temp.make('bin')}/tmux`,
    });
    expect(result).to.have.property('unavailable').that.matches(/not installed/);
  });

  it('keeps the last 200 non-blank lines, each distinct line once', () => {
    const capture = [...Array.from({ length: 250 }, (_, i) => `line ${i}`), 'done', 'done', '', '   ', ''].join('\n');
    const lines = lastDistinctLines(capture);
    expect(lines[0]).to.equal('line 52');
    expect(lines.at(-1)).to.equal('done');
    expect(lines.filter((l) => l === 'done')).to.have.length(1);
  });
});
