import { expect } from 'chai';
import { intentFor, recoverIntents } from '../../../src/core/guard/intents.js';
import type { KillTreeAction, LaunchAction } from '../../../src/core/model/plan.js';
import type { Intent } from '../../../src/core/model/registry-document.js';
import { aPane, aProcess, aProject, aServer, aSnapshot, at } from '../../helpers/builders.js';

const killZombie: KillTreeAction = {
  kind: 'kill_tree',
  project: 'z',
  pid: 1000,
  pidStartTime: 5000,
  session: null,
  tmuxSocket: null,
  reason: 'zombie: pid 1000 alive, session w-1 missing',
  then: { to: 'failed', reason: 'zombie: process tree of pid 1000 killed', patch: { failureReason: 'zombie' } },
};

const launchQ: LaunchAction = {
  kind: 'launch',
  project: 'q',
  session: 'q-0000abcd',
  tmuxSocket: 'agents',
  cwd: '/srv/q',
  command: ['python3', 'run.py'],
  reason: 'queued',
  then: { to: 'processing', reason: 'launched', patch: { host: 'build-01', session: 'q-0000abcd' } },
};

const killIntent = (fields: Partial<Intent> = {}): Intent => ({
  ...intentFor(killZombie, 'k1', at(0), 'agent@build-01'),
  ...fields,
});
const launchIntent = (fields: Partial<Intent> = {}): Intent => ({
  ...intentFor(launchQ, 'l1', at(0), 'agent@build-01'),
  ...fields,
});
const zombie = aProject({ id: 'z', state: 'zombie', session: 'w-1', pid: 1000, pidStartTime: 5000 });
const queued = aProject({
  id: 'q',
  state: 'queued',
  session: null,
  pid: null,
  pidStartTime: null,
  startedAt: null,
  attempts: 0,
  command: ['python3', 'run.py'],
});

describe('intent recovery', () => {
  it('records a kill intent with the pid, start time and follow-up it was planned against', () => {
    expect(killIntent()).to.deep.equal({
      id: 'k1',
      project: 'z',
      action: 'kill_tree',
      pid: 1000,
      pidStartTime: 5000,
      session: null,
      tmuxSocket: null,
      then: killZombie.then,
      at: at(0),
      by: 'agent@build-01',
    });
  });

  it('applies the follow-up of a kill whose target is gone', () => {
    const r = recoverIntents([killIntent()], [zombie], aSnapshot({ processes: [] }));
    expect(r.settled).to.deep.equal(['k1']);
    expect(r.transitions).to.have.length(1);
    expect(r.transitions[0]).to.deep.include({
      project: 'z',
      from: 'zombie',
      to: 'failed',
      patch: { failureReason: 'zombie' },
    });
    expect(r.transitions[0]?.reason).to.match(
      /^zombie: process tree of pid 1000 killed \(finished after a restart: pid 1000 is gone\)$/,
    );
  });

  it('counts a kill as done when the pid now belongs to another process (other start time)', () => {
    const r = recoverIntents(
      [killIntent()],
      [zombie],
      aSnapshot({ processes: [aProcess({ pid: 1000, startTime: 7777 })] }),
    );
    expect(r.settled).to.deep.equal(['k1']);
    expect(r.transitions.map((t) => `${t.project}:${t.from}->${t.to}`)).to.deep.equal(['z:zombie->failed']);
  });

  it('drops a kill whose target is still alive, with no follow-up: reconcile re-plans it', () => {
    const r = recoverIntents(
      [killIntent()],
      [zombie],
      aSnapshot({ processes: [aProcess({ pid: 1000, startTime: 5000 })] }),
    );
    expect(r.settled).to.deep.equal(['k1']);
    expect(r.transitions).to.deep.equal([]);
    expect(r.notes[0]).to.contain('re-planned');
  });

  it('applies no follow-up when the project is already where the follow-up leads', () => {
    const failed = aProject({ id: 'z', state: 'failed' });
    const r = recoverIntents([killIntent()], [failed], aSnapshot());
    expect(r.settled).to.deep.equal(['k1']);
    expect(r.transitions).to.deep.equal([]);
  });

  it('applies no follow-up to a project reset since (queued: the move is not allowed)', () => {
    const reset = aProject({ id: 'z', state: 'queued', pid: null, pidStartTime: null, startedAt: null, attempts: 0 });
    const r = recoverIntents([killIntent()], [reset], aSnapshot());
    expect(r.settled).to.deep.equal(['k1']);
    expect(r.transitions).to.deep.equal([]);
    expect(r.notes.join('\n')).to.contain('moved on (it is queued now)');
  });

  it('applies no follow-up to a later attempt: started after the intent, another pid', () => {
    const again = aProject({ id: 'z', state: 'processing', pid: 2222, pidStartTime: 6000, startedAt: at(60_000) });
    expect(recoverIntents([killIntent()], [again], aSnapshot()).transitions).to.deep.equal([]);
    const samePidOtherStart = aProject({
      id: 'z',
      state: 'zombie',
      pid: 1000,
      pidStartTime: 6000,
      startedAt: at(-60_000),
    });
    expect(recoverIntents([killIntent()], [samePidOtherStart], aSnapshot()).transitions).to.deep.equal([]);
  });

  it('settles a kill without a follow-up (a leftover process) with no move', () => {
    const r = recoverIntents([killIntent({ then: null })], [zombie], aSnapshot());
    expect(r.settled).to.deep.equal(['k1']);
    expect(r.transitions).to.deep.equal([]);
  });

  it('settles the intent of a project that no longer exists without a move', () => {
    const r = recoverIntents([killIntent()], [], aSnapshot());
    expect(r.settled).to.deep.equal(['k1']);
    expect(r.transitions).to.deep.equal([]);
  });

  it('applies the follow-up of a session kill whose session is gone, and re-plans one whose session exists', () => {
    const then = { to: 'failed' as const, reason: 'timeout: killed', patch: { failureReason: 'timeout' } };
    const intent: Intent = {
      id: 's1',
      project: 't',
      action: 'kill_session',
      pid: null,
      pidStartTime: null,
      session: 'w-1',
      tmuxSocket: null,
      then,
      at: at(0),
      by: 'agent@h',
    };
    const timingOut = aProject({ id: 't', state: 'timing_out', pid: null, pidStartTime: null });
    const gone = recoverIntents([intent], [timingOut], aSnapshot({ panes: [] }));
    expect(gone.transitions.map((t) => `${t.project}:${t.from}->${t.to}`)).to.deep.equal(['t:timing_out->failed']);
    const alive = recoverIntents([intent], [timingOut], aSnapshot({ panes: [aPane({ session: 'w-1' })] }));
    expect(alive.settled).to.deep.equal(['s1']);
    expect(alive.transitions).to.deep.equal([]);
  });

  it('adopts a launch whose session exists: queued to processing with the pane pid, its start time, and the intent as the attempt start', () => {
    const snapshot = aSnapshot({
      servers: [aServer({ socket: 'agents', panes: [aPane({ session: 'q-0000abcd', panePid: 4242 })] })],
      processes: [aProcess({ pid: 4242, startTime: 9090 })],
    });
    const r = recoverIntents([launchIntent()], [queued], snapshot);
    expect(r.settled).to.deep.equal(['l1']);
    expect(r.transitions).to.have.length(1);
    const t = r.transitions[0];
    expect(t).to.include({ project: 'q', from: 'queued', to: 'processing' });
    expect(t?.reason).to.contain('adopted from an unfinished launch');
    expect(t?.patch).to.deep.equal({
      host: 'build-01',
      session: 'q-0000abcd',
      pid: 4242,
      pidStartTime: 9090,
      tmuxSocket: 'agents',
      startedAt: launchIntent().at,
    });
  });

  it('adopts the live pane when the session also holds a dead one', () => {
    const snapshot = aSnapshot({
      servers: [
        aServer({
          socket: 'agents',
          panes: [
            aPane({ session: 'q-0000abcd', paneId: '%1', panePid: 11, paneDead: true }),
            aPane({ session: 'q-0000abcd', paneId: '%2', panePid: 12 }),
          ],
        }),
      ],
      processes: [aProcess({ pid: 12, startTime: 1 })],
    });
    expect(recoverIntents([launchIntent()], [queued], snapshot).transitions[0]?.patch).to.include({
      pid: 12,
      pidStartTime: 1,
    });
  });

  it("looks for the launched session on the intent's own server only", () => {
    const elsewhere = aSnapshot({
      servers: [aServer({ socket: null, panes: [aPane({ session: 'q-0000abcd' })] }), aServer({ socket: 'agents' })],
    });
    const r = recoverIntents([launchIntent()], [queued], elsewhere);
    expect(r.settled).to.deep.equal(['l1']);
    expect(r.transitions).to.deep.equal([]);
  });

  it('drops a launch whose session is missing, so the launcher starts it again', () => {
    const r = recoverIntents([launchIntent()], [queued], aSnapshot({ servers: [aServer({ socket: 'agents' })] }));
    expect(r.settled).to.deep.equal(['l1']);
    expect(r.transitions).to.deep.equal([]);
    expect(r.notes[0]).to.contain('launched again');
  });

  it('drops a launch whose project is no longer queued (a report already moved it)', () => {
    const snapshot = aSnapshot({ servers: [aServer({ socket: 'agents', panes: [aPane({ session: 'q-0000abcd' })] })] });
    const running = { ...queued, state: 'processing' as const };
    const r = recoverIntents([launchIntent()], [running], snapshot);
    expect(r.settled).to.deep.equal(['l1']);
    expect(r.transitions).to.deep.equal([]);
  });

  for (const failed of [['processes'], ['tmux']] as const) {
    it(`settles nothing while the ${failed[0]} scan failed`, () => {
      const r = recoverIntents([killIntent(), launchIntent()], [zombie, queued], aSnapshot({ failed: [...failed] }));
      expect(r).to.deep.equal({ settled: [], transitions: [], notes: [] });
    });
  }

  it('settles nothing while one of the tmux servers could not be read', () => {
    const snapshot = aSnapshot({ servers: [aServer({ socket: null }), aServer({ socket: 'agents', ok: false })] });
    expect(recoverIntents([killIntent()], [zombie], snapshot).settled).to.deep.equal([]);
  });

  it('settles several intents independently', () => {
    const snapshot = aSnapshot({ servers: [aServer({ socket: null }), aServer({ socket: 'agents' })], processes: [] });
    const r = recoverIntents([killIntent(), launchIntent()], [zombie, queued], snapshot);
    expect(r.settled).to.deep.equal(['k1', 'l1']);
    expect(r.transitions.map((t) => t.project)).to.deep.equal(['z']);
  });
});
