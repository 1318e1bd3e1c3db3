/** Small wording rules shared by every message people read (CLI, logs, audit details). */

/** "1 project", "2 projects", "1 process", "3 processes": a count with its noun in the right number. */
export function countOf(n: number, noun: string, plural = noun.endsWith('s') ? `${noun}es` : `${noun}s`): string {
  return `${n} ${n === 1 ? noun : plural}`;
}
