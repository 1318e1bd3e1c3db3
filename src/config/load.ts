import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { ConfigError, messageOf, previewValue } from '../errors.js';
import { DEFAULT_CONFIG, KEY_DEFINITIONS, keyDefinition, type AgentConfig, type KeyDefinition } from './keys.js';
import { compilePattern } from '../core/rules/patterns.js';
import { parseSources, SourceConfigIssue } from './sources.js';
import { agentPatternProblem, type AgentPattern } from '../core/rules/agent-activity/catalogue.js';

// yaml and node-cron are loaded only when a value needs them: CLI start-up time matters to orchestrators
// calling `agent heartbeat`.
const require = createRequire(import.meta.url);
const lazyYaml = (): typeof import('yaml') => require('yaml') as typeof import('yaml');
const lazyCron = (): typeof import('node-cron').default => require('node-cron') as typeof import('node-cron').default;

/** Where a value came from, for error messages. */
export type Origin = { kind: 'file'; path: string } | { kind: 'env'; name: string } | { kind: 'flag'; name: string };

export interface LoadOptions {
  /** Path of a YAML or JSON config file (`--config`). */
  file?: string | undefined;
  /** Environment to read; pass `process.env` in production, a literal in tests. */
  env?: Record<string, string | undefined>;
  /** Flag values by config key, as strings (highest precedence). */
  flags?: Partial<Record<keyof AgentConfig, string>>;
  /**
   * How each flag was typed, for messages and sources (`--registry`,
   * `--set maxConcurrent=2`); a key without one is named as `--set key=value`,
   * which every key accepts.
   */
  flagNames?: Partial<Record<keyof AgentConfig, string>>;
}

export interface LoadedConfig {
  config: AgentConfig;
  /** Which layer set each key that is not at its default. */
  sources: Partial<Record<keyof AgentConfig, string>>;
}

const MAX_CONFIG_BYTES = 1024 * 1024;

function describe(origin: Origin): string {
  switch (origin.kind) {
    case 'file':
      return `in ${origin.path}`;
    case 'env':
      return `from environment variable ${origin.name}`;
    case 'flag':
      return `from ${origin.name}`;
  }
}

function shown(value: unknown): string {
  return previewValue(value, 80);
}

function fail(def: KeyDefinition, origin: Origin, value: unknown, allowed: string): never {
  throw new ConfigError(
    def.key,
    `invalid config key "${def.key}" ${describe(origin)}: got ${shown(value)}; allowed: ${allowed}`,
  );
}

/**
 * Validate one value for one key. Values from the environment and flags arrive
 * as strings; values from a file arrive typed (strings are accepted there too).
 */
export function parseValue(def: KeyDefinition, raw: unknown, origin: Origin): unknown {
  const kind = def.kind;
  const fromText = typeof raw === 'string';
  const nullish = raw === null || (fromText && (raw === '' || raw === 'null'));
  switch (kind.type) {
    case 'int':
    case 'number': {
      const allowed = `${kind.type === 'int' ? 'an integer' : 'a number'} from ${kind.min} to ${kind.max}`;
      let n: number;
      if (typeof raw === 'number') n = raw;
      else if (fromText && /^\s*-?\d+(\.\d+)?\s*$/.test(raw)) n = Number(raw);
      else fail(def, origin, raw, allowed);
      if (!Number.isFinite(n) || n < kind.min || n > kind.max || (kind.type === 'int' && !Number.isInteger(n))) {
        fail(def, origin, raw, allowed);
      }
      return n;
    }
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (fromText && /^(true|1|yes)$/i.test(raw)) return true;
      if (fromText && /^(false|0|no)$/i.test(raw)) return false;
      return fail(def, origin, raw, 'true or false');
    }
    case 'enum': {
      if (typeof raw === 'string' && kind.values.includes(raw)) return raw;
      return fail(def, origin, raw, `one of ${kind.values.join(', ')}`);
    }
    case 'string': {
      const allowed = `${kind.patternText ?? 'a non-empty string'}${kind.nullable ? ', or null' : ''}`;
      if (kind.nullable && (raw === null || raw === 'null' || (nullish && kind.emptyIsNull !== false))) return null;
      if (typeof raw !== 'string' || raw.length === 0 || raw.length > 4096) return fail(def, origin, raw, allowed);
      if (kind.pattern && !kind.pattern.test(raw)) return fail(def, origin, raw, allowed);
      if (raw.includes('\0')) return fail(def, origin, raw, allowed);
      return raw;
    }
    case 'list': {
      const allowed =
        `${fromText ? 'a comma-separated list' : 'a list of strings'}` +
        `${kind.regex ? ' of regular expressions' : ''}${kind.nullable ? ', or null' : ''}`;
      if (kind.nullable && nullish) return null;
      let items: unknown[];
      if (fromText)
        items = raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
      else if (Array.isArray(raw)) items = raw;
      else return fail(def, origin, raw, allowed);
      if (items.length > 1000) return fail(def, origin, `${items.length} items`, `${allowed}, at most 1000 items`);
      for (const item of items) {
        if (typeof item !== 'string' || item.length === 0 || item.length > 4096)
          return fail(def, origin, item, allowed);
        if (kind.item && !kind.item.test(item))
          return fail(def, origin, item, `${allowed}, each ${kind.itemText ?? 'valid'}`);
        if (kind.regex) {
          try {
            compilePattern(item);
          } catch (err) {
            return fail(def, origin, item, `a valid regular expression (${messageOf(err)})`);
          }
        }
      }
      return items;
    }
    case 'agentPatterns':
      return parseAgentPatterns(def, raw, origin);
    case 'cron': {
      if (typeof raw === 'string' && raw.trim().split(/\s+/).length >= 5 && lazyCron().validate(raw)) return raw;
      return fail(
        def,
        origin,
        raw,
        'a node-cron expression such as "*/15 * * * * *" (seconds first, six fields) or five fields',
      );
    }
    case 'sources': {
      try {
        return parseSources(raw);
      } catch (err) {
        if (!(err instanceof SourceConfigIssue)) throw err;
        const where = `invalid config key "${def.key}" ${describe(origin)}: ${err.where}`;
        throw new ConfigError(def.key, `${where}; allowed: ${err.allowed}`);
      }
    }
    case 'listen': {
      const m = typeof raw === 'string' ? /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(raw) : null;
      const port = m ? Number(m[2]) : NaN;
      if (!m || port > 65535)
        return fail(def, origin, raw, 'host:port with a port from 0 to 65535, e.g. 0.0.0.0:9820 or 127.0.0.1:0');
      return raw;
    }
  }
}

/** A catalogue of agent patterns: a list in a file, JSON text in the environment or a flag. */
function parseAgentPatterns(def: KeyDefinition, raw: unknown, origin: Origin): AgentPattern[] {
  const fromText = typeof raw === 'string';
  const allowed =
    `${fromText ? 'a JSON list' : 'a list'} of at most 1000 {agent, kind, pattern} entries ` +
    '(kind awaiting_input or rate_limited, pattern a regular expression)';
  let items: unknown = raw;
  if (fromText) {
    if (raw.trim() === '') return [];
    try {
      items = JSON.parse(raw);
    } catch (err) {
      return fail(def, origin, raw, `${allowed}; the text is not JSON (${messageOf(err)})`);
    }
  }
  if (!Array.isArray(items) || items.length > 1000) return fail(def, origin, raw, allowed);
  return items.map((item: unknown, i) => {
    const problem = agentPatternProblem(item);
    if (problem !== null) return fail(def, origin, item, `${allowed}; entry ${i}: ${problem}`);
    const { agent, kind, pattern } = item as AgentPattern;
    return { agent, kind, pattern };
  });
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read config file ${path}: ${messageOf(err)}`);
  }
  if (Buffer.byteLength(text) > MAX_CONFIG_BYTES) {
    throw new ConfigError('config', `config file ${path} is larger than ${MAX_CONFIG_BYTES} bytes`);
  }
  let doc: unknown;
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : lazyYaml().parse(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError('config', `config file ${path} does not parse: ${messageOf(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(
      'config',
      `config file ${path} must hold a mapping of keys to values, got ${Array.isArray(doc) ? 'a list' : typeof doc}`,
    );
  }
  return doc as Record<string, unknown>;
}

/** Load the configuration: defaults < file < environment < flags. */
export function loadConfig(options: LoadOptions = {}): LoadedConfig {
  const config: Record<string, unknown> = { ...DEFAULT_CONFIG };
  const sources: Record<string, string> = {};
  if (options.file !== undefined) {
    const doc = readConfigFile(options.file);
    for (const [key, value] of Object.entries(doc)) {
      const def = keyDefinition(key);
      if (!def) {
        throw new ConfigError(
          key,
          `unknown config key "${key}" in ${options.file}; ` +
            `allowed keys: ${KEY_DEFINITIONS.map((d) => d.key).join(', ')}`,
        );
      }
      config[key] = parseValue(def, value, { kind: 'file', path: options.file });
      sources[key] = `file ${options.file}`;
    }
  }
  const env = options.env ?? {};
  for (const def of KEY_DEFINITIONS) {
    const value = env[def.env];
    if (value === undefined) continue;
    config[def.key] = parseValue(def, value, { kind: 'env', name: def.env });
    sources[def.key] = `env ${def.env}`;
  }
  for (const [key, value] of Object.entries(options.flags ?? {})) {
    if (value === undefined) continue;
    const def = keyDefinition(key);
    if (!def)
      throw new ConfigError(
        key,
        `unknown config key "${key}"; allowed keys: ${KEY_DEFINITIONS.map((d) => d.key).join(', ')}`,
      );
    const typed = options.flagNames?.[key as keyof AgentConfig] ?? `--set ${key}=${value}`;
    config[key] = parseValue(def, value, { kind: 'flag', name: typed });
    // The source names the flag, never its value: --set apiToken=... must not be shown by diagnostics.
    sources[key] = `flag ${typed.startsWith('--set ') ? `--set ${key}` : typed}`;
  }
  const result = config as unknown as AgentConfig;
  checkRelations(result);
  return { config: result, sources };
}

/** Cross-key rules that no single key can express. */
function checkRelations(config: AgentConfig): void {
  if (config.breakerMaxCooldownSec < config.breakerCooldownSec) {
    throw new ConfigError(
      'breakerMaxCooldownSec',
      `invalid config key "breakerMaxCooldownSec": got ${config.breakerMaxCooldownSec}; ` +
        `allowed: at least breakerCooldownSec (${config.breakerCooldownSec})`,
    );
  }
  if (config.retryMaxDelaySec < config.retryBaseSec) {
    throw new ConfigError(
      'retryMaxDelaySec',
      `invalid config key "retryMaxDelaySec": got ${config.retryMaxDelaySec}; ` +
        `allowed: at least retryBaseSec (${config.retryBaseSec})`,
    );
  }
}
