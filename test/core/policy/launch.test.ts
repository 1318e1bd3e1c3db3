import { expect } from 'chai';
import { failedLaunchMoves, hexSuffix, selectLaunches, sessionNameFor } from '../../../src/core/policy/launch.js';
import { SESSION_NAME_PATTERN } from '../../../src/core/model/project.js';
import {
  MIN,
  T0,
  aConfig,
  aPausedQueue,
  aProcessingProject,
  aQueuedProject,
  aRunningQueue,
  anOpenBreaker,
  at,
  constant,
  sequence,
} from '../../helpers/policy-builders.js';

const cmd = ['python3', 'run.py'];
const one = aConfig({ maxConcurrent: 1 });
const three = aConfig({ maxConcurrent: 3 });
const ids = (actions: Array<{ project: string }>): string[] => actions.map((a) => a.project);

describe('launch selection', () => {
  it('launches a queued project that carries a command', () => {
    const p = aQueuedProject('web', { command: cmd, cwd: '/srv/web', tmuxSocket: 'agents' });
    expect(selectLaunches([p], aRunningQueue(), one, T0, 'build-01', constant(0))).to.deep.equal([
      {
        kind: 'launch',
        project: 'web',
        session: 'web-00000000',
        tmuxSocket: 'agents',
        cwd: '/srv/web',
        command: cmd,
        reason: `queued with priority 0 since ${at(0)}; slot 1 of 1`,
        then: { to: 'processing', reason: 'launched', patch: { host: 'build-01', session: 'web-00000000' } },
      },
    ]);
  });

  it('sends a project without a socket to the first watched server', () => {
    const p = aQueuedProject('web', { command: cmd });
    const [launch] = selectLaunches(
      [p],
      aRunningQueue(),
      aConfig({ maxConcurrent: 1, tmuxSockets: ['agents', 'default'] }),
      T0,
      'h',
      constant(0),
    );
    expect(launch?.tmuxSocket).to.equal('agents');
  });

  it('leaves projects without a command to their orchestrator', () => {
    const projects = [aQueuedProject('ext'), aQueuedProject('empty', { command: [] })];
    expect(selectLaunches(projects, aRunningQueue(), three, T0, 'h', constant(0))).to.deep.equal([]);
  });

  it('fills only the slots maxConcurrent leaves beside active projects', () => {
    const projects = [
      aProcessingProject('run'),
      aProcessingProject('slow', { state: 'timing_out' }),
      aQueuedProject('q1', { command: cmd, enqueuedAt: at(1) }),
      aQueuedProject('q2', { command: cmd, enqueuedAt: at(2) }),
    ];
    expect(ids(selectLaunches(projects, aRunningQueue(), three, T0, 'h', constant(0)))).to.deep.equal(['q1']);
  });

  it('counts a zombie as active', () => {
    const projects = [aProcessingProject('z', { state: 'zombie' }), aQueuedProject('q', { command: cmd })];
    expect(selectLaunches(projects, aRunningQueue(), one, T0, 'h', constant(0))).to.deep.equal([]);
  });

  it('picks the highest priority first, then the oldest, then by id', () => {
    const projects = [
      aQueuedProject('young', { command: cmd, enqueuedAt: at(5 * MIN) }),
      aQueuedProject('b-old', { command: cmd, enqueuedAt: at(0) }),
      aQueuedProject('urgent', { command: cmd, enqueuedAt: at(9 * MIN), priority: 10 }),
      aQueuedProject('a-old', { command: cmd, enqueuedAt: at(0) }),
    ];
    expect(ids(selectLaunches(projects, aRunningQueue(), three, T0, 'h', constant(0)))).to.deep.equal([
      'urgent',
      'a-old',
      'b-old',
    ]);
  });

  it('skips a project whose breaker is open and gives its slot to the next', () => {
    const projects = [
      aQueuedProject('tripped', { command: cmd, priority: 5, breaker: anOpenBreaker(0) }),
      aQueuedProject('fine', { command: cmd }),
    ];
    expect(ids(selectLaunches(projects, aRunningQueue(), one, T0 + MIN, 'h', constant(0)))).to.deep.equal(['fine']);
  });

  it('launches a project whose breaker is half-open', () => {
    const p = aQueuedProject('trial', { command: cmd, breaker: anOpenBreaker(0) });
    expect(ids(selectLaunches([p], aRunningQueue(), one, T0 + 30 * MIN, 'h', constant(0)))).to.deep.equal(['trial']);
  });

  it('launches nothing while the queue is paused', () => {
    const p = aQueuedProject('q', { command: cmd });
    expect(selectLaunches([p], aPausedQueue(0, 30 * MIN), three, T0 + MIN, 'h', constant(0))).to.deep.equal([]);
  });

  it('launches again once the pause has ended', () => {
    const p = aQueuedProject('q', { command: cmd });
    expect(ids(selectLaunches([p], aPausedQueue(0, 30 * MIN), three, T0 + 30 * MIN, 'h', constant(0)))).to.deep.equal([
      'q',
    ]);
  });

  it('never reuses the session an earlier attempt recorded: every launch gets a fresh name', () => {
    const p = aQueuedProject('q', { command: cmd, session: 'q-0badcafe', attempts: 1 });
    expect(selectLaunches([p], aRunningQueue(), one, T0, 'h', constant(0.5))[0]?.session).to.equal('q-80000000');
  });

  it('names the session after the base given at enqueue: <base>-<8 hex>', () => {
    const p = aQueuedProject('q', { command: cmd, sessionBase: 'nightly' });
    const [launch] = selectLaunches([p], aRunningQueue(), one, T0, 'h', constant(0));
    expect(launch?.session).to.equal('nightly-00000000');
    expect(launch?.then?.patch).to.deep.include({ session: 'nightly-00000000' });
  });

  it('falls back to the id for a base tmux would not accept', () => {
    const p = aQueuedProject('q', { command: cmd, sessionBase: 'bad:name' });
    expect(selectLaunches([p], aRunningQueue(), one, T0, 'h', constant(0))[0]?.session).to.equal('q-00000000');
  });

  it('cuts a long base so the name stays within 128 characters', () => {
    const p = aQueuedProject('q', { command: cmd, sessionBase: 'b'.repeat(128) });
    const name = selectLaunches([p], aRunningQueue(), one, T0, 'h', constant(0))[0]?.session ?? '';
    expect(name).to.equal(`${'b'.repeat(119)}-00000000`);
    expect(name).to.match(SESSION_NAME_PATTERN);
  });

  it('generates a valid session name from an id with a dot', () => {
    const name = sessionNameFor('v1.2', sequence(0.5));
    expect(name).to.equal('v1_2-80000000');
    expect(name).to.match(SESSION_NAME_PATTERN);
  });

  it('draws 8 hex digits even from the edge of the source', () => {
    expect(hexSuffix(constant(0.999999999999))).to.equal('ffffffff');
    expect(hexSuffix(constant(1))).to.equal('ffffffff');
    expect(hexSuffix(constant(0.0000001))).to.equal('000001ad');
  });

  describe('a launch that did not start', () => {
    const planned = () => {
      const launch = selectLaunches(
        [aQueuedProject('web', { command: cmd, tmuxSocket: 'agents' })],
        aRunningQueue(),
        one,
        T0,
        'build-01',
        constant(0),
      )[0];
      if (!launch) throw new Error('no launch planned');
      return launch;
    };
    const attempted = {
      project: 'web',
      from: 'queued',
      to: 'processing',
      reason: 'launch attempted',
      patch: { host: 'build-01', pid: null, pidStartTime: null },
    };

    it('for its own input is recorded as an attempt that failed with invalid_command, claiming no pid and no session', () => {
      expect(failedLaunchMoves(planned(), 'cwd "/gone" is not an existing directory', 'invalid_command')).to.deep.equal(
        [
          attempted,
          {
            project: 'web',
            from: 'processing',
            to: 'failed',
            reason: 'launch refused: cwd "/gone" is not an existing directory',
            patch: { failureReason: 'invalid_command' },
          },
        ],
      );
    });

    it('because tmux refused it is recorded as an attempt that failed with launch_failed', () => {
      const detail = 'tmux new-session on tmux server agents failed: duplicate session: web-00000000';
      expect(failedLaunchMoves(planned(), detail, 'launch_failed')).to.deep.equal([
        attempted,
        {
          project: 'web',
          from: 'processing',
          to: 'failed',
          reason: `launch failed: ${detail}`,
          patch: { failureReason: 'launch_failed' },
        },
      ]);
    });
  });
});
