import { expect } from 'chai';
import {
  isNoProgress,
  paneSignature,
  trackProgress,
  type PaneProgress,
} from '../../../../src/core/rules/agent-activity/progress.js';
import { MIN, SEC, T0 } from '../../../helpers/builders.js';

const NO_PROGRESS_SEC = 1800;

describe('agent activity: progress', () => {
  it('gives the same signature to the same lines and another to other lines', () => {
    expect(paneSignature(['a', 'b'])).to.equal(paneSignature(['a', 'b']));
    expect(paneSignature(['a', 'b'])).not.to.equal(paneSignature(['a', 'c']));
    expect(paneSignature(['ab'])).not.to.equal(paneSignature(['a', 'b']));
  });

  it('keeps since while the signature stays and restarts it when it changes', () => {
    const first = trackProgress(null, 's1', T0);
    expect(trackProgress(first, 's1', T0 + 10 * MIN)).to.deep.equal({ signature: 's1', since: T0 });
    expect(trackProgress(first, 's2', T0 + 10 * MIN)).to.deep.equal({ signature: 's2', since: T0 + 10 * MIN });
  });

  it('reports no progress once the pane and the heartbeat are both older than the limit', () => {
    const progress: PaneProgress = { signature: 's', since: T0 };
    expect(isNoProgress(progress, T0, T0 + 30 * MIN - SEC, NO_PROGRESS_SEC)).to.equal(false);
    expect(isNoProgress(progress, T0, T0 + 30 * MIN, NO_PROGRESS_SEC)).to.equal(true);
    expect(isNoProgress(progress, null, T0 + 30 * MIN, NO_PROGRESS_SEC)).to.equal(true);
  });

  it('does not report an unchanged pane whose heartbeat is fresh', () => {
    expect(isNoProgress({ signature: 's', since: T0 }, T0 + 29 * MIN, T0 + 40 * MIN, NO_PROGRESS_SEC)).to.equal(false);
  });

  it('never reports a pane that scrolls on, read every 15 s for two hours', () => {
    let progress: PaneProgress | null = null;
    for (let t = 0; t <= 120 * MIN; t += 15 * SEC) {
      progress = trackProgress(progress, paneSignature([`step ${t / SEC}`]), T0 + t);
      expect(isNoProgress(progress, null, T0 + t, NO_PROGRESS_SEC), `at ${t / SEC}s`).to.equal(false);
    }
  });

  it('does not report a pane never read', () => {
    expect(isNoProgress(null, null, T0 + 10 * 60 * MIN, NO_PROGRESS_SEC)).to.equal(false);
  });
});
