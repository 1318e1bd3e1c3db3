import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_CONFIG, KEY_DEFINITIONS, type KeyDefinition } from '../../src/config/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { renderDefaultYaml } from '../../src/config/render.js';
import { ConfigError } from '../../src/errors.js';
import { runCli, tempDir } from '../helpers/cli.js';

const DEFAULT_YAML = new URL('../../config/default.yaml', import.meta.url);

/** A value each kind of key must refuse. */
function invalidValue(def: KeyDefinition): string {
  switch (def.kind.type) {
    case 'int':
      return String(def.kind.max + 1);
    case 'number':
      return String(def.kind.max * 2 + 1);
    case 'bool':
      return 'maybe';
    case 'enum':
      return 'loud';
    case 'string':
      return def.kind.pattern ? 'bad value with spaces;' : '';
    case 'list':
      return def.kind.regex ? '(unclosed' : def.kind.item ? 'a b' : 'x'.repeat(5000);
    case 'cron':
      return 'every 15 seconds';
    case 'listen':
      return 'localhost:99999';
    case 'sources':
      return '[{"kind":"tmux-orchestrator","db":"relative/task_queue.db"}]';
    case 'agentPatterns':
      return JSON.stringify([{ agent: 'my-cli', kind: 'awaiting_input', pattern: '(unclosed' }]);
  }
}

async function inBatches<T>(items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(fn));
}

describe('config', () => {
  it('config/default.yaml holds every key at its default in code', () => {
    const doc = parse(readFileSync(DEFAULT_YAML, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(doc).sort()).to.deep.equal(KEY_DEFINITIONS.map((d) => d.key).sort());
    expect(doc).to.deep.equal({ ...DEFAULT_CONFIG });
    expect(loadConfig({ file: DEFAULT_YAML.pathname }).config).to.deep.equal({ ...DEFAULT_CONFIG });
  });

  it('config/default.yaml documents every key with its environment name', () => {
    expect(readFileSync(DEFAULT_YAML, 'utf8')).to.equal(renderDefaultYaml());
    for (const def of KEY_DEFINITIONS) expect(renderDefaultYaml()).to.contain(`# env: ${def.env}\n${def.key}:`);
  });

  it('keeps the seed environment names', () => {
    const names = KEY_DEFINITIONS.map((d) => d.env);
    for (const seed of [
      'MAX_PROCESS_RUNTIME_SEC',
      'HEARTBEAT_TIMEOUT_SEC',
      'MAX_TIMEOUT_EXTENSIONS',
      'EXTENSION_DURATION_SEC',
      'PHANTOM_GRACE_PERIOD_SEC',
      'STATE_SYNC_INTERVAL_SEC',
    ]) {
      expect(names).to.include(seed);
    }
    for (const name of names) expect(name).to.match(/^(AGENT_[A-Z_]+|[A-Z_]+_SEC|MAX_TIMEOUT_EXTENSIONS|LOG_LEVEL)$/);
  });

  it('layers defaults < file < environment < flags', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'agent.yaml');
      writeFileSync(file, 'maxConcurrent: 2\nkillGraceSec: 3\nlogLevel: warn\n');
      const { config, sources } = loadConfig({
        file,
        env: { AGENT_MAX_CONCURRENT: '3', KILL_GRACE_SEC: '4' },
        flags: { maxConcurrent: '4' },
      });
      expect(config).to.include({ maxConcurrent: 4, killGraceSec: 4, logLevel: 'warn', heartbeatTimeoutSec: 600 });
      expect(sources).to.include({ maxConcurrent: 'flag --set maxConcurrent', killGraceSec: 'env KILL_GRACE_SEC' });
    } finally {
      dir.cleanup();
    }
  });

  it('parses lists from comma-separated environment values', () => {
    const { config } = loadConfig({
      env: { AGENT_TMUX_SOCKETS: 'default, build,/tmp/s', AGENT_ORPHAN_SESSION_PATTERNS: '^agent-' },
    });
    expect(config.tmuxSockets).to.deep.equal(['default', 'build', '/tmp/s']);
    expect(config.orphanSessionPatterns).to.deep.equal(['^agent-']);
  });

  it('refuses an unknown key in a file, naming it and the allowed keys', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'agent.json');
      writeFileSync(file, JSON.stringify({ maxConcurent: 2 }));
      expect(() => loadConfig({ file })).to.throw(
        ConfigError,
        /unknown config key "maxConcurent".*allowed keys: registry/,
      );
    } finally {
      dir.cleanup();
    }
  });

  it('refuses a config file that is not a mapping', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'agent.yaml');
      writeFileSync(file, '- a\n- b\n');
      expect(() => loadConfig({ file })).to.throw(ConfigError, /must hold a mapping/);
    } finally {
      dir.cleanup();
    }
  });

  it('refuses a retry cap below its base', () => {
    expect(() => loadConfig({ env: { AGENT_RETRY_BASE_SEC: '100', AGENT_RETRY_MAX_DELAY_SEC: '10' } })).to.throw(
      ConfigError,
      /retryMaxDelaySec/,
    );
  });

  describe('every key with an invalid value', function () {
    this.timeout(120_000);

    it('is refused by the loader with the key, the value and what is allowed', () => {
      for (const def of KEY_DEFINITIONS) {
        const value = invalidValue(def);
        let error: unknown;
        try {
          loadConfig({ env: { [def.env]: value } });
        } catch (err) {
          error = err;
        }
        expect(error, def.key).to.be.instanceOf(ConfigError);
        const message = (error as Error).message;
        expect(message, def.key).to.contain(`"${def.key}"`).and.contain(def.env).and.contain('allowed:');
      }
    });

    it('stops the CLI with exit 2 and a message naming the key, for a key of every kind', async () => {
      // The loader test above covers every key; the CLI's path from a refused key to exit 2 is the same for all, so
      // one key of each kind (and each kind of invalid value) is run as a real process.
      const kindOf = (def: KeyDefinition): string =>
        ['int', 'number'].includes(def.kind.type) ? def.kind.type : `${def.kind.type}: ${invalidValue(def)}`;
      const samples = new Map<string, KeyDefinition>();
      for (const def of KEY_DEFINITIONS) if (!samples.has(kindOf(def))) samples.set(kindOf(def), def);
      expect(samples.size).to.be.at.least(10);
      const dir = tempDir();
      try {
        await inBatches([...samples.values()], 4, async (def) => {
          const result = await runCli(['status'], { cwd: dir.path, env: { [def.env]: invalidValue(def) } });
          expect(result.code, `${def.env}: ${result.stderr}`).to.equal(2);
          expect(result.stderr, def.env).to.contain(`"${def.key}"`).and.contain(def.env);
          expect(result.stdout, def.env).to.equal('');
        });
        const flag = await runCli(['status', '--set', 'maxConcurrent=0'], { cwd: dir.path });
        expect(flag.code).to.equal(2);
        expect(flag.stderr)
          .to.contain('"maxConcurrent"')
          .and.contain('--set maxConcurrent=0')
          .and.contain('from 1 to 10000');
      } finally {
        dir.cleanup();
      }
    });
  });
});

describe('config errors name what the user wrote', function () {
  this.timeout(60_000);
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.cleanup());

  it('names the --set flag as typed, never a flag that does not exist', async () => {
    const r = await runCli(['status', '--set', 'maxProcessRuntimeSec=-5'], { cwd: dir.path });
    expect(r.code).to.equal(2);
    expect(r.stderr)
      .to.contain('--set maxProcessRuntimeSec=-5')
      .and.contain('"maxProcessRuntimeSec"')
      .and.not.contain('--max-process-runtime-sec');
  });

  it('names the environment variable', async () => {
    const r = await runCli(['status'], { cwd: dir.path, env: { MAX_PROCESS_RUNTIME_SEC: '-5' } });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain('environment variable MAX_PROCESS_RUNTIME_SEC').and.contain('"maxProcessRuntimeSec"');
  });

  it('names the key and the config file', async () => {
    const file = join(dir.path, 'agent.yaml');
    writeFileSync(file, 'maxProcessRuntimeSec: -5\n');
    const r = await runCli(['--config', file, 'status'], { cwd: dir.path });
    expect(r.code).to.equal(2);
    expect(r.stderr).to.contain(`"maxProcessRuntimeSec" in ${file}`);
  });

  it('names --listen as typed', async () => {
    const listen = await runCli(['serve', '--listen', 'nowhere'], { cwd: dir.path });
    expect(listen.code).to.equal(2);
    expect(listen.stderr).to.contain('from --listen').and.contain('"listen"');
  });
});

describe('docs/configuration.md', () => {
  it('lists every configuration key with its environment name', () => {
    const doc = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const def of KEY_DEFINITIONS) expect(doc, def.key).to.contain(`| \`${def.key}\` | \`${def.env}\` |`);
  });
});
