import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanIsClear } from '../../src/core/model/snapshot.js';
import { runSource, scan } from '../../src/scan/scanner.js';
import { Processes, statStartTime } from '../helpers/processes.js';
import { PrivateTmux } from '../helpers/tmux.js';

describe('scanner', () => {
  const processes = new Processes();
  const servers: PrivateTmux[] = [];
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'toa-scan-'));
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) s.destroy();
    await processes.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  function server(): PrivateTmux {
    const s = new PrivateTmux('scanner');
    servers.push(s);
    return s;
  }

  it('builds a snapshot from processes, every tmux server and tracked usage', async () => {
    const running = server();
    const idle = server();
    const panePid = running.newSession('proj-1', ['sleep', '60']);
    const snapshot = await scan({
      sockets: [running.socket, idle.socket],
      tmuxTimeoutMs: 5000,
      trackedTrees: [{ project: 'p1', pid: panePid, pidStartTime: statStartTime(panePid) }],
    });
    expect(snapshot.sources.map((s) => [s.source, s.ok, s.error])).to.deep.equal([
      ['processes', true, null],
      ['tmux', true, null],
      ['usage', true, null],
    ]);
    for (const s of snapshot.sources) expect(s.durationMs).to.be.at.least(0);
    expect(scanIsClear(snapshot)).to.equal(true);
    expect(snapshot.processes.byPid.get(panePid)?.comm).to.equal('sleep');
    expect(snapshot.tmux.map((t) => [t.socket, t.ok, [...t.sessions.keys()]])).to.deep.equal([
      [running.socket, true, ['proj-1']],
      [idle.socket, true, []],
    ]);
    expect(snapshot.usage.get('p1')?.rssBytes).to.be.greaterThan(0);
    expect(snapshot.takenAt).to.be.closeTo(Date.now(), 5000);
  });

  it('reports a tmux failure without losing the process table', async () => {
    const snapshot = await scan({ sockets: [server().socket], tmuxPath: join(dir, 'no-tmux'), tmuxTimeoutMs: 1000 });
    const tmux = snapshot.sources.find((s) => s.source === 'tmux');
    expect(tmux?.ok).to.equal(false);
    expect(tmux?.error).to.include('not installed');
    expect(snapshot.tmux[0]?.ok).to.equal(false);
    expect(snapshot.processes.byPid.get(process.pid)).to.not.equal(undefined);
    expect(scanIsClear(snapshot)).to.equal(false);
  });

  it('reports an unreadable process table, and usage as unavailable', async () => {
    const snapshot = await scan({
      procRoot: join(dir, 'missing'),
      sockets: [server().socket],
      trackedTrees: [{ project: 'p1', pid: process.pid, pidStartTime: null }],
    });
    expect(snapshot.sources.map((s) => [s.source, s.ok])).to.deep.equal([
      ['processes', false],
      ['tmux', true],
      ['usage', false],
    ]);
    expect(snapshot.sources[2]?.error).to.equal('process table unavailable');
    expect(snapshot.processes.byPid.size).to.equal(0);
    expect(scanIsClear(snapshot)).to.equal(false);
  });

  it('times each source with the clock it is given', async () => {
    let t = 1000;
    const result = await runSource(
      { name: 'processes', collect: async () => ({ value: 1, error: null }) },
      () => (t += 5),
    );
    expect(result.report).to.deep.equal({ source: 'processes', ok: true, durationMs: 5, error: null });
  });
});
