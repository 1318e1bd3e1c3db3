import { expect } from 'chai';
import { DEFAULT_AGENT_PATTERNS } from '../../../../src/config/agent-patterns.js';
import { compileCatalogue } from '../../../../src/core/rules/agent-activity/catalogue.js';
import {
  hostLaunchHolds,
  limitedFailure,
  needsCapture,
  observeActivity,
  readSession,
  type ObserveSettings,
  type PaneReadState,
} from '../../../../src/core/rules/agent-activity/observe.js';
import { memoryOf, recordOf } from '../../../../src/core/rules/agent-activity/record.js';
import type { PaneReading } from '../../../../src/core/rules/agent-activity/tracker.js';
import type { Project } from '../../../../src/core/model/project.js';
import type { Snapshot } from '../../../../src/core/model/snapshot.js';
import { HOUR, MIN, SEC, T0, aPane, aProject, aServer, aSnapshot, at } from '../../../helpers/builders.js';

const catalogue = compileCatalogue(DEFAULT_AGENT_PATTERNS);
const settings: ObserveSettings = {
  awaitingInputMaxSec: 14_400,
  rateLimitDefaultHoldSec: 3600,
  noProgressSec: 1800,
  defaultTimeZone: 'UTC',
};
const PROMPT = 'Bash command\n  rm -rf build\nDo you want to proceed?\n❯ 1. Yes\n  2. No';
const LIMIT = "You've hit your session limit · resets 11am (UTC)";

function snapshotWith(activityAt: number | null): Snapshot {
  return aSnapshot({ panes: [aPane({ windowActivityAt: activityAt })] });
}

function state(fields: Partial<PaneReadState> = {}): PaneReadState {
  return {
    attempt: at(0),
    memory: { finding: null, progress: null, pausedMs: 0 },
    readAt: T0,
    windowActivityAt: T0,
    ...fields,
  };
}

function observe(
  project: Project,
  reading: PaneReading | null,
  now: number,
  states: Map<string, PaneReadState> | null = null,
  snapshot = snapshotWith(T0),
) {
  return observeActivity({
    projects: [project],
    snapshot,
    readings: new Map(reading === null ? [] : [[project.id, reading]]),
    states,
    now,
    settings,
    isLocal: () => true,
  });
}

describe('agent activity: which panes a cycle captures', () => {
  it('captures a project seen for the first time in this attempt', () => {
    expect(needsCapture(aProject(), snapshotWith(T0), undefined, false)).to.equal(true);
  });

  it('does not capture again while the window activity has not moved', () => {
    const last = state({ readAt: T0 + 5 * SEC, windowActivityAt: T0 });
    expect(needsCapture(aProject(), snapshotWith(T0), last, false)).to.equal(false);
  });

  it('captures again once the window activity moved', () => {
    const last = state({ readAt: T0 + 5 * SEC, windowActivityAt: T0 });
    expect(needsCapture(aProject(), snapshotWith(T0 + 9 * SEC), last, false)).to.equal(true);
  });

  it('captures once more when output may have come in the same second as the last read', () => {
    const last = state({ readAt: T0 + 400, windowActivityAt: T0 });
    expect(needsCapture(aProject(), snapshotWith(T0), last, false)).to.equal(true);
  });

  it('captures on the full sync, and for a new attempt', () => {
    const last = state({ readAt: T0 + 5 * SEC, windowActivityAt: T0 });
    expect(needsCapture(aProject(), snapshotWith(T0), last, true)).to.equal(true);
    expect(needsCapture(aProject({ startedAt: at(MIN) }), snapshotWith(T0), last, false)).to.equal(true);
  });

  it('captures nothing of a session that is missing, on a server that could not be read, or of a queued project', () => {
    expect(needsCapture(aProject({ session: 'other' }), snapshotWith(T0), undefined, false)).to.equal(false);
    expect(needsCapture(aProject(), aSnapshot({ servers: [aServer({ ok: false })] }), undefined, false)).to.equal(
      false,
    );
    expect(needsCapture(aProject({ state: 'queued' }), snapshotWith(T0), undefined, false)).to.equal(false);
  });
});

describe('agent activity: one cycle over the registry', () => {
  it('reads a prompt in any pane of the session, the first pane with a match naming it', () => {
    const reading = readSession(['$ make\nok', PROMPT], catalogue);
    expect(reading.match).to.include({ kind: 'awaiting_input', agent: 'claude-code', line: 'Do you want to proceed?' });
    expect(reading.signature.split(',')).to.have.length(2);
  });

  it('starts a finding from a prompt and keeps it on the project', () => {
    const o = observe(aProject(), readSession([PROMPT], catalogue), T0 + MIN);
    expect(o.events[0]?.started).to.include({ kind: 'awaiting_input', since: T0 + MIN });
    expect(o.updates).to.have.length(1);
    const record = o.updates[0]?.patch.agentActivity;
    expect(record?.finding).to.deep.include({
      kind: 'awaiting_input',
      since: at(MIN),
      line: 'Do you want to proceed?',
    });
    expect(memoryOf(record)).to.deep.equal(o.memories.get('p1'));
  });

  it('keeps the memory of a project whose panes were not read, and writes nothing', () => {
    const first = observe(aProject(), readSession([PROMPT], catalogue), T0 + MIN);
    const project = aProject({ agentActivity: first.updates[0]?.patch.agentActivity ?? null });
    const later = observe(project, null, T0 + HOUR);
    expect(later.memories.get('p1')).to.deep.equal(first.memories.get('p1'));
    expect(later.updates).to.deep.equal([]);
  });

  it("reads a limit's reset against the time it was first seen, also after a restart", () => {
    const first = observe(aProject(), readSession([LIMIT], catalogue), T0 + 30 * MIN);
    const restarted = aProject({ agentActivity: first.updates[0]?.patch.agentActivity ?? null });
    // 12:30, the line still on screen: read afresh, "11am" would be tomorrow's; the kept memory says it is over.
    const again = observe(restarted, readSession([LIMIT], catalogue), T0 + 150 * MIN, null);
    expect(again.memories.get('p1')?.finding).to.include({ since: T0 + 30 * MIN, resetAt: T0 + HOUR });
    expect(again.events).to.deep.equal([]);
    expect(hostLaunchHolds([restarted], T0 + 150 * MIN, 'host', () => true, again.memories).host).to.equal(null);
  });

  it("writes a moving pane's progress only once it holds still for a tenth of the no-progress limit", () => {
    const states = new Map<string, PaneReadState>();
    let project = aProject();
    const writes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const o = observe(project, readSession([`step ${i}`], catalogue), T0 + i * 15 * SEC, states);
      if (o.updates.length > 0) writes.push(i);
      for (const [id, s] of o.states) states.set(id, s);
    }
    expect(writes, 'a pane that changes every cycle').to.deep.equal([]);
    for (let i = 10; i < 30; i++) {
      const o = observe(project, readSession(['step 9'], catalogue), T0 + i * 15 * SEC, states);
      if (o.updates.length > 0) {
        writes.push(i);
        project = aProject({ agentActivity: o.updates[0]?.patch.agentActivity ?? null });
      }
      for (const [id, s] of o.states) states.set(id, s);
    }
    // still since cycle 9 (T0 + 135 s); written at the first cycle 180 s later.
    expect(writes).to.deep.equal([21]);
  });

  it('takes a Tmux-Orchestrator row in credit_paused for a usage limit with the default hold', () => {
    const project = aProject({
      source: { kind: 'tmux-orchestrator', name: 'to', ref: '7', status: 'credit_paused', heal: false },
    });
    const o = observe(project, null, T0);
    expect(o.memories.get('p1')?.finding).to.include({
      kind: 'rate_limited',
      agent: 'tmux-orchestrator',
      resetAt: T0 + HOUR,
      resetFrom: 'default',
    });
    expect(o.memories.get('p1')?.progress).to.equal(null);
  });

  it('holds a credit pause again after the default hold while the row stays credit_paused, and ends it when the row moves on', () => {
    const source = { kind: 'tmux-orchestrator' as const, name: 'to', ref: '7', status: 'credit_paused', heal: false };
    const first = observe(aProject({ source }), null, T0);
    const paused = aProject({ source, agentActivity: first.updates[0]?.patch.agentActivity ?? null });
    const renewed = observe(paused, null, T0 + HOUR + SEC);
    expect(renewed.memories.get('p1')?.finding).to.include({ since: T0 + HOUR + SEC, resetAt: T0 + 2 * HOUR + SEC });
    expect(renewed.memories.get('p1')?.pausedMs).to.equal(HOUR);
    const resumed = observe(
      aProject({ source: { ...source, status: 'processing' }, agentActivity: paused.agentActivity }),
      null,
      T0 + 10 * MIN,
    );
    expect(resumed.memories.get('p1')?.finding).to.equal(null);
    expect(resumed.memories.get('p1')?.pausedMs).to.equal(10 * MIN);
  });

  it('holds launches after the limited project failed, until the reset', () => {
    const first = observe(aProject(), readSession([LIMIT], catalogue), T0);
    const failed = aProject({
      id: 'p1',
      state: 'failed',
      agentActivity: first.updates[0]?.patch.agentActivity ?? null,
    });
    const holds = hostLaunchHolds([failed], T0 + 10 * MIN, 'host', () => true);
    expect(holds.host).to.include({ project: 'p1', until: T0 + HOUR });
    expect(limitedFailure(failed, T0 + 10 * MIN)).to.equal(true);
    expect(limitedFailure(failed, T0 + HOUR)).to.equal(false);
    expect(hostLaunchHolds([failed], T0 + HOUR, 'host', () => true).host).to.equal(null);
  });

  it('gives an empty memory no record, and a record back the same memory', () => {
    expect(recordOf({ finding: null, progress: null, pausedMs: 0 })).to.equal(null);
    const memory = { finding: null, progress: { signature: 'ab:1', since: T0 }, pausedMs: 5 };
    expect(memoryOf(recordOf(memory))).to.deep.equal(memory);
  });
});
