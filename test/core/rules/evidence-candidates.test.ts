import { expect } from 'chai';
import { evidenceCandidates } from '../../../src/core/rules/reconcile.js';
import { MIN, SEC, T0, aConfig, aPane, aProcess, aProject, aSnapshot, at } from '../../helpers/builders.js';

const SYNC = 300 * SEC; // STATE_SYNC_INTERVAL_SEC default
const NOW = T0 + 10 * MIN;
const config = aConfig();

describe('evidenceCandidates', () => {
  const healthy = aProject({ id: 'ok', session: 'w-ok', pid: 1001, pidStartTime: 5001 });
  const snapshot = aSnapshot({
    processes: [aProcess({ pid: 1001, startTime: 5001 }), aProcess()],
    panes: [aPane({ session: 'w-ok' })],
  });

  it('skips a healthy project between full syncs', () => {
    expect(evidenceCandidates([healthy], snapshot, config, NOW, NOW - SYNC + 1)).to.deep.equal({
      ids: [],
      fullSync: false,
    });
  });

  it('takes every active project once the sync interval has passed', () => {
    const projects = [
      healthy,
      aProject({ id: 'z', state: 'zombie' }),
      aProject({ id: 'done', state: 'completed' }),
      aProject({ id: 'q', state: 'queued' }),
    ];
    expect(evidenceCandidates(projects, snapshot, config, NOW, NOW - SYNC)).to.deep.equal({
      ids: ['ok', 'z'],
      fullSync: true,
    });
  });

  it('takes every active project when there was never a full sync', () => {
    expect(evidenceCandidates([healthy], snapshot, config, NOW, null)).to.deep.equal({ ids: ['ok'], fullSync: true });
  });

  it('takes a project that looks like a zombie', () => {
    const zombie = aProject({ id: 'z' });
    expect(evidenceCandidates([healthy, zombie], snapshot, config, NOW, NOW).ids).to.deep.equal(['z']);
  });

  it('takes a project that looks dead, inside its phantom grace too', () => {
    const dead = aProject({ id: 'd', pid: 1999 });
    expect(evidenceCandidates([dead], snapshot, config, NOW, NOW).ids).to.deep.equal(['d']);
  });

  it('takes a project past its deadline, and every timing_out project', () => {
    const late = aProject({ id: 'late', session: 'w-ok', pid: 1001, pidStartTime: 5001, startedAt: at(-31 * MIN) });
    const timingOut = aProject({ id: 't', state: 'timing_out', session: 'w-ok', pid: 1001, pidStartTime: 5001 });
    expect(evidenceCandidates([healthy, late, timingOut], snapshot, config, NOW, NOW).ids).to.deep.equal(['late', 't']);
  });

  it('skips projects of other hosts', () => {
    const theirs = aProject({ id: 'theirs', host: 'b' });
    expect(evidenceCandidates([theirs], snapshot, config, NOW, null, 'a').ids).to.deep.equal([]);
  });
});
