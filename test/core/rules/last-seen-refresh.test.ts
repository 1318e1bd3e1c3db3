import { expect } from 'chai';
import type { Project } from '../../../src/core/model/project.js';
import { lastSeenRefreshMs } from '../../../src/core/rules/detect-active.js';
import { reconcile } from '../../../src/core/rules/reconcile.js';
import type { Snapshot } from '../../../src/core/model/snapshot.js';
import { MIN, SEC, T0, aConfig, aPane, aProject, aSnapshot, at } from '../../helpers/builders.js';

const NOW = T0 + 10 * MIN;
const live = (): Snapshot => aSnapshot({ panes: [aPane({ windowActivityAt: NOW })] });

function updatesOf(project: Project, phantomGracePeriodSec = 900) {
  return reconcile({
    projects: [project],
    snapshot: live(),
    evidence: new Map(),
    config: aConfig({ phantomGracePeriodSec }),
    now: NOW,
  }).updates;
}

describe('reconcile: refreshing lastSeenAliveAt', () => {
  it('lags by at most a tenth of the phantom grace', () => {
    expect(lastSeenRefreshMs(aConfig({ phantomGracePeriodSec: 900 }))).to.equal(90 * SEC);
    expect(lastSeenRefreshMs(aConfig({ phantomGracePeriodSec: 300 }))).to.equal(30 * SEC);
    expect(lastSeenRefreshMs(aConfig({ phantomGracePeriodSec: 0 }))).to.equal(0);
  });

  it('leaves a live project seen alive within the refresh interval alone', () => {
    expect(updatesOf(aProject({ lastSeenAliveAt: at(10 * MIN - 89 * SEC) }))).to.deep.equal([]);
  });

  it('refreshes it once it lags by the refresh interval', () => {
    expect(updatesOf(aProject({ lastSeenAliveAt: at(10 * MIN - 90 * SEC) }))).to.deep.equal([
      { project: 'p1', patch: { lastSeenAliveAt: new Date(NOW).toISOString() } },
    ]);
  });

  it('refreshes it every cycle when the grace is 0', () => {
    expect(updatesOf(aProject({ lastSeenAliveAt: at(10 * MIN - 1) }), 0)).to.have.length(1);
  });

  it('refreshes it when it was never seen alive', () => {
    expect(updatesOf(aProject({ lastSeenAliveAt: null }))[0]?.patch.lastSeenAliveAt).to.equal(
      new Date(NOW).toISOString(),
    );
  });
});
