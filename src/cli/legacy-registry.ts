/**
 * The registry used to default to `data/registry.json` under the working
 * directory. A queue left there is never moved silently: a command run where
 * it lies, while the per-user default does not exist yet, says where the
 * registry is now and the exact command that moves the old one.
 */
import { dirname, join } from 'node:path';

/** The files of a JSON registry that belong with it. */
const REGISTRY_FILES = ['registry.json', 'registry.json.last-good', 'audit.jsonl', 'archive.jsonl'];

/** A word the shell reads back as it is. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_/.,:@%+=-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The one line to print when `<cwd>/data/registry.json` exists and the
 * default registry `current` does not; null otherwise.
 */
export function legacyRegistryNotice(cwd: string, current: string, exists: (path: string) => boolean): string | null {
  const old = join(cwd, 'data', 'registry.json');
  if (!exists(old) || exists(current)) return null;
  const files = REGISTRY_FILES.map((name) => join(cwd, 'data', name)).filter(exists);
  const target = dirname(current);
  const move = `mkdir -p ${shellWord(target)} && mv ${files.map(shellWord).join(' ')} ${shellWord(`${target}/`)}`;
  return (
    `${old} is no longer the default registry (the default is now ${current}, the same from every directory); ` +
    `nothing was moved. To move that queue: ${move}  (or keep it: AGENT_REGISTRY=${shellWord(old)})`
  );
}
