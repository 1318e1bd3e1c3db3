import { expect } from 'chai';
import {
  activityFinding,
  launchHolds,
  mayLaunch,
  timeoutClock,
  type HoldSettings,
} from '../../../../src/core/rules/agent-activity/hold.js';
import type { AgentActivityMemory, TrackedFinding } from '../../../../src/core/rules/agent-activity/tracker.js';
import { HOUR, MIN, SEC, T0 } from '../../../helpers/builders.js';

const settings: HoldSettings = { awaitingInputMaxSec: 4 * 3600, noProgressSec: 1800, rateLimitScope: 'host' };

function prompt(since = T0): TrackedFinding {
  return {
    kind: 'awaiting_input',
    agent: 'claude-code',
    line: 'Do you want to proceed?',
    since,
    resetAt: null,
    resetFrom: null,
  };
}
function limit(resetAt: number, since = T0): TrackedFinding {
  return {
    kind: 'rate_limited',
    agent: 'claude-code',
    line: "You've hit your limit · resets 5pm",
    since,
    resetAt,
    resetFrom: 'text',
  };
}
function memory(finding: TrackedFinding | null, fields: Partial<AgentActivityMemory> = {}): AgentActivityMemory {
  return { finding, progress: { signature: 's', since: T0 }, pausedMs: 0, ...fields };
}

describe('agent activity: holds', () => {
  it('pauses the timeout clock of a prompt until the longest wait', () => {
    expect(timeoutClock(memory(prompt()), T0 + HOUR, settings)).to.deep.equal({
      paused: true,
      until: T0 + 4 * HOUR,
      pausedMs: HOUR,
    });
    expect(timeoutClock(memory(prompt()), T0 + 5 * HOUR, settings)).to.deep.equal({
      paused: false,
      until: null,
      pausedMs: 4 * HOUR,
    });
  });

  it('still reports a prompt past the longest wait, with the clock running', () => {
    expect(activityFinding(memory(prompt()), null, T0 + 5 * HOUR, settings)).to.include({
      kind: 'awaiting_input',
      clockPaused: false,
    });
  });

  it('pauses the clock of a limited project until the reset, then reports it no more', () => {
    const m = memory(limit(T0 + 2 * HOUR), { progress: { signature: 's', since: T0 + 2 * HOUR } });
    expect(activityFinding(m, null, T0 + HOUR, settings)).to.include({
      kind: 'rate_limited',
      until: T0 + 2 * HOUR,
      clockPaused: true,
    });
    expect(timeoutClock(m, T0 + HOUR, settings).paused).to.equal(true);
    expect(activityFinding(m, null, T0 + 2 * HOUR, settings)).to.equal(null);
  });

  it('adds the pauses of ended findings to the current one', () => {
    expect(timeoutClock(memory(prompt(T0 + HOUR), { pausedMs: 10 * MIN }), T0 + 2 * HOUR, settings).pausedMs).to.equal(
      70 * MIN,
    );
  });

  it('holds every launch on the host until the latest reset, and releases them at it', () => {
    const holds = launchHolds(
      [
        { id: 'a', memory: memory(limit(T0 + HOUR)) },
        { id: 'b', memory: memory(limit(T0 + 3 * HOUR)) },
        { id: 'c', memory: memory(prompt()) },
      ],
      T0 + MIN,
      'host',
    );
    expect(holds.host).to.include({ until: T0 + 3 * HOUR, project: 'b', scope: 'host' });
    expect(mayLaunch('q', holds, T0 + 3 * HOUR - SEC)).to.equal(false);
    expect(mayLaunch('q', holds, T0 + 3 * HOUR)).to.equal(true);
  });

  it('holds only the limited project itself with the project scope', () => {
    const holds = launchHolds([{ id: 'a', memory: memory(limit(T0 + HOUR)) }], T0, 'project');
    expect(holds.host).to.equal(null);
    expect(mayLaunch('a', holds, T0 + MIN)).to.equal(false);
    expect(mayLaunch('b', holds, T0 + MIN)).to.equal(true);
  });

  it('holds nothing for a limit whose reset has passed', () => {
    expect(launchHolds([{ id: 'a', memory: memory(limit(T0 - MIN)) }], T0, 'host').host).to.equal(null);
  });

  it('reports no progress only when no prompt or limit explains the quiet pane', () => {
    const quiet = T0 + 31 * MIN;
    expect(activityFinding(memory(null), T0, quiet, settings)).to.deep.equal({ kind: 'no_progress', since: T0 });
    expect(activityFinding(memory(prompt()), T0, quiet, settings)).to.include({ kind: 'awaiting_input' });
    expect(activityFinding(memory(null), T0 + 10 * MIN, quiet, settings)).to.equal(null);
  });
});
