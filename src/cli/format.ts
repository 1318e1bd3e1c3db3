/** Plain-text tables for human output: padded columns, no colours, no borders. */

export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** "3m 20s ago", "in 1h 5m": relative times for humans. */
export function relative(isoTime: string | null, now: number): string {
  if (isoTime === null) return '-';
  const t = Date.parse(isoTime);
  if (Number.isNaN(t)) return isoTime;
  const delta = Math.round((t - now) / 1000);
  const text = duration(Math.abs(delta));
  return delta <= 0 ? `${text} ago` : `in ${text}`;
}

export function duration(totalSec: number): string {
  const s = Math.floor(totalSec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}
