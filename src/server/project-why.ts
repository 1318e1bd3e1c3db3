/**
 * Why a project is where it is, as lines of the status page: how its last
 * attempt failed (reason, exit status, last output), markers that were
 * ignored, and what the last cycle found about it. Each kind of finding is
 * one rule in `WHY_RULES`, and each detection kind one entry in
 * `DETECTION_TITLES`: a new kind is one more line here, nothing else.
 */
import type { Detection } from '../core/model/plan.js';
import { ms, type Project } from '../core/model/project.js';
import { badge, escapeHtml as e, timeAgo, timeBoth, type Tone } from './html.js';

export interface WhyContext {
  now: number;
  /** What the last cycle detected about this project (empty before the first cycle). */
  detections: readonly Detection[];
}

/** How each detection kind is titled and coloured; a kind missing here is shown by its name. */
export const DETECTION_TITLES: Record<string, { title: string; tone: Tone }> = {
  zombie: { title: 'zombie', tone: 'bad' },
  phantom: { title: 'phantom', tone: 'bad' },
  timing_out: { title: 'timing out', tone: 'bad' },
  heartbeat_stale: { title: 'heartbeat stale', tone: 'warn' },
  defunct_process: { title: 'defunct process', tone: 'warn' },
  orphan_session: { title: 'orphan session', tone: 'warn' },
  awaiting_input: { title: 'waiting on a prompt', tone: 'bad' },
  rate_limited: { title: 'usage limit', tone: 'warn' },
  no_progress: { title: 'no progress', tone: 'warn' },
};

export function detectionBadge(kind: string): string {
  const known = DETECTION_TITLES[kind];
  return badge(known?.title ?? kind.replace(/_/g, ' '), known?.tone ?? 'warn');
}

/** Reason sentences can be long (they quote output): enough to read, not a wall. */
const REASON_CHARS = 300;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** The reason of the move into failed that ended the last attempt; null when history does not have it. */
function failedBecause(p: Project): string | null {
  for (let i = p.history.length - 1; i >= 0; i--) {
    const h = p.history[i];
    if (h && h.to === 'failed' && h.from !== 'failed') return h.reason;
  }
  return null;
}

/**
 * The failure reason ("exit_status", "phantom"...) with the exit status, or
 * the reason's sentence from history; "previous attempt" for a project
 * requeued since. The sentence is left out for an exit status: the output
 * lines below say more than the sentence that quotes them.
 */
function failure(p: Project): string[] {
  if (p.failureReason === null || (p.state !== 'failed' && p.state !== 'queued')) return [];
  const previous = p.state === 'queued' ? 'previous attempt: ' : '';
  const exit = p.exitStatus === null ? '' : ` exit status <b>${e(p.exitStatus)}</b>`;
  const because = p.failureReason === 'exit_status' ? null : failedBecause(p);
  // History reasons start with the reason's name ("phantom: neither pid..."): said once by the badge.
  const sentence = because?.startsWith(`${p.failureReason}: `) ? because.slice(p.failureReason.length + 2) : because;
  const detail = sentence === null || sentence === undefined ? '' : ` ${e(clip(sentence, REASON_CHARS))}`;
  return [`${previous}${badge(p.failureReason, p.state === 'failed' ? 'bad' : 'warn')}${exit}${detail}`];
}

/** The last lines the command printed, collapsed behind the very last one. */
function output(p: Project): string[] {
  const lines = p.lastOutput ?? [];
  if (lines.length === 0) return [];
  const last = lines[lines.length - 1] ?? '';
  const count = lines.length === 1 ? 'last output line' : `last ${lines.length} output lines`;
  const summary = `<summary>${count}: <code>${e(last)}</code></summary>`;
  return [`<details class="output">${summary}<pre>${e(lines.join('\n'))}</pre></details>`];
}

function staleMarkers(p: Project, ctx: WhyContext): string[] {
  return p.staleMarkers.map((m) => {
    const modified = timeAgo(ms(m.modifiedAt), ctx.now);
    const file = `<code>${e(m.file)}</code>`;
    const why = 'before this attempt started: never evidence';
    return `${badge('stale marker', 'muted')} ${file} modified ${modified}, ${why}`;
  });
}

/**
 * A detection's reason as HTML; for an agent waiting on a prompt or a usage
 * limit the reason is the pane line, quoted, with since and until when.
 */
export function detectionText(d: Detection, now: number): string {
  if (d.kind !== 'awaiting_input' && d.kind !== 'rate_limited') return e(d.reason);
  const agent = e(d.agent ?? 'its agent');
  const since = timeAgo(ms(d.since ?? null), now);
  const untilAt = ms(d.until ?? null);
  const until = untilAt === null ? '?' : timeBoth(untilAt, now);
  const line = `<q>${e(clip(d.reason, REASON_CHARS))}</q>`;
  if (d.kind === 'awaiting_input') {
    const clock = `never killed for it; timeout clock paused until ${until}`;
    return `${line}<br><small>${agent} asks since ${since}; ${clock}. Answer it in the session.</small>`;
  }
  return `${line}<br><small>${agent} usage limit since ${since}; resets ${until}.</small>`;
}

function detections(_p: Project, ctx: WhyContext): string[] {
  return ctx.detections.map((d) => `${detectionBadge(d.kind)} ${detectionText(d, ctx.now)}`);
}

const WHY_RULES: readonly ((p: Project, ctx: WhyContext) => string[])[] = [failure, output, staleMarkers, detections];

/** The project's "why" lines as a list; empty when there is nothing to say. */
export function whyCell(p: Project, ctx: WhyContext): string {
  const lines = WHY_RULES.flatMap((rule) => rule(p, ctx));
  return lines.length === 0 ? '' : `<ul class="why">${lines.map((l) => `<li>${l}</li>`).join('')}</ul>`;
}
