import { expect } from 'chai';
import { HISTORY_LIMIT, PROJECT_STATES, newProject, type ProjectState } from '../../../src/core/model/project.js';
import { IllegalTransitionError, TRANSITIONS, annotate, transition } from '../../../src/core/rules/state-machine.js';

const NOW = Date.parse('2026-11-26T10:00:00.000Z');
const ALLOWED: [ProjectState, ProjectState][] = [
  ['queued', 'processing'],
  ['processing', 'timing_out'],
  ['processing', 'zombie'],
  ['processing', 'failed'],
  ['processing', 'completed'],
  ['timing_out', 'completed'],
  ['timing_out', 'failed'],
  ['zombie', 'failed'],
  ['failed', 'queued'],
  ['completed', 'queued'],
];

function inState(state: ProjectState) {
  return newProject({ id: 'p1', enqueuedAt: '2026-11-26T09:00:00.000Z', state, attempts: 1 });
}

describe('core/rules/state-machine', () => {
  it('has exactly ten moves', () => {
    const table = PROJECT_STATES.flatMap((from) => TRANSITIONS[from].map((to) => [from, to]));
    expect(table).to.have.deep.members(ALLOWED);
    expect(table).to.have.length(ALLOWED.length);
  });

  for (const from of PROJECT_STATES) {
    for (const to of PROJECT_STATES) {
      const allowed = ALLOWED.some(([f, t]) => f === from && t === to);
      it(`${allowed ? 'allows' : 'refuses'} ${from} -> ${to}`, () => {
        const project = inState(from);
        const result = transition(project, to, { now: NOW, by: 'test', reason: 'because' });
        if (allowed) {
          expect(result.ok).to.equal(true);
          if (!result.ok) return;
          expect(result.project.state).to.equal(to);
          expect(result.entry).to.include({ from, to, reason: 'because', by: 'test', at: '2026-11-26T10:00:00.000Z' });
          expect(result.project.history.at(-1)).to.deep.equal(result.entry);
          expect(project.state).to.equal(from, 'the input project is not changed');
        } else {
          expect(result.ok).to.equal(false);
          if (result.ok) return;
          expect(result.error).to.be.instanceOf(IllegalTransitionError);
          expect(result.error.message).to.contain(`from ${from} to ${to}`);
          expect(result.error).to.include({ from, to, projectId: 'p1' });
        }
      });
    }
  }

  it('sets startedAt and counts an attempt on entering processing', () => {
    const result = transition(inState('queued'), 'processing', { now: NOW, by: 'test', reason: 'started' });
    if (!result.ok) throw result.error;
    expect(result.project).to.include({ startedAt: '2026-11-26T10:00:00.000Z', attempts: 2, timeoutExtensions: 0 });
  });

  it('sets endedAt on entering failed or completed', () => {
    for (const to of ['failed', 'completed'] as const) {
      const result = transition(inState('processing'), to, { now: NOW, by: 'test', reason: 'r' });
      if (!result.ok) throw result.error;
      expect(result.project.endedAt).to.equal('2026-11-26T10:00:00.000Z');
    }
  });

  it('clears the process of a requeued project', () => {
    const failed = { ...inState('failed'), pid: 42, pidStartTime: 7, startedAt: '2026-11-26T09:30:00.000Z' };
    const result = transition(failed, 'queued', { now: NOW, by: 'test', reason: 'retry' });
    if (!result.ok) throw result.error;
    expect(result.project).to.include({ pid: null, pidStartTime: null, startedAt: null, attempts: 1 });
  });

  it(`keeps the newest ${HISTORY_LIMIT} history entries`, () => {
    let project = inState('processing');
    for (let i = 0; i < HISTORY_LIMIT + 10; i++) {
      project = annotate(project, { now: NOW + i, by: 'test', reason: `note ${i}` }).project;
    }
    expect(project.history).to.have.length(HISTORY_LIMIT);
    expect(project.history[0]?.reason).to.equal('note 10');
    expect(project.history.at(-1)?.reason).to.equal(`note ${HISTORY_LIMIT + 9}`);
  });
});
