/**
 * How often a cron schedule of cycles runs, for people and pages that want to
 * follow it (the status page refreshes at this interval). Only seconds,
 * minutes and hours are read: a schedule restricted to some days is taken as
 * daily, which errs towards a shorter interval.
 */
import cron from 'node-cron';

const DAY_SEC = 86_400;
const known = new Map<string, number | null>();

/**
 * The longest gap, in seconds, between two consecutive runs of `schedule`
 * over a day (`*\/15 * * * * *` → 15, `0 *\/5 * * * *` → 300, `0 0 * * * *` →
 * 3600); null when it does not parse. Results are cached: the schedule of a
 * running agent does not change.
 */
export function scheduleIntervalSec(schedule: string): number | null {
  if (known.has(schedule)) return known.get(schedule) ?? null;
  let interval: number | null = null;
  try {
    const f = cron.parse(schedule);
    const runs: number[] = [];
    for (const h of f.hour) for (const m of f.minute) for (const s of f.second) runs.push(h * 3600 + m * 60 + s);
    runs.sort((a, b) => a - b);
    if (runs.length > 0) {
      // The gap across midnight, from the last run of a day to the first of the next.
      interval = (runs[0] as number) + DAY_SEC - (runs[runs.length - 1] as number);
      for (let i = 1; i < runs.length; i++) {
        interval = Math.max(interval, (runs[i] as number) - (runs[i - 1] as number));
      }
    }
  } catch {
    interval = null;
  }
  known.set(schedule, interval);
  return interval;
}
