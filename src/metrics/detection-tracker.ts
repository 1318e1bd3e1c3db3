/**
 * Turns "what is stuck now" (every cycle) into "what became stuck" (once):
 * a detection counts when its key — kind, project, session, tmux server — was
 * not seen in the previous reconciled cycle. A zombie that persists for twenty
 * cycles is one detection; one that is healed and comes back is two.
 */
import { STUCK_KINDS, type Detection, type StuckKind } from '../core/model/plan.js';

export function detectionKey(d: Detection): string {
  return JSON.stringify([d.kind, d.project, d.session, d.tmuxSocket]);
}

export interface DetectionStep {
  /** Detections not seen in the previous cycle, by kind (each key once). */
  appeared: Record<StuckKind, number>;
  /** All detections of this cycle, by kind. */
  current: Record<StuckKind, number>;
}

function zeroByKind(): Record<StuckKind, number> {
  return Object.fromEntries(STUCK_KINDS.map((k) => [k, 0])) as Record<StuckKind, number>;
}

export class DetectionTracker {
  private previous = new Set<string>();

  /** Feed one reconciled cycle's detections. */
  step(detections: readonly Detection[]): DetectionStep {
    const appeared = zeroByKind();
    const current = zeroByKind();
    const seen = new Set<string>();
    for (const d of detections) {
      if (!(d.kind in current)) continue;
      current[d.kind] += 1;
      const key = detectionKey(d);
      if (!this.previous.has(key) && !seen.has(key)) appeared[d.kind] += 1;
      seen.add(key);
    }
    this.previous = seen;
    return { appeared, current };
  }
}
