/**
 * The Lua scripts of the Redis registry, one file each in `lua/`, named by
 * what they do and how many keys they take (`commit-8.lua`), loaded by name.
 * Each runs atomically on the server, so a commit (document, audit lines,
 * archive, last good copy) is all or nothing, and a lease is taken and its
 * fencing token issued in one step. Keys are passed in KEYS (never built in
 * Lua), so a prefix with a Cluster hash tag (`{toa}:`) keeps every key of one
 * registry in one slot; the arguments travel by name, as one JSON object in
 * ARGV[1].
 *
 * The build copies `lua/` next to the compiled module (package.json "build").
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';

export type ScriptName = 'commit' | 'replace' | 'leader' | 'leader-release' | 'project-lease' | 'project-release';

export interface LuaScript {
  name: ScriptName;
  /** How many KEYS the script takes (the number in its file name). */
  keys: number;
  source: string;
  /** SHA-1 of the source: what EVALSHA names it by. */
  sha: string;
}

const DIRECTORY = new URL('./lua/', import.meta.url);
const loaded = new Map<ScriptName, LuaScript>();

/** The script `name`, read from its file on first use. */
export function luaScript(name: ScriptName): LuaScript {
  const known = loaded.get(name);
  if (known) return known;
  const pattern = new RegExp(`^${name}-(\\d+)\\.lua$`);
  const file = readdirSync(DIRECTORY).find((f) => pattern.test(f));
  if (file === undefined) throw new Error(`the Lua script ${name} is missing from ${DIRECTORY.pathname}`);
  const source = readFileSync(new URL(file, DIRECTORY), 'utf8');
  const script: LuaScript = {
    name,
    keys: Number(pattern.exec(file)?.[1]),
    source,
    sha: createHash('sha1').update(source).digest('hex'),
  };
  loaded.set(name, script);
  return script;
}
