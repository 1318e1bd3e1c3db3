/** The trigger an event source calls, recording each reason so a test can wait for the next one. */
import { eventually } from '../helpers/daemon.js';

export class Triggers {
  readonly reasons: string[] = [];
  readonly trigger = (reason: string): void => {
    this.reasons.push(reason);
  };

  /** Wait for a trigger after the first `seen` ones, matching `pattern`; resolves with its reason. */
  async after(seen: number, pattern: RegExp, what: string, timeoutMs = 15_000): Promise<string> {
    return eventually(() => this.reasons.slice(seen).find((r) => pattern.test(r)), timeoutMs, what, 20);
  }
}
