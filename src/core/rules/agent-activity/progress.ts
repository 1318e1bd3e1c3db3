/**
 * No progress: the bottom of the pane has not changed and no heartbeat came
 * for `noProgressSec`. The caller keeps a `PaneProgress` per project (plain
 * data: the signature of the pane's bottom and since when it has been the
 * same) and feeds each new reading through `trackProgress`. A pane that
 * scrolls on changes its signature, and its tmux window activity is a
 * heartbeat: it is never without progress.
 */

/** The signature of a pane's bottom and since when it has not changed. */
export interface PaneProgress {
  signature: string;
  /** Epoch ms of the first reading with this signature. */
  since: number;
}

/**
 * A short fingerprint of the cleaned bottom lines (FNV-1a in two 32-bit lanes:
 * a change detector, not a secret).
 */
export function paneSignature(lines: readonly string[]): string {
  let a = 0x811c9dc5;
  let b = 0x01000193;
  const text = lines.join('\n');
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
  }
  return `${(a >>> 0).toString(16).padStart(8, '0')}${(b >>> 0).toString(16).padStart(8, '0')}:${lines.length}`;
}

/** The progress after a new reading: the same signature keeps its `since`, another starts now. */
export function trackProgress(previous: PaneProgress | null, signature: string, now: number): PaneProgress {
  return previous !== null && previous.signature === signature ? previous : { signature, since: now };
}

/**
 * Whether the pane shows no progress at `now`: unchanged for `noProgressSec`
 * and the latest heartbeat (reported, or tmux window activity; null for none)
 * at least as old.
 */
export function isNoProgress(
  progress: PaneProgress | null,
  heartbeatAt: number | null,
  now: number,
  noProgressSec: number,
): boolean {
  if (progress === null) return false;
  const limit = noProgressSec * 1000;
  return now - progress.since >= limit && (heartbeatAt === null || now - heartbeatAt >= limit);
}
