/**
 * The pieces the status page is written with. Every value that may come from
 * the registry, a cycle or the environment goes through `escapeHtml`; the
 * helpers below escape what they are given, so a caller passes plain text
 * and gets HTML back.
 */
import { duration, relative } from '../core/views/wording.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const e = escapeHtml;

export type Tone = 'ok' | 'warn' | 'bad' | 'muted';

export function badge(text: string, tone: Tone): string {
  return `<span class="badge ${tone}">${e(text)}</span>`;
}

/** "2026-11-26 10:20:00 UTC": an absolute time people read (no milliseconds). */
export function absolute(at: number): string {
  return `${new Date(at).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** "3m 20s ago" / "in 12s", with the absolute time on hover; "-" for no time. */
export function timeAgo(at: number | null, now: number): string {
  if (at === null || !Number.isFinite(at)) return '-';
  const iso = new Date(at).toISOString();
  return `<time datetime="${iso}" title="${absolute(at)}">${e(relative(iso, now))}</time>`;
}

/** "in 12s (2026-11-26 10:00:12 UTC)": relative and absolute both shown, for the times people act on. */
export function timeBoth(at: number, now: number): string {
  if (!Number.isFinite(at)) return '-';
  return `${timeAgo(at, now)} <small class="abs">${absolute(at)}</small>`;
}

/** "3m 20s" from `from` to `to`, with both ends on hover. */
export function span(from: number, to: number, label = ''): string {
  const title = `${label}${absolute(from)} – ${absolute(to)}`;
  return `<span class="nowrap" title="${e(title)}">${e(duration(Math.max(0, to - from) / 1000))}</span>`;
}

/** A command to copy: one click selects all of it (no script needed). */
export function command(text: string): string {
  return `<code class="cmd">${e(text)}</code>`;
}

/**
 * A table whose cells are HTML already; `empty` is said when there are no
 * rows. Each cell carries its column's header, which narrow screens show
 * in front of the value when rows become cards.
 */
export function table(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  empty: string,
  cls = '',
): string {
  if (rows.length === 0) return `<p class="muted">${e(empty)}</p>`;
  const head = headers.map((h) => `<th>${e(h)}</th>`).join('');
  const cell = (c: string, i: number): string =>
    c === '' ? '<td class="empty"></td>' : `<td data-label="${e(headers[i] ?? '')}"><div>${c}</div></td>`;
  const body = rows.map((r) => `<tr>${r.map(cell).join('')}</tr>`).join('\n');
  const attr = cls === '' ? '' : ` class="${cls}"`;
  return `<table${attr}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}
