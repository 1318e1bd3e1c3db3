import { expect } from 'chai';
import {
  killSessionRefusal,
  killTreeRefusal,
  protectedPids,
  type KillSafety,
} from '../../../src/core/guard/kill-safety.js';
import { aProcess } from '../../helpers/builders.js';

const agent: KillSafety = { protectedPids: protectedPids(4242, 4241), uid: 1000, allowForeignUsers: false };

describe('kill safety: the one rule of what may be signalled', () => {
  it('lets the recorded process of our own user be killed', () => {
    expect(killTreeRefusal(1000, 5000, aProcess(), agent)).to.equal(null);
  });

  it('never signals init, the agent or its parent', () => {
    for (const pid of [1, 4242, 4241]) {
      expect(killTreeRefusal(pid, 5000, aProcess({ pid }), agent)?.reason, `pid ${pid}`).to.equal('protected_pid');
    }
  });

  it('refuses a pid that is not a positive integer', () => {
    expect(killTreeRefusal(0, 5000, undefined, agent)).to.deep.equal({
      reason: 'protected_pid',
      detail: 'invalid pid 0',
    });
    expect(killTreeRefusal(-7, 5000, undefined, agent)?.reason).to.equal('protected_pid');
  });

  it('refuses a pid whose start time differs from the recorded one, or is unknown', () => {
    expect(killTreeRefusal(1000, 5000, aProcess({ startTime: 5001 }), agent)).to.deep.equal({
      reason: 'pid_unverified',
      detail: 'pid reused: start time is 5001, recorded 5000',
    });
    expect(killTreeRefusal(1000, 5000, aProcess({ startTime: null }), agent)?.reason).to.equal('pid_unverified');
  });

  it("refuses another user's process, or one whose owner is unknown, unless foreign users are allowed", () => {
    expect(killTreeRefusal(1000, 5000, aProcess({ uid: 0 }), agent)).to.deep.equal({
      reason: 'foreign_user',
      detail: 'owned by uid 0, not ours (1000); allowForeignUsers is off',
    });
    expect(killTreeRefusal(1000, 5000, aProcess({ uid: null }), agent)?.reason).to.equal('foreign_user');
    expect(killTreeRefusal(1000, 5000, aProcess({ uid: 0 }), { ...agent, allowForeignUsers: true })).to.equal(null);
  });

  it('leaves a process that is gone to the executor (nothing to refuse, nothing to signal)', () => {
    expect(killTreeRefusal(1000, 5000, undefined, agent)).to.equal(null);
  });

  it('refuses a session name tmux would reject or rewrite', () => {
    expect(killSessionRefusal('w-1')).to.equal(null);
    expect(killSessionRefusal('odd.name')?.reason).to.equal('invalid_session');
  });
});
