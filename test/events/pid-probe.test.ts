/**
 * The PID probe on real processes: an exit, a process left defunct and a
 * PID recorded with another start time (reused) each ask for a cycle naming
 * the project; a process that still runs is not named.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { PidProbe, STAT_EVERY } from '../../src/events/pid-probe.js';
import { Processes, statOrNull, statStartTime, waitUntil } from '../helpers/processes.js';
import { Triggers } from './triggers.js';

describe('events/pid-probe', function () {
  this.timeout(60_000);
  let processes: Processes;
  let triggers: Triggers;
  let probe: PidProbe;

  beforeEach(async () => {
    processes = new Processes();
    triggers = new Triggers();
    probe = new PidProbe(triggers.trigger, 20);
    await probe.start();
  });
  afterEach(async () => {
    await probe.stop();
    await processes.cleanup();
  });

  it('asks for a cycle when a tracked process exits, naming it and not the one still running', async () => {
    const [alive, dying] = [await processes.sleeper(), await processes.sleeper()];
    probe.track([
      { project: 'alive', pid: alive, pidStartTime: statStartTime(alive) },
      { project: 'dying', pid: dying, pidStartTime: statStartTime(dying) },
    ]);
    expect(probe.health()).to.deep.equal({ up: true, detail: 'probing 2 pid(s) every 20 ms' });
    process.kill(dying, 'SIGKILL');
    expect(await triggers.after(0, /^process exited/, 'the exit')).to.equal(`process exited: dying (pid ${dying})`);
    expect(probe.health().detail).to.equal('probing 1 pid(s) every 20 ms');
  });

  it(`asks for a cycle when a tracked process is left defunct (seen by the stat read every ${STAT_EVERY}th probe)`, async () => {
    // sh execs a sleep that never reaps the short sleep it inherited: that one stays a zombie.
    const parent = processes.spawn('sh', ['-c', 'sleep 0.1 & exec sleep 600'], { stdio: 'ignore' });
    let zombie = 0;
    await waitUntil(
      () => {
        const kids = childrenOf(parent.pid as number);
        zombie = kids.find((pid) => statOrNull(pid)?.state === 'Z') ?? 0;
        return zombie > 0;
      },
      15_000,
      'the short sleep to turn defunct',
    );
    probe.track([{ project: 'zombie', pid: zombie, pidStartTime: null }]);
    expect(await triggers.after(0, /^process exited/, 'the defunct process')).to.equal(
      `process exited: zombie (pid ${zombie})`,
    );
  });

  it('asks for a cycle when the PID now belongs to a process started at another time', async () => {
    const pid = await processes.sleeper();
    probe.track([{ project: 'reused', pid, pidStartTime: statStartTime(pid) - 5 }]);
    expect(await triggers.after(0, /^process exited/, 'the start time mismatch')).to.equal(
      `process exited: reused (pid ${pid})`,
    );
  });

  it('reports not started once stopped', async () => {
    await probe.stop();
    expect(probe.health()).to.deep.equal({ up: false, detail: 'not started' });
  });
});

/** Direct children of `pid`, from /proc/<pid>/task/<pid>/children. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}
