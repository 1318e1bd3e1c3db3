import { expect } from 'chai';
import { DEFAULT_AGENT_PATTERNS } from '../../../../src/config/agent-patterns.js';
import { compileCatalogue } from '../../../../src/core/rules/agent-activity/catalogue.js';
import {
  NO_ACTIVITY_MEMORY,
  observeAgentActivity,
  readPane,
  type ActivitySettings,
  type AgentActivityMemory,
} from '../../../../src/core/rules/agent-activity/tracker.js';
import { HOUR, MIN } from '../../../helpers/builders.js';

const catalogue = compileCatalogue(DEFAULT_AGENT_PATTERNS);
const settings: ActivitySettings = {
  awaitingInputMaxSec: 4 * 3600,
  rateLimitDefaultHoldSec: 3600,
  defaultTimeZone: 'Europe/Berlin',
};
/** Sunday 19 July 2026, 16:00 in Berlin. */
const NOW = Date.parse('2026-07-19T14:00:00Z');

function observe(memory: AgentActivityMemory | null, screen: string | null, at: number) {
  return observeAgentActivity(memory, screen === null ? null : readPane(screen, catalogue), at, settings);
}

describe('agent activity: tracker', () => {
  it('starts a finding at the first reading that shows a prompt', () => {
    const o = observe(null, 'Bash command\nDo you want to proceed?\n❯ 1. Yes', NOW);
    expect(o.started).to.deep.equal({
      kind: 'awaiting_input',
      agent: 'claude-code',
      line: 'Do you want to proceed?',
      since: NOW,
      resetAt: null,
      resetFrom: null,
    });
    expect(o.memory.finding).to.deep.equal(o.started);
  });

  it('keeps the finding and its start while the same line stays at the bottom', () => {
    const first = observe(null, 'Do you want to proceed?', NOW).memory;
    const later = observe(first, 'Do you want to proceed?', NOW + 30 * MIN);
    expect(later.started).to.equal(null);
    expect(later.memory.finding?.since).to.equal(NOW);
  });

  it('ends the finding when the prompt goes and credits the time it paused the clock', () => {
    const first = observe(null, 'Do you want to proceed?', NOW).memory;
    const after = observe(first, 'Running tests…', NOW + 20 * MIN);
    expect(after.ended?.line).to.equal('Do you want to proceed?');
    expect(after.memory).to.include({ finding: null, pausedMs: 20 * MIN });
  });

  it('credits a prompt at most the longest wait', () => {
    const first = observe(null, 'Do you want to proceed?', NOW).memory;
    expect(observe(first, 'done', NOW + 9 * HOUR).memory.pausedMs).to.equal(4 * HOUR);
  });

  it('changes nothing for a pane not read this cycle', () => {
    const first = observe(null, 'Do you want to proceed?', NOW).memory;
    expect(observe(first, null, NOW + HOUR).memory).to.equal(first);
  });

  it('reads a limit reset once, so a "resets 5pm" still on screen at 6:30pm is not taken for tomorrow', () => {
    const screen =
      "You've hit your session limit · resets 5pm (Europe/Berlin)\n/login to switch to an API usage-billed account.";
    const first = observe(null, screen, NOW).memory;
    const later = observe(first, screen, NOW + 150 * MIN).memory;
    expect(later.finding?.resetAt).to.equal(Date.parse('2026-07-19T15:00:00Z'));
    expect(later.finding?.resetFrom).to.equal('text');
  });

  it('holds for the default and says so when the reset time cannot be read', () => {
    const o = observe(null, "■ You've hit your usage limit. Try again later.", NOW);
    expect(o.started).to.include({ kind: 'rate_limited', agent: 'codex', resetAt: NOW + HOUR, resetFrom: 'default' });
    expect(o.notes).to.have.length(1);
    expect(o.notes[0]).to.contain('default 3600s');
  });

  it('holds for the default when the time zone is unknown', () => {
    const o = observe(null, "You've hit your session limit · resets 5:40pm (Mars/Olympus_Mons)", NOW);
    expect(o.started).to.include({ resetAt: NOW + HOUR, resetFrom: 'default' });
    expect(o.notes[0]).to.contain('unknown time zone');
  });

  it('holds nothing and says so for a reset already past', () => {
    const o = observe(null, "You've hit your usage limit. ... or try again at Dec 29th, 2025 10:15 PM.", NOW);
    expect(o.started?.resetAt).to.be.below(NOW);
    expect(o.notes[0]).to.contain('already passed');
  });

  it('keeps plain data that survives JSON', () => {
    const memory = observe(
      observe(null, 'Do you want to proceed?', NOW).memory,
      "You've hit your limit · resets 11pm",
      NOW + MIN,
    ).memory;
    expect(JSON.parse(JSON.stringify(memory))).to.deep.equal(memory);
    expect(NO_ACTIVITY_MEMORY).to.deep.equal({ finding: null, progress: null, pausedMs: 0 });
  });
});
