/**
 * A small Dockerfile reader for the packaging tests: instructions with their
 * continuation lines joined and comments dropped, grouped into build stages,
 * and a `.dockerignore` matcher. Enough for the project's own Dockerfile; not
 * a general BuildKit parser.
 */
import { readFileSync } from 'node:fs';

export interface Instruction {
  /** Upper-case keyword: FROM, RUN, COPY, ... */
  keyword: string;
  /** Everything after the keyword, continuation lines joined with single spaces. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  /** The image named by FROM. */
  image: string;
  /** The `AS name`, or null. */
  name: string | null;
  instructions: Instruction[];
}

export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  let current: { parts: string[]; line: number } | null = null;
  for (const [i, raw] of lines.entries()) {
    const trimmed = raw.trim();
    // Comment lines are dropped, also between continuation lines (as Docker does).
    if (trimmed.startsWith('#')) continue;
    if (current === null && trimmed === '') continue;
    const continues = trimmed.endsWith('\\');
    const part = continues ? trimmed.slice(0, -1).trim() : trimmed;
    if (current === null) current = { parts: [], line: i + 1 };
    if (part !== '') current.parts.push(part);
    if (!continues) {
      const joined = current.parts.join(' ');
      const m = /^(\S+)\s*(.*)$/.exec(joined);
      if (m?.[1]) out.push({ keyword: m[1].toUpperCase(), args: m[2] ?? '', line: current.line });
      current = null;
    }
  }
  return out;
}

export function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?\s*$/i.exec(ins.args);
      if (!m?.[1]) throw new Error(`line ${ins.line}: cannot read FROM ${ins.args}`);
      stages.push({ image: m[1], name: m[2] ?? null, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`line ${ins.line}: ${ins.keyword} before any FROM`);
    stage.instructions.push(ins);
  }
  return stages;
}

export function loadStages(path: string): Stage[] {
  return stagesOf(parseDockerfile(readFileSync(path, 'utf8')));
}

/** The JSON array of an exec-form instruction (ENTRYPOINT, CMD, HEALTHCHECK ... CMD), or null for the shell form. */
export function execForm(args: string): string[] | null {
  const text = args.trim();
  if (!text.startsWith('[')) return null;
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((x) => typeof x === 'string'))
    throw new Error(`not an exec form: ${args}`);
  return parsed;
}

export interface CopySpec {
  from: string | null;
  sources: string[];
  dest: string;
  line: number;
}

/** COPY/ADD instructions of a stage: `--from=`, sources and destination (flags other than --from are ignored). */
export function copiesOf(stage: Stage): CopySpec[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      const words = i.args.split(/\s+/).filter(Boolean);
      let from: string | null = null;
      const rest: string[] = [];
      for (const w of words) {
        if (w.startsWith('--from=')) from = w.slice('--from='.length);
        else if (!w.startsWith('--')) rest.push(w);
      }
      const dest = rest.pop();
      if (dest === undefined || rest.length === 0)
        throw new Error(`line ${i.line}: cannot read ${i.keyword} ${i.args}`);
      return { from, sources: rest, dest, line: i.line };
    });
}

/** Options and the command of `HEALTHCHECK [OPTIONS] CMD ...`. */
export function healthcheckOf(
  stage: Stage,
): { options: Record<string, string>; command: string[] | null; raw: string } | null {
  const ins = stage.instructions.filter((i) => i.keyword === 'HEALTHCHECK').at(-1);
  if (!ins) return null;
  const m = /^((?:--[a-z-]+=\S+\s+)*)CMD\s+(.*)$/s.exec(ins.args);
  if (!m) return { options: {}, command: null, raw: ins.args };
  const options: Record<string, string> = {};
  for (const opt of (m[1] ?? '').trim().split(/\s+/).filter(Boolean)) {
    const [k, v] = opt.replace(/^--/, '').split('=');
    if (k !== undefined && v !== undefined) options[k] = v;
  }
  return { options, command: execForm(m[2] ?? ''), raw: ins.args };
}

/** `.dockerignore` patterns (comments and blanks dropped). */
export function loadDockerignore(path: string): string[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const c of glob) {
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Whether `.dockerignore` excludes a context path (relative, no leading `./`):
 * a pattern excludes the path itself and everything under it; `!` re-includes;
 * the last matching pattern wins, as in Docker.
 */
export function isIgnored(path: string, patterns: readonly string[]): boolean {
  const clean = path.replace(/^\.\//, '').replace(/\/$/, '');
  const prefixes = clean.split('/').map((_, i, parts) => parts.slice(0, i + 1).join('/'));
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).replace(/^\.?\//, '').replace(/\/$/, '');
    const re = globToRegExp(pattern);
    if (prefixes.some((p) => re.test(p))) ignored = !negated;
  }
  return ignored;
}
