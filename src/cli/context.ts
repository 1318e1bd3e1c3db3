/**
 * What every command needs: the configuration in force (defaults < file <
 * environment < flags), the registry store, a logger, the clock and who is
 * acting. Built once per command from the global options.
 */
import { existsSync } from 'node:fs';
import { homedir, hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { AgentConfig, KeyName } from '../config/keys.js';
import { keyDefinition } from '../config/keys.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { defaultRegistryPath } from '../config/registry-path.js';
import { ConfigError, InputError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import type { RegistryStore } from '../registry/store.js';
import { isUrl, openOptionsOf, openStore } from '../registry/open.js';
import type { OperationContext } from '../registry/operations.js';
import type { ProjectActionContext } from '../heal/project-actions.js';
import { policyEnterHook } from '../core/policy/policy-hooks.js';
import { legacyRegistryNotice } from './legacy-registry.js';

export interface GlobalOptions {
  config?: string;
  registry?: string;
  logLevel?: string;
  set?: string[];
  /** `agent serve --listen HOST:PORT`. */
  listen?: string;
}

export interface ContextOptions {
  /**
   * Log level when none is configured: the daemon logs at info; a one-shot
   * command at warn, so its table is not interleaved with progress lines.
   */
  defaultLogLevel?: AgentConfig['logLevel'];
  /** Where a one-line notice goes (the moved default registry); stderr by default. */
  notice?: (line: string) => void;
}

export interface CliContext {
  config: AgentConfig;
  loaded: LoadedConfig;
  store: RegistryStore;
  log: Logger;
  hostId: string;
  now: () => number;
  operations: OperationContext;
}

type Flags = { values: Partial<Record<KeyName, string>>; names: Partial<Record<KeyName, string>> };

/** `--set key=value` pairs, validated as flags, each named as it was typed. */
function parseSets(pairs: readonly string[]): Flags {
  const flags: Flags = { values: {}, names: {} };
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new InputError(`invalid --set ${JSON.stringify(pair)}: expected key=value, e.g. --set maxConcurrent=2`);
    const key = pair.slice(0, eq);
    if (!keyDefinition(key))
      throw new ConfigError(key, `unknown config key "${key}" in --set; see config/default.yaml for every key`);
    flags.values[key as KeyName] = pair.slice(eq + 1);
    flags.names[key as KeyName] = `--set ${pair.length > 80 ? `${pair.slice(0, 77)}...` : pair}`;
  }
  return flags;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/**
 * The registry a configuration names: a URL as it is, a path from the
 * working directory, and no value the per-user default.
 */
export function registryLocation(configured: string | null, env: NodeJS.ProcessEnv, cwd = process.cwd()): string {
  if (configured === null) return defaultRegistryPath(env, homedir());
  return isUrl(configured) ? configured : resolve(cwd, configured);
}

export function buildContext(
  options: GlobalOptions,
  env: NodeJS.ProcessEnv = process.env,
  contextOptions: ContextOptions = {},
): CliContext {
  const flags = parseSets(options.set ?? []);
  const named = (key: KeyName, value: string | undefined, name: string): void => {
    if (value === undefined) return;
    flags.values[key] = value;
    flags.names[key] = name;
  };
  named('registry', options.registry, '--registry');
  named('logLevel', options.logLevel, '--log-level');
  named('listen', options.listen, '--listen');
  const loaded = loadConfig({ file: options.config, env, flags: flags.values, flagNames: flags.names });
  const config = loaded.config;
  const defaultLevel = contextOptions.defaultLogLevel;
  if (loaded.sources.logLevel === undefined && defaultLevel !== undefined) config.logLevel = defaultLevel;
  let log: Logger | undefined;
  const hostId =
    config.hostId ??
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, '-')
      .slice(0, 64);
  const location = registryLocation(config.registry, env);
  if (config.registry === null) {
    const notice = legacyRegistryNotice(process.cwd(), location, existsSync);
    if (notice !== null) (contextOptions.notice ?? ((line) => process.stderr.write(`agent: ${line}\n`)))(notice);
  }
  const store = openStore(location, openOptionsOf(config));
  const now = Date.now;
  return {
    config,
    loaded,
    store,
    get log(): Logger {
      log ??= createLogger({ level: config.logLevel });
      return log;
    },
    hostId,
    now,
    operations: { store, now, by: `cli@${hostId}`, onEnter: policyEnterHook(config, Math.random), servers: config },
  };
}

/** What the operator actions on one project (kill, reset --force, fail) need from a command's context. */
export function projectActions(ctx: CliContext): ProjectActionContext {
  const { store, config, now, hostId, operations } = ctx;
  return { store, config, now, by: operations.by, hostId, operations };
}
