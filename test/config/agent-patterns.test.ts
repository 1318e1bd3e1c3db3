import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_AGENT_PATTERNS } from '../../src/config/agent-patterns.js';
import { DEFAULT_CONFIG } from '../../src/config/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { runCli, tempDir } from '../helpers/cli.js';

describe('config: agent patterns', () => {
  it('defaults to the documented catalogue and no extras', () => {
    expect(DEFAULT_CONFIG.agentPatterns).to.deep.equal(DEFAULT_AGENT_PATTERNS);
    expect(DEFAULT_CONFIG.agentPatternsExtra).to.deep.equal([]);
    expect(DEFAULT_CONFIG).to.include({
      awaitingInputMaxSec: 14_400,
      noProgressSec: 1800,
      rateLimitDefaultHoldSec: 3600,
      rateLimitScope: 'host',
    });
  });

  it('reads extra entries from a YAML file', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'agent.yaml');
      writeFileSync(
        file,
        'agentPatternsExtra:\n  - agent: my-cli\n    kind: awaiting_input\n    pattern: "(?i)^continue\\\\? \\\\[y/n\\\\]$"\n',
      );
      expect(loadConfig({ file }).config.agentPatternsExtra).to.deep.equal([
        { agent: 'my-cli', kind: 'awaiting_input', pattern: '(?i)^continue\\? \\[y/n\\]$' },
      ]);
    } finally {
      dir.cleanup();
    }
  });

  it('reads a JSON list from the environment, and an empty value as none', () => {
    const entry = { agent: 'my-cli', kind: 'rate_limited', pattern: 'quota gone' };
    expect(loadConfig({ env: { AGENT_CLI_PATTERNS: JSON.stringify([entry]) } }).config.agentPatterns).to.deep.equal([
      entry,
    ]);
    expect(loadConfig({ env: { AGENT_CLI_PATTERNS_EXTRA: '' } }).config.agentPatternsExtra).to.deep.equal([]);
  });

  it('refuses text that is not JSON, naming the key', () => {
    expect(() => loadConfig({ env: { AGENT_CLI_PATTERNS: '^Do you want' } })).to.throw(
      ConfigError,
      /"agentPatterns".*AGENT_CLI_PATTERNS.*not JSON/,
    );
  });

  it('refuses an entry with an unknown kind, naming the entry', () => {
    const env = { AGENT_CLI_PATTERNS_EXTRA: JSON.stringify([{ agent: 'x', kind: 'stuck', pattern: 'a' }]) };
    expect(() => loadConfig({ env })).to.throw(
      ConfigError,
      /entry 0: kind must be one of awaiting_input, rate_limited/,
    );
  });

  it('stops the CLI with exit 2 naming the key when a catalogue pattern in the config file does not compile', async () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'agent.yaml');
      writeFileSync(
        file,
        'agentPatterns:\n  - agent: claude-code\n    kind: rate_limited\n    pattern: "resets ([0-9]+"\n',
      );
      const result = await runCli(['status', '--config', file], { cwd: dir.path });
      expect(result.code).to.equal(2);
      expect(result.stdout).to.equal('');
      expect(result.stderr)
        .to.contain('"agentPatterns"')
        .and.contain(file)
        .and.contain('entry 0: pattern "resets ([0-9]+" does not compile');
    } finally {
      dir.cleanup();
    }
  });
});
