/** Small wording rules shared by every message people read (CLI, logs, audit details). */

/** "1 project", "2 projects", "1 process", "3 processes": a count with its noun in the right number. */
export function countOf(n: number, noun: string, plural = noun.endsWith('s') ? `${noun}es` : `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}

/**
 * "3m 20s ago", "in 1h 5m": relative times for humans. A time still ahead is never "ago": it counts up to the next
 * whole second ("in 1s" for 300 ms), so a retry due in a moment does not read as one that is late.
 */
export function relative(isoTime: string | null, now: number): string {
  if (isoTime === null) return '-';
  const t = Date.parse(isoTime);
  if (Number.isNaN(t)) return isoTime;
  if (t > now) return `in ${duration(Math.ceil((t - now) / 1000))}`;
  return `${duration(Math.round((now - t) / 1000))} ago`;
}

/** "45s", "3m 20s", "2h 5m", "1d 3h": a length of time for humans, in two units at most. */
export function duration(totalSec: number): string {
  const s = Math.floor(totalSec);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}
