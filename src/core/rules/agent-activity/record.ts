/**
 * The tracker's memory as the registry keeps it on the project
 * (`agentActivity`): the same data with ISO-8601 times, like every other time
 * in the registry. A restarted daemon reads it back, so "resets 5pm" stays
 * read against the time the line was first seen, not against the restart.
 */
import { iso, ms, type AgentActivityRecord } from '../../model/project.js';
import { NO_ACTIVITY_MEMORY, type AgentActivityMemory } from './tracker.js';

/** The memory a record holds (an empty one for null; an unreadable time drops its part). */
export function memoryOf(record: AgentActivityRecord | null | undefined): AgentActivityMemory {
  if (record === null || record === undefined) return NO_ACTIVITY_MEMORY;
  const f = record.finding;
  const since = ms(f?.since);
  const finding =
    f === null || since === null
      ? null
      : { kind: f.kind, agent: f.agent, line: f.line, since, resetAt: ms(f.resetAt), resetFrom: f.resetFrom };
  const progressSince = ms(record.progress?.since);
  const p = record.progress;
  const progress = p === null || progressSince === null ? null : { signature: p.signature, since: progressSince };
  return { finding, progress, pausedMs: record.pausedMs };
}

/** The record of a memory; null for an empty one (nothing seen this attempt). */
export function recordOf(memory: AgentActivityMemory): AgentActivityRecord | null {
  const { finding: f, progress: p, pausedMs } = memory;
  if (f === null && p === null && pausedMs === 0) return null;
  return {
    finding:
      f === null
        ? null
        : {
            kind: f.kind,
            agent: f.agent,
            line: f.line,
            since: iso(f.since),
            resetAt: f.resetAt === null ? null : iso(f.resetAt),
            resetFrom: f.resetFrom,
          },
    progress: p === null ? null : { signature: p.signature, since: iso(p.since) },
    pausedMs,
  };
}
