/**
 * Which projects get per-project series, and the values of those series.
 * Pure: the registry, the cycle's usage and the cap in, plain rows out.
 *
 * Only non-terminal projects get series (docs/design.md#metrics), so the series count
 * never grows with history. Under the cap, active projects (processing,
 * timing_out, zombie) come before queued ones — they are the ones an operator
 * looks at, and there are few of them — then the oldest enqueued first.
 */
import { isActive, isTerminal, ms, type Project, type ProjectState } from '../core/project.js';

export interface ProjectSeries {
  project: string;
  session: string;
  state: ProjectState;
  /** Unix seconds; null when unknown or the project is only queued (a queued project has no current attempt). */
  startedSec: number | null;
  heartbeatSec: number | null;
  cpuRatio: number | null;
  rssBytes: number | null;
}

export interface ProjectSeriesSelection {
  series: ProjectSeries[];
  /** Non-terminal projects left out by the cap. */
  dropped: number;
}

export type UsageByProject = Readonly<Record<string, { cpuRatio: number; rssBytes: number }>>;

function seconds(iso: string | null): number | null {
  const t = ms(iso);
  return t === null ? null : t / 1000;
}

function finite(n: number | undefined): number | null {
  return n !== undefined && Number.isFinite(n) ? n : null;
}

/** Active before queued, then oldest enqueued, then id (a stable order between cycles). */
function compare(a: Project, b: Project): number {
  const activeA = isActive(a.state) ? 0 : 1;
  const activeB = isActive(b.state) ? 0 : 1;
  if (activeA !== activeB) return activeA - activeB;
  const enqA = ms(a.enqueuedAt) ?? Number.POSITIVE_INFINITY;
  const enqB = ms(b.enqueuedAt) ?? Number.POSITIVE_INFINITY;
  if (enqA !== enqB) return enqA < enqB ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function selectProjectSeries(projects: readonly Project[], usage: UsageByProject, limit: number): ProjectSeriesSelection {
  const candidates = projects.filter((p) => !isTerminal(p.state));
  const cap = Math.max(0, Math.floor(limit));
  const kept = candidates.length > cap ? [...candidates].sort(compare).slice(0, cap) : [...candidates].sort(compare);
  const series = kept.map((p): ProjectSeries => {
    const active = isActive(p.state);
    const u = active ? usage[p.id] : undefined;
    return {
      project: p.id,
      session: p.session ?? '',
      state: p.state,
      startedSec: active ? seconds(p.startedAt) : null,
      heartbeatSec: active ? seconds(p.heartbeatAt) : null,
      cpuRatio: finite(u?.cpuRatio),
      rssBytes: finite(u?.rssBytes),
    };
  });
  return { series, dropped: candidates.length - kept.length };
}
