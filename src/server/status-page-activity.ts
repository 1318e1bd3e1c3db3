/**
 * The status page's view of agent detection (docs/agent-detection.md): one
 * line per project whose agent waits on a prompt or a usage limit or shows no
 * progress, and the end of a usage limit's launch hold for the queue section.
 * Kept apart from status-page.ts so either can change without the other.
 * Every value is user data (pane lines above all) and goes through escapeHtml.
 */
import type { Detection } from '../core/plan.js';
import type { QueueSummary } from '../core/queue-summary.js';
import { escapeHtml as e } from './status-page.js';

const WAITING_KINDS: readonly Detection['kind'][] = ['awaiting_input', 'rate_limited', 'no_progress'];

/** One line of a finding. */
function findingLine(d: Detection): string {
  const who = `<b>${e(d.project ?? '-')}</b> (session <code>${e(d.session ?? '-')}</code>)`;
  if (d.kind === 'awaiting_input') {
    const since = `since ${e(d.since ?? '?')}`;
    const paused = `timeout clock paused until ${e(d.until ?? '?')}`;
    const prompt = `a prompt of ${e(d.agent ?? 'its agent')} ${since}: <q>${e(d.reason)}</q>`;
    return `${who} waits on ${prompt}; ${paused}. Answer it in the session.`;
  }
  if (d.kind === 'rate_limited') {
    const until = `until ${e(d.until ?? '?')}`;
    return `${who} is held by a usage limit of ${e(d.agent ?? 'its agent')} ${until}: <q>${e(d.reason)}</q>`;
  }
  return `${who} shows no progress: ${e(d.reason)}`;
}

/** The section listing what agents wait on, from the last cycle; empty when nothing does. */
export function agentActivitySection(detections: readonly Detection[] | null): string {
  const found = (detections ?? []).filter((d) => WAITING_KINDS.includes(d.kind));
  if (found.length === 0) return '';
  const items = found.map((d) => `<li class="${d.kind === 'no_progress' ? 'warn' : 'error'}">${findingLine(d)}</li>`);
  return `<section><h2>Agents waiting</h2><ul>${items.join('')}</ul></section>`;
}

/** The queue section's line about a launch hold; empty when none holds. */
export function launchHoldLine(summary: Pick<QueueSummary, 'launchHold'> | null): string {
  const hold = summary?.launchHold ?? null;
  if (hold === null) return '';
  const what = hold.scope === 'host' ? 'No launch on this host' : `No new attempt of ${e(hold.project)}`;
  const limit = `usage limit of ${e(hold.project)} (<q>${e(hold.line)}</q>)`;
  return `<p class="warn">${what} until ${e(hold.until)}: ${limit}.</p>`;
}
