/**
 * The bottom of a pane as plain lines. Input is what `tmux capture-pane -p -J
 * -S -N` prints (with `-e`, also its escape sequences); output is the last
 * non-blank lines as a person sees them: no escape sequences, no control or
 * bidirectional-override characters, no box borders at either end (`│ … │`,
 * `╭──╮`), runs of spaces collapsed. Wide characters and symbols such as `❯`
 * stay as they are.
 *
 * The work is bounded whatever the pane printed: only the last `maxChars` of
 * the capture are read, each line is cut at `maxLineChars` before any pattern
 * sees it (its end is kept), and at most `maxLines` lines are kept.
 */

export interface PaneTailLimits {
  /** Characters read from the end of the capture. */
  maxChars: number;
  /** Non-blank lines kept from the bottom: the visible screen plus a little history. */
  maxLines: number;
  /** Characters of one line that patterns see. */
  maxLineChars: number;
}

export const PANE_TAIL_LIMITS: Readonly<PaneTailLimits> = Object.freeze({
  maxChars: 128 * 1024,
  maxLines: 60,
  maxLineChars: 1024,
});

/** Longest matched line kept as a reason, in code points. */
export const MAX_REASON_CHARS = 200;

// CSI (SGR colours, cursor moves), OSC (titles, hyperlinks; ended by BEL or ST), DCS/SOS/PM/APC strings,
// and the two-character escapes. An escape cut off at the end of the text is dropped as well.
const ESCAPES = new RegExp(
  [
    '\\x1b\\[[0-?]*[ -/]*(?:[@-~]|$)', // CSI, or one cut off
    '\\x1b\\][^\\x07\\x1b]*(?:\\x07|\\x1b\\\\|$)', // OSC
    '\\x1b[PX^_][^\\x1b]*(?:\\x1b\\\\|$)', // DCS, SOS, PM, APC
    '\\x1b[ -/]*[0-~]', // two-character escapes
    '\\x1b$',
  ].join('|'),
  'g',
);
// C0 and C1 controls, DEL, and the bidirectional controls that could make a reason read other than it is.
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// Box drawing (U+2500-U+257F) and spaces at either end of a line.
const BORDER_START = /^[\s\u2500-\u257f]+/;
const BORDER_END = /[\s\u2500-\u257f]+$/;

/** Text without terminal escape sequences and control characters; tabs become spaces, newlines stay. */
export function stripTerminalCodes(text: string): string {
  return text.replace(ESCAPES, '').replace(/\t/g, ' ').replace(CONTROLS, '');
}

/**
 * One line as a pattern sees it: codes and borders removed, spaces collapsed.
 * A longer line keeps its last `maxLineChars`: the end of a wrapped line is
 * what the bottom of the screen shows.
 */
export function cleanLine(line: string, maxLineChars = PANE_TAIL_LIMITS.maxLineChars): string {
  // Cut before cleaning too, so a megabyte without a newline costs no more than a screenful.
  const cut = line.length > maxLineChars * 4 ? line.slice(line.length - maxLineChars * 4) : line;
  const clean = stripTerminalCodes(cut).replace(/\n/g, ' ').replace(BORDER_START, '').replace(BORDER_END, '');
  const collapsed = clean.replace(/ {2,}/g, ' ');
  if (collapsed.length <= maxLineChars) return collapsed;
  const end = collapsed.slice(collapsed.length - maxLineChars);
  return /^[\udc00-\udfff]/.test(end) ? end.slice(1) : end; // never half a surrogate pair
}

/**
 * The last non-blank lines of a capture, oldest first, each cleaned. The first
 * line of a cut capture is dropped when others follow: it may start in the
 * middle of a line or of an escape sequence.
 */
export function paneTail(capture: string, limits: Readonly<PaneTailLimits> = PANE_TAIL_LIMITS): string[] {
  const cut = capture.length > limits.maxChars;
  const text = cut ? capture.slice(capture.length - limits.maxChars) : capture;
  const raw = text.split('\n');
  if (cut && raw.length > 1) raw.shift();
  const lines: string[] = [];
  for (let i = raw.length - 1; i >= 0 && lines.length < limits.maxLines; i -= 1) {
    const line = cleanLine(raw[i] ?? '', limits.maxLineChars);
    if (line !== '') lines.push(line);
  }
  return lines.reverse();
}

/** A matched line as a reason: cleaned, at most `max` code points, an ellipsis when cut. */
export function reasonOf(line: string, max = MAX_REASON_CHARS): string {
  const clean = cleanLine(line);
  const cut = limitCodePoints(clean, max);
  return cut.length < clean.length ? `${cut}…` : cut;
}

/** At most `max` code points, never splitting a surrogate pair. */
function limitCodePoints(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = 0;
  let count = 0;
  for (const ch of text) {
    if (count === max) break;
    end += ch.length;
    count += 1;
  }
  return text.slice(0, end);
}
