/**
 * The demo's terminal output. On a TTY a table redrawn in place (ANSI cursor
 * movement) with the latest events under it; otherwise plain lines appended
 * as things happen, and the table once at the end, so a log or a pipe reads
 * top to bottom.
 */
import { table } from '../cli/format.js';

export interface ViewRow {
  scenario: string;
  project: string;
  state: string;
  attempts: string;
  breaker: string;
  healed: string | null;
  /** Seconds after the start when it was healed. */
  healedAtSec: number | null;
}

const ESC = '\u001b[';
const RECENT_EVENTS = 8;

export class LiveView {
  private drawnLines = 0;
  private readonly recent: string[] = [];
  private readonly tty: boolean;

  constructor(
    private readonly out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number },
    /** Force plain output even on a TTY. */
    plain = false,
  ) {
    this.tty = out.isTTY === true && !plain && process.env['TERM'] !== 'dumb';
  }

  get interactive(): boolean {
    return this.tty;
  }

  /** Lines printed once, before anything else. */
  header(lines: readonly string[]): void {
    this.out.write(`${lines.join('\n')}\n\n`);
  }

  /** Something happened: appended at once in plain mode, kept under the table on a TTY. */
  event(elapsedSec: number, text: string): void {
    const line = `+${elapsedSec.toFixed(1).padStart(5)}s  ${text}`;
    if (!this.tty) {
      this.out.write(`${line}\n`);
      return;
    }
    this.recent.push(line);
    if (this.recent.length > RECENT_EVENTS) this.recent.shift();
  }

  /** Redraw the table in place (TTY only; plain output prints events instead). */
  render(rows: readonly ViewRow[], footer: string): void {
    if (!this.tty) return;
    const width = Math.max(40, (this.out.columns ?? 120) - 1);
    const lines = [...this.tableLines(rows, true), '', footer, '', ...this.recent].map((l) => fit(l, width));
    const up = this.drawnLines > 0 ? `${ESC}${this.drawnLines}F` : '';
    this.out.write(`${up}${ESC}J${lines.join('\n')}\n`);
    this.drawnLines = lines.length;
  }

  /** The last picture: the final redraw on a TTY, the table printed once otherwise. */
  finish(rows: readonly ViewRow[], footer: string): void {
    if (this.tty) {
      this.render(rows, footer);
      return;
    }
    this.out.write(`\n${this.tableLines(rows, false).join('\n')}\n\n${footer}\n`);
  }

  private tableLines(rows: readonly ViewRow[], colour: boolean): string[] {
    const healedCell = (r: ViewRow): string =>
      r.healed === null ? 'not yet' : `yes (${(r.healedAtSec ?? 0).toFixed(1)}s): ${r.healed}`;
    const text = table(
      ['SCENARIO', 'PROJECT', 'STATE', 'ATTEMPTS', 'BREAKER', 'HEALED'],
      rows.map((r) => [r.scenario, r.project, r.state, r.attempts, r.breaker, healedCell(r)]),
    ).split('\n');
    if (!colour) return text;
    // Colour the data lines by outcome; the header stays plain.
    return text.map((line, i) => {
      const row = rows[i - 1];
      if (i === 0 || !row) return `${ESC}1m${line}${ESC}0m`;
      return row.healed === null ? `${ESC}33m${line}${ESC}0m` : `${ESC}32m${line}${ESC}0m`;
    });
  }
}

/** Cut a line to the terminal width so no line wraps (a wrapped line would break the cursor arithmetic). */
function fit(line: string, width: number): string {
  let visible = 0;
  let out = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (c === '\u001b') {
      const end = line.indexOf('m', i);
      if (end > 0) {
        out += line.slice(i, end + 1);
        i = end;
        continue;
      }
    }
    if (visible >= width) continue;
    out += c;
    visible += 1;
  }
  return line.includes('\u001b') && !out.endsWith(`${ESC}0m`) ? `${out}${ESC}0m` : out;
}
