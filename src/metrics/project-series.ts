/**
 * Which projects get per-project series, and the values of those series.
 * Pure: the registry, the cycle's usage and the cap in, plain rows out.
 *
 * Only non-terminal projects get series (docs/design.md#metrics), so the series count
 * never grows with history. Under the cap, active projects (processing,
 * timing_out, zombie) come before queued ones — they are the ones an operator
 * looks at, and there are few of them — then the oldest enqueued first.
 */
import { reasonOf } from '../core/rules/agent-activity/pane-text.js';
import type { Detection } from '../core/model/plan.js';
import { isActive, isTerminal, ms, type Project, type ProjectState } from '../core/model/project.js';

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

export function selectProjectSeries(
  projects: readonly Project[],
  usage: UsageByProject,
  limit: number,
): ProjectSeriesSelection {
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

/** Longest pane line in a label value, in code points: a screen line, never a whole capture. */
export const WAITING_LINE_LABEL_CHARS = 120;

/** One project whose agent waits on a human or a usage limit, as a series (see waitingSeries). */
export interface WaitingSeries {
  project: string;
  session: string;
  kind: 'awaiting_input' | 'rate_limited';
  agent: string;
  /** The matched pane line: cleaned (no escapes, no control characters), at most WAITING_LINE_LABEL_CHARS. */
  line: string;
  sinceSec: number;
}

/**
 * The projects among `selection` whose agent waits on a prompt or a usage
 * limit this cycle, with the line it shows: the series an alert pages with.
 * Bounded like the other per-project series: only projects that have those
 * (the capped selection), one series each, the line cleaned and capped.
 */
export function waitingSeries(selection: readonly ProjectSeries[], detections: readonly Detection[]): WaitingSeries[] {
  const selected = new Map(selection.map((s) => [s.project, s]));
  const out: WaitingSeries[] = [];
  for (const d of detections) {
    if ((d.kind !== 'awaiting_input' && d.kind !== 'rate_limited') || d.project === null) continue;
    const s = selected.get(d.project);
    const since = ms(d.since);
    if (s === undefined || since === null || out.some((w) => w.project === d.project)) continue;
    const line = reasonOf(d.reason, WAITING_LINE_LABEL_CHARS);
    const agent = d.agent ?? 'unknown';
    out.push({ project: d.project, session: s.session, kind: d.kind, agent, line, sinceSec: since / 1000 });
  }
  return out;
}
