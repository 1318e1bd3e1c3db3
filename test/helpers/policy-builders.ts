/**
 * Fixture builders for the self-healing policy tests (backoff, breakers,
 * retries, launcher, queue health). Times are given as epoch ms offsets from
 * T0 so a test reads as "failed at +10 s".
 */
import type { RandomSource } from '../../src/core/policy/backoff.js';
import { newProject, type BreakerRecord, type HistoryEntry, type Project } from '../../src/core/model/project.js';
import { emptyQueueBreaker, type QueueBreakerRecord } from '../../src/core/model/registry-document.js';
import { at, HOUR, MIN } from './builders.js';

// The clock and the config are the detection builders' own, so both kinds of test share one T0.
export { aConfig, at, HOUR, MIN, SEC, T0 } from './builders.js';

/** A queued project enqueued at T0 unless told otherwise. */
export function aQueuedProject(id: string, fields: Partial<Project> = {}): Project {
  return newProject({ id, enqueuedAt: at(0), ...fields });
}

/** A failed project: one attempt that ended at `endedAt` (default T0). */
export function aFailedProject(id: string, fields: Partial<Project> = {}): Project {
  const endedAt = fields.endedAt ?? at(0);
  return newProject({
    id,
    enqueuedAt: at(-HOUR),
    state: 'failed',
    attempts: 1,
    startedAt: at(-30 * MIN),
    endedAt,
    failureReason: 'phantom',
    history: [finish('failed', endedAt)],
    ...fields,
  });
}

export function aProcessingProject(id: string, fields: Partial<Project> = {}): Project {
  return newProject({ id, enqueuedAt: at(-HOUR), state: 'processing', attempts: 1, startedAt: at(-MIN), ...fields });
}

/** A history entry finishing an attempt at `when` (an ISO string). */
export function finish(to: 'failed' | 'completed', when: string): HistoryEntry {
  return { at: when, from: 'processing', to, reason: to === 'failed' ? 'phantom' : 'completion', by: 'agent@test' };
}

/** A project whose history holds the given finished attempts, in order; its state is the last one's. */
export function aProjectWithFinishes(id: string, finishes: Array<['failed' | 'completed', number]>): Project {
  const history = finishes.map(([to, offset]) => finish(to, at(offset)));
  const last = finishes[finishes.length - 1];
  return newProject({
    id,
    enqueuedAt: at(-HOUR),
    state: last ? last[0] : 'queued',
    attempts: finishes.length,
    endedAt: last ? at(last[1]) : null,
    history,
  });
}

export function anOpenBreaker(openedAtOffsetMs: number, opens = 1, consecutiveFailures = 3): BreakerRecord {
  return { state: 'open', consecutiveFailures, openedAt: at(openedAtOffsetMs), opens };
}

export function aRunningQueue(fields: Partial<QueueBreakerRecord> = {}): QueueBreakerRecord {
  return { ...emptyQueueBreaker(), ...fields };
}

export function aPausedQueue(pausedAtOffsetMs: number, cooldownMs: number): QueueBreakerRecord {
  return {
    paused: true,
    pausedAt: at(pausedAtOffsetMs),
    resumeAt: at(pausedAtOffsetMs + cooldownMs),
    opens: 1,
    trippedBy: ['x'],
    pausedBy: 'breaker',
  };
}

/** A source that returns the given values in turn, then repeats the last. */
export function sequence(...values: number[]): RandomSource {
  let i = 0;
  return () => {
    const v = values[Math.min(i, values.length - 1)] ?? 0;
    i += 1;
    return v;
  };
}

/** A source that is always `value`. */
export function constant(value: number): RandomSource {
  return () => value;
}
