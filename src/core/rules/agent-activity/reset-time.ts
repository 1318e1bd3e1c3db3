/**
 * When a usage limit ends, read from the agent's own words. The forms are the
 * ones the catalogue's texts print:
 *
 * - a clock time with am/pm, maybe minutes, maybe a zone: "resets 5:40pm
 *   (Europe/Berlin)", "resets 5pm", "reset at 9am (America/Chicago)", "try
 *   again at 3:28 PM.", "Access resets at 10:57 PM GMT-3.";
 * - a date before it, maybe with a year: "resets Oct 31, 9am", "resets Oct 24",
 *   "try again at Jul 5th, 2026 8:19 PM.";
 * - a duration: "try again in 5 days 22 hours 11 minutes", "reset after
 *   2h52m39s";
 * - epoch seconds: "Claude AI usage limit reached|1762952400".
 *
 * A 24-hour "18:44" is read too, though no catalogue text prints one. Zones
 * are IANA names in parentheses (resolved with the built-in Intl data),
 * GMT/UTC offsets, or a US abbreviation (PST, EDT...); without one the time is
 * in `defaultTimeZone` (the agents' zone, normally the host's). An unknown
 * zone or text with no readable time gives null: the caller applies its
 * default hold and logs.
 *
 * Rules against `reference` (when the text was first seen):
 * - a clock time without a date is today's in its zone; if that passed more
 *   than `justPassedMs` (1 h) ago it is tomorrow's ("resets 2am" seen at
 *   11pm), else it has just passed and is returned as it is;
 * - a date without a year is this year's, or next year's when it is more than
 *   a day behind ("Jan 2" seen on Dec 30); a date without a time starts at
 *   midnight;
 * - a wall time that a DST change skips resolves an hour later; one it repeats
 *   resolves to the later of the two;
 * - any result more than 400 days from `reference` is not believed (null).
 *
 * A returned time may lie before `reference` (an absolute time already past):
 * the limit is over and nothing is held.
 */

export interface ResetTimeOptions {
  /** IANA zone of a time printed without one. */
  defaultTimeZone: string;
  /** How long ago a dateless clock time may have passed and still be today's (default 1 h). */
  justPassedMs?: number;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MAX_DISTANCE = 400 * DAY;
const JUST_PASSED = HOUR;

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
/** US abbreviations as US English clocks print them, in minutes east of UTC. */
const ABBREVIATIONS: Record<string, number> = {
  UTC: 0,
  GMT: 0,
  EST: -300,
  EDT: -240,
  CST: -360,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
  AKST: -540,
  AKDT: -480,
  HST: -600,
};

type Zone = { offsetMinutes: number } | { iana: string };

const EPOCH = /limit reached\|(\d{9,11})(?!\d)/i;
const UNIT = '(ms|days?|d|hours?|hrs?|h|minutes?|mins?|m|seconds?|secs?|s)(?![a-z])';
const DURATION = new RegExp(
  `\\b(?:try again|resets?)\\s+(?:in|after)\\s+((?:\\d+(?:\\.\\d+)?\\s*${UNIT}[\\s,]*(?:and\\s+)?)+)`,
  'i',
);
const DURATION_PART = new RegExp(`(\\d+(?:\\.\\d+)?)\\s*${UNIT}`, 'gi');
const KEYWORD = /\b(?:resets?|try again)\s+(?:(?:at|on)\s+)?/gi;
const WHEN = new RegExp(
  [
    '(?:(?<mon>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\\.?\\s+',
    '(?<day>\\d{1,2})(?:st|nd|rd|th)?(?![\\d:])',
    '(?:,?\\s+(?<year>\\d{4})(?![\\d:]))?(?:,?\\s+(?:at\\s+)?)?)?',
    '(?:(?<h>\\d{1,2})(?::(?<mi>\\d{2}))?\\s*(?<ap>[ap])\\.?m\\.?(?![a-z])',
    '|(?<h24>\\d{1,2}):(?<mi24>\\d{2})(?![\\d:]))?',
  ].join(''),
  'iy',
);
// Case-sensitive: an abbreviation is capitals, the next word of a sentence is not.
const ZONE =
  /^\s*(?:\((?<paren>[^()\s]{1,64})\)|(?<bare>(?:GMT|UTC)(?:[+-]\d{1,2}(?::?\d{2})?)?|[A-Z]{2,5})(?![A-Za-z]))/;
const OFFSET = /^(?:GMT|UTC)(?:(?<sign>[+-])(?<hh>\d{1,2})(?::?(?<mm>\d{2}))?)?$/;

/** Epoch milliseconds of the reset the text names, or null when it names none this parser can trust. */
export function parseResetTime(text: string, reference: number, options: ResetTimeOptions): number | null {
  const result = epochOf(text) ?? durationOf(text, reference) ?? clockOf(text, reference, options);
  if (result === null || !Number.isFinite(result) || Math.abs(result - reference) > MAX_DISTANCE) return null;
  return result;
}

/** Whether the built-in Intl data knows `zone` (an IANA name such as Europe/Berlin). */
export function isKnownTimeZone(zone: string): boolean {
  return formatterOf(zone) !== null;
}

function epochOf(text: string): number | null {
  const m = EPOCH.exec(text);
  return m ? Number(m[1]) * 1000 : null;
}

function durationOf(text: string, reference: number): number | null {
  const m = DURATION.exec(text);
  if (!m) return null;
  let total = 0;
  for (const part of (m[1] ?? '').matchAll(DURATION_PART)) {
    total += Number(part[1]) * unitMs((part[2] ?? '').toLowerCase());
  }
  return reference + total;
}

function unitMs(unit: string): number {
  if (unit === 'ms') return 1;
  if (unit.startsWith('d')) return DAY;
  if (unit.startsWith('h')) return HOUR;
  if (unit.startsWith('m')) return MINUTE;
  return 1000;
}

function clockOf(text: string, reference: number, options: ResetTimeOptions): number | null {
  for (const keyword of text.matchAll(KEYWORD)) {
    WHEN.lastIndex = (keyword.index ?? 0) + keyword[0].length;
    const g = WHEN.exec(text)?.groups;
    if (!g || (g['mon'] === undefined && g['h'] === undefined && g['h24'] === undefined)) continue;
    const time = clockTime(g);
    if (time === null) return null;
    const zoneText = ZONE.exec(text.slice(WHEN.lastIndex))?.groups;
    const zone = zoneOf(zoneText?.['paren'] ?? zoneText?.['bare'] ?? null, options.defaultTimeZone);
    if (zone === null) return null;
    const { hour, minute } = time;
    if (g['mon'] === undefined) return dailyTime(hour, minute, zone, reference, options.justPassedMs ?? JUST_PASSED);
    const month = MONTHS.indexOf(g['mon'].toLowerCase());
    const day = Number(g['day']);
    const printedYear = g['year'] === undefined ? null : Number(g['year']);
    const year = printedYear ?? wallFields(reference, zone).year;
    // Feb 29 without a year exists when next year's does.
    if (!isDate(year, month, day) && (printedYear !== null || !isDate(year + 1, month, day))) return null;
    if (printedYear !== null) return wallTime(year, month, day, hour, minute, zone);
    const thisYear = isDate(year, month, day) ? wallTime(year, month, day, hour, minute, zone) : -Infinity;
    return thisYear >= reference - DAY ? thisYear : wallTime(year + 1, month, day, hour, minute, zone);
  }
  return null;
}

function clockTime(g: Record<string, string | undefined>): { hour: number; minute: number } | null {
  if (g['h'] !== undefined) {
    const h = Number(g['h']);
    const minute = Number(g['mi'] ?? 0);
    if (h < 1 || h > 12 || minute > 59) return null;
    return { hour: (h % 12) + (g['ap']?.toLowerCase() === 'p' ? 12 : 0), minute };
  }
  if (g['h24'] !== undefined) {
    const hour = Number(g['h24']);
    const minute = Number(g['mi24']);
    return hour > 23 || minute > 59 ? null : { hour, minute };
  }
  return { hour: 0, minute: 0 }; // a date alone: its start
}

/** Today's occurrence of a clock time in `zone`, or tomorrow's when today's passed more than `justPassedMs` ago. */
function dailyTime(hour: number, minute: number, zone: Zone, reference: number, justPassedMs: number): number {
  const today = wallFields(reference, zone);
  const candidate = wallTime(today.year, today.month, today.day, hour, minute, zone);
  if (candidate >= reference - justPassedMs) return candidate;
  return wallTime(today.year, today.month, today.day + 1, hour, minute, zone);
}

function zoneOf(name: string | null, fallback: string): Zone | null {
  if (name === null) return formatterOf(fallback) ? { iana: fallback } : null;
  const offset = OFFSET.exec(name)?.groups;
  if (offset) {
    const minutes = Number(offset['hh'] ?? 0) * 60 + Number(offset['mm'] ?? 0);
    return minutes > 14 * 60 ? null : { offsetMinutes: offset['sign'] === '-' ? -minutes : minutes };
  }
  const abbreviation = ABBREVIATIONS[name];
  if (abbreviation !== undefined) return { offsetMinutes: abbreviation };
  return formatterOf(name) ? { iana: name } : null;
}

const formatters = new Map<string, Intl.DateTimeFormat | null>();

/** One formatter per zone (memoised; null for a zone Intl does not know). */
function formatterOf(zone: string): Intl.DateTimeFormat | null {
  if (!formatters.has(zone)) {
    let formatter: Intl.DateTimeFormat | null;
    try {
      formatter = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      formatter = null; // RangeError: not a zone Intl knows
    }
    if (formatters.size > 1000) formatters.clear(); // zone names come from panes: bound the memo
    formatters.set(zone, formatter);
  }
  return formatters.get(zone) ?? null;
}

interface WallFields {
  year: number;
  month: number;
  day: number;
}

/** The calendar date at instant `t` in `zone` (month from 0). */
function wallFields(t: number, zone: Zone): WallFields {
  const local = new Date(t + offsetAt(t, zone));
  return { year: local.getUTCFullYear(), month: local.getUTCMonth(), day: local.getUTCDate() };
}

/** Milliseconds east of UTC at instant `t`. */
function offsetAt(t: number, zone: Zone): number {
  if ('offsetMinutes' in zone) return zone.offsetMinutes * MINUTE;
  const parts: Record<string, number> = {};
  for (const p of (formatterOf(zone.iana) as Intl.DateTimeFormat).formatToParts(t)) parts[p.type] = Number(p.value);
  const asUtc = Date.UTC(
    parts['year'] ?? 0,
    (parts['month'] ?? 1) - 1,
    parts['day'],
    parts['hour'],
    parts['minute'],
    parts['second'],
  );
  return asUtc - Math.floor(t / 1000) * 1000;
}

/**
 * The instant a wall-clock time in `zone` names. Days past a month's end roll
 * over (day 32 of March is April 1), as `Date.UTC` does.
 */
function wallTime(year: number, month: number, day: number, hour: number, minute: number, zone: Zone): number {
  const guess = Date.UTC(year, month, day, hour, minute);
  // Two steps settle the offset; in a DST gap they land an hour later, in a repeated hour on the later one.
  const first = guess - offsetAt(guess, zone);
  return guess - offsetAt(first, zone);
}

/** Whether a printed date exists (no Feb 30). */
function isDate(year: number, month: number, day: number): boolean {
  return day >= 1 && new Date(Date.UTC(year, month, day)).getUTCMonth() === month;
}
