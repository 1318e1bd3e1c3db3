/**
 * One time limit per gatherer. Child processes get their own execFile timeout
 * (so nothing outlives the limit); this bounds the work that cannot be
 * cancelled, such as a stat() on a hung network filesystem.
 */

export class EvidenceTimeoutError extends Error {
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what} timed out after ${timeoutMs} ms`);
    this.name = 'EvidenceTimeoutError';
  }
}

/** Settles with `work`, or rejects with an EvidenceTimeoutError after `timeoutMs`. */
export function withDeadline<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new EvidenceTimeoutError(what, timeoutMs)), timeoutMs);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

/** The time left until `deadline` (epoch ms), never below 1 ms. */
export function remainingMs(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
