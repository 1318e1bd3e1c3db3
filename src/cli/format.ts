/** Plain-text tables for human output: padded columns, no colours, no borders. */
import type { StaleMarkerNotice } from '../core/model/plan.js';
import type { Project } from '../core/model/project.js';

export { duration, relative } from '../core/views/wording.js';

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Stale markers (older than their project's attempt, so ignored) as a table, or null when there are none. */
export function staleMarkerTable(
  notices: readonly Pick<StaleMarkerNotice, 'project' | 'startedAt' | 'markers'>[],
): string | null {
  const rows = notices.flatMap((n) => n.markers.map((m) => [n.project, m.file, m.modifiedAt, n.startedAt ?? '-']));
  if (rows.length === 0) return null;
  const listed = table(['PROJECT', 'MARKER', 'MODIFIED', 'ATTEMPT STARTED'], rows);
  return `stale markers (older than the attempt, never evidence):\n${listed}`;
}

/** "exit_status 3": a failure reason with the exit status it carries. */
export function reasonText(p: Pick<Project, 'failureReason' | 'exitStatus'>): string {
  if (p.failureReason === null) return '';
  return p.failureReason === 'exit_status' && p.exitStatus !== null ? `exit_status ${p.exitStatus}` : p.failureReason;
}

/** How the failed commands ended: each one's exit status and last output lines, or null when none is recorded. */
export function exitReport(projects: readonly Project[]): string | null {
  const failed = projects.filter((p) => p.state === 'failed' && p.exitStatus !== null);
  if (failed.length === 0) return null;
  return failed
    .map((p) => {
      const head = `${p.id}: its command exited with status ${p.exitStatus}`;
      const lines = p.lastOutput ?? [];
      return lines.length === 0
        ? `${head}; no output read`
        : `${head}; last output:\n${lines.map((l) => `  | ${l}`).join('\n')}`;
    })
    .join('\n');
}
