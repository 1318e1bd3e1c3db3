/**
 * What every command needs: the configuration in force (defaults < file <
 * environment < flags), the registry store, a logger, the clock and who is
 * acting. Built once per command from the global options.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { AgentConfig, KeyName } from '../config/keys.js';
import { keyDefinition } from '../config/keys.js';
import { loadConfig, type LoadedConfig } from '../config/load.js';
import { ConfigError, InputError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import type { RegistryStore } from '../registry/store.js';
import { isUrl, openOptionsOf, openStore } from '../registry/open.js';
import type { OperationContext } from '../registry/operations.js';
import type { ProjectActionContext } from '../heal/project-actions.js';
import { policyEnterHook } from '../core/policy-hooks.js';

export interface GlobalOptions {
  config?: string;
  registry?: string;
  logLevel?: string;
  set?: string[];
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

/** `--set key=value` pairs, validated as flags. */
function parseSets(pairs: readonly string[]): Partial<Record<KeyName, string>> {
  const out: Partial<Record<KeyName, string>> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new InputError(`invalid --set ${JSON.stringify(pair)}: expected key=value, e.g. --set maxConcurrent=2`);
    const key = pair.slice(0, eq);
    if (!keyDefinition(key)) throw new ConfigError(key, `unknown config key "${key}" in --set; see config/default.yaml for every key`);
    out[key as KeyName] = pair.slice(eq + 1);
  }
  return out;
}

export function globalOptions(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

export function buildContext(options: GlobalOptions, env: NodeJS.ProcessEnv = process.env): CliContext {
  const flags = parseSets(options.set ?? []);
  if (options.registry !== undefined) flags.registry = options.registry;
  if (options.logLevel !== undefined) flags.logLevel = options.logLevel;
  const loaded = loadConfig({ file: options.config, env, flags });
  const config = loaded.config;
  let log: Logger | undefined;
  const hostId = config.hostId ?? hostname().replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  const store = openStore(isUrl(config.registry) ? config.registry : resolve(config.registry), openOptionsOf(config));
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
