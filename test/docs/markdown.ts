/**
 * Reading the project's Markdown for tests that keep the docs true: a fenced
 * block or a table found after a marker comment, heading anchors, links.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { githubAnchor } from '../alerts/rule-file.js';
import { REPO_ROOT } from '../alerts/tools.js';

export { REPO_ROOT };

/** A file of the repository, by its path from the root. */
export function repoFile(path: string): string {
  return readFileSync(join(REPO_ROOT, path), 'utf8');
}

/** The text of `file` from `marker` on; throws naming both when the marker is missing. */
function after(file: string, marker: string): string {
  const text = repoFile(file);
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`${file} has no "${marker}"`);
  return text.slice(at);
}

/** The first fenced block of `lang` after `marker` in `file`. */
export function fencedBlock(file: string, marker: string, lang: string): string {
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(after(file, marker));
  if (m?.[1] === undefined) throw new Error(`${file} has no ${lang} block after "${marker}"`);
  return m[1];
}

/** The cells of each body row of the first Markdown table after `marker` in `file` (header and rule skipped). */
export function tableRows(file: string, marker: string): string[][] {
  const lines = after(file, marker).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  if (start < 0) throw new Error(`${file} has no table after "${marker}"`);
  const rows: string[][] = [];
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    // Split on pipes that are not escaped (`\|` inside a cell).
    rows.push(
      line
        .slice(1, line.endsWith('|') ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
  }
  return rows;
}

/** The words in backticks of a table cell: "`from`, `to`" gives ["from", "to"]. */
export function codeWords(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
}

/** GitHub's anchors of every heading of a Markdown file (fenced code skipped; repeated headings get -1, -2...). */
export function headingAnchors(path: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const m = /^#{1,6}\s+(.+?)\s*#*\s*$/.exec(line);
    if (!m?.[1]) continue;
    // Inline code and links keep their text in GitHub's anchor.
    const text = m[1].replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = githubAnchor(text);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

/** Whether `path` (from the repository root) exists. */
export function repoPathExists(path: string): boolean {
  return existsSync(join(REPO_ROOT, path));
}
