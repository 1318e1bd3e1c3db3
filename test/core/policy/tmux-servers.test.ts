import { expect } from 'chai';
import { isWatched, launchServer, unwatchedProjects, watchedServers } from '../../../src/core/policy/tmux-servers.js';
import { aConfig, aProcessingProject, aQueuedProject, aFailedProject } from '../../helpers/policy-builders.js';

const cmd = ['sleep', '300'];
const configured = aConfig({ tmuxSockets: ['agents', 'default'] });
const unset = aConfig({ tmuxSockets: null });

describe('watched tmux servers', () => {
  it('launches a project without a socket on the first configured server', () => {
    expect(launchServer(aQueuedProject('q', { command: cmd }), configured)).to.equal('agents');
    expect(
      launchServer(aQueuedProject('q', { command: cmd }), aConfig({ tmuxSockets: ['default', 'agents'] })),
    ).to.equal(null);
  });

  it('launches on the default server as before when no servers are configured', () => {
    expect(launchServer(aQueuedProject('q', { command: cmd }), unset)).to.equal(null);
  });

  it("keeps a project's own socket", () => {
    expect(launchServer(aQueuedProject('q', { command: cmd, tmuxSocket: 'other' }), configured)).to.equal('other');
  });

  it('watches the configured servers, "default" being the default server', () => {
    expect(isWatched(null, configured)).to.equal(true);
    expect(isWatched('agents', configured)).to.equal(true);
    expect(isWatched('other', configured)).to.equal(false);
    expect(watchedServers(configured, [aProcessingProject('p', { tmuxSocket: 'other' })])).to.deep.equal([
      'agents',
      null,
    ]);
  });

  it('watches every server a project names when none are configured', () => {
    expect(isWatched('anything', unset)).to.equal(true);
    expect(
      watchedServers(unset, [aProcessingProject('p', { tmuxSocket: 'other' }), aQueuedProject('q')]),
    ).to.deep.equal([null, 'other']);
  });

  it('reports live and waiting projects on unwatched servers, not finished ones nor launches that will go to a watched one', () => {
    const only = aConfig({ tmuxSockets: ['agents'] });
    const projects = [
      aProcessingProject('running-elsewhere', { tmuxSocket: 'other' }),
      aProcessingProject('on-default'),
      aProcessingProject('watched', { tmuxSocket: 'agents' }),
      aQueuedProject('will-launch-on-agents', { command: cmd }),
      aQueuedProject('external-on-default'),
      aFailedProject('finished', { tmuxSocket: 'other' }),
    ];
    expect(unwatchedProjects(projects, only).map((u) => [u.project, u.server])).to.deep.equal([
      ['running-elsewhere', 'other'],
      ['on-default', null],
      ['external-on-default', null],
    ]);
    expect(unwatchedProjects(projects, unset)).to.deep.equal([]);
  });
});
