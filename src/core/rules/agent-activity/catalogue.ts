/**
 * The pattern catalogue: which pane lines mean an agent CLI waits on a human
 * (`awaiting_input`) or on a usage limit (`rate_limited`), and the match of a
 * pane's bottom lines against it. The defaults and their sources are in
 * src/config/agent-patterns.ts; users replace or extend them through
 * configuration.
 */
import { InputError } from '../../../errors.js';
import { compilePattern } from '../patterns.js';
import { paneTail, PANE_TAIL_LIMITS, reasonOf, type PaneTailLimits } from './pane-text.js';

export const AGENT_ACTIVITY_KINDS = ['awaiting_input', 'rate_limited'] as const;
export type AgentActivityKind = (typeof AGENT_ACTIVITY_KINDS)[number];

/** One catalogue entry as configured. */
export interface AgentPattern {
  /** The agent CLI the text belongs to, a label: `claude-code`, `codex`, `gemini-cli`, `aider`... */
  agent: string;
  kind: AgentActivityKind;
  /** A JavaScript regular expression over one cleaned line; a leading `(?i)` makes it case-insensitive. */
  pattern: string;
}

export interface CompiledPattern extends AgentPattern {
  regex: RegExp;
}

/** Compiled entries in match order: the first entry that matches a line names its agent and kind. */
export type CompiledCatalogue = readonly CompiledPattern[];

export const AGENT_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENTRY_FIELDS = ['agent', 'kind', 'pattern'];
export const MAX_PATTERN_CHARS = 4096;

/** An entry of the catalogue that is not valid; the config loader names the key. */
export class AgentPatternError extends InputError {
  constructor(
    readonly index: number,
    readonly problem: string,
  ) {
    super(`agent pattern ${index}: ${problem}`);
  }
}

/** Why `entry` is not a valid catalogue entry, or null when it is one. */
export function agentPatternProblem(entry: unknown): string | null {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return 'must be a mapping with agent, kind and pattern';
  }
  const fields = entry as Record<string, unknown>;
  const unknown = Object.keys(fields).filter((f) => !ENTRY_FIELDS.includes(f));
  if (unknown.length > 0) {
    return `unknown field ${unknown.map((f) => `"${f}"`).join(', ')} (allowed: agent, kind, pattern)`;
  }
  const { agent, kind, pattern } = fields;
  if (typeof agent !== 'string' || !AGENT_LABEL.test(agent)) {
    return 'agent must be a label of letters, digits, ".", "_", "-" (1-64, starting with a letter or digit)';
  }
  if (typeof kind !== 'string' || !(AGENT_ACTIVITY_KINDS as readonly string[]).includes(kind)) {
    return `kind must be one of ${AGENT_ACTIVITY_KINDS.join(', ')}`;
  }
  if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN_CHARS) {
    return `pattern must be a regular expression of 1-${MAX_PATTERN_CHARS} characters`;
  }
  try {
    compilePattern(pattern);
  } catch (err) {
    return `pattern ${JSON.stringify(pattern)} does not compile (${err instanceof Error ? err.message : String(err)})`;
  }
  return null;
}

/** The entries compiled in order; throws AgentPatternError naming the first invalid one. */
export function compileCatalogue(entries: readonly AgentPattern[]): CompiledCatalogue {
  return entries.map((entry, index) => {
    const problem = agentPatternProblem(entry);
    if (problem !== null) throw new AgentPatternError(index, problem);
    return { agent: entry.agent, kind: entry.kind, pattern: entry.pattern, regex: compilePattern(entry.pattern) };
  });
}

/** The configured catalogue: the extra entries first (a user's entry decides a line before a default does). */
export function configuredCatalogue(config: {
  agentPatterns: readonly AgentPattern[];
  agentPatternsExtra: readonly AgentPattern[];
}): CompiledCatalogue {
  return compileCatalogue([...config.agentPatternsExtra, ...config.agentPatterns]);
}

/** What the bottom of a pane says about its agent. */
export interface PaneMatch {
  kind: AgentActivityKind;
  agent: string;
  /** The matched line, cleaned and capped: the reason shown to people. */
  line: string;
  /** The matched line and the two below it, cleaned: a reset time may wrap onto the next line. */
  context: string;
  /** The catalogue entry that matched. */
  pattern: string;
}

/**
 * The bottom-most line that an entry matches (the latest thing the agent
 * showed wins: a prompt below a limit message is a prompt), or null.
 */
export function matchCatalogue(lines: readonly string[], catalogue: CompiledCatalogue): PaneMatch | null {
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const line = lines[i] ?? '';
    const entry = catalogue.find((e) => e.regex.test(line));
    if (entry === undefined) continue;
    return {
      kind: entry.kind,
      agent: entry.agent,
      line: reasonOf(line),
      context: lines.slice(i, i + 3).join(' '),
      pattern: entry.pattern,
    };
  }
  return null;
}

/** `matchCatalogue` over the cleaned bottom lines of a raw capture. */
export function detectAgentActivity(
  capture: string,
  catalogue: CompiledCatalogue,
  limits: Readonly<PaneTailLimits> = PANE_TAIL_LIMITS,
): PaneMatch | null {
  return matchCatalogue(paneTail(capture, limits), catalogue);
}
