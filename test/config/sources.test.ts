import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../helpers/cli.js';

function refusal(value: string): string {
  try {
    loadConfig({ env: { AGENT_SOURCES: value } });
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('the value was accepted');
}

describe('config: sources', () => {
  it('reads both kinds from a file with their defaults', () => {
    const dir = tempDir();
    try {
      const file = join(dir.path, 'agent.yaml');
      writeFileSync(
        file,
        'sources:\n  - kind: tmux-orchestrator\n    db: /home/u/Tmux-Orchestrator/task_queue.db\n  - kind: tmux-sessions\n    pattern: "^claudesquad_"\n    tmuxSocket: squad\n',
      );
      expect(loadConfig({ file }).config.sources).to.deep.equal([
        {
          kind: 'tmux-orchestrator',
          name: 'tmux-orchestrator',
          idPrefix: 'to-',
          db: '/home/u/Tmux-Orchestrator/task_queue.db',
          tmuxSocket: null,
          readOnly: false,
          heal: true,
          busyTimeoutMs: 10_000,
        },
        {
          kind: 'tmux-sessions',
          name: 'tmux-sessions',
          idPrefix: 'ts-',
          pattern: '^claudesquad_',
          tmuxSocket: 'squad',
          heal: false,
        },
      ]);
    } finally {
      dir.cleanup();
    }
  });

  it('reads JSON from the environment', () => {
    const { config } = loadConfig({
      env: { AGENT_SOURCES: '[{"kind":"tmux-sessions","pattern":"^x","heal":true,"name":"x"}]' },
    });
    expect(config.sources).to.deep.equal([
      { kind: 'tmux-sessions', name: 'x', idPrefix: 'ts-', pattern: '^x', tmuxSocket: null, heal: true },
    ]);
  });

  it('names the entry and field of what it refuses, and what is allowed', () => {
    expect(refusal('[{"kind":"tmux-orchestrator","db":"task_queue.db"}]')).to.match(
      /"sources" from environment variable AGENT_SOURCES: sources\[0\]\.db is "task_queue.db"; allowed: the absolute path/,
    );
    expect(refusal('[{"kind":"tmux-orchestrator","db":"/q.db","dbPath":"/q.db"}]')).to.match(
      /sources\[0\]\.dbPath is not a field of a tmux-orchestrator source; allowed: the fields kind, name/,
    );
    expect(refusal('[{"kind":"tmux-sessions","pattern":"(unclosed"}]')).to.match(
      /sources\[0\]\.pattern .*allowed: a valid regular expression/,
    );
    expect(refusal('[{"kind":"redis"}]')).to.match(
      /sources\[0\]\.kind is "redis"; allowed: tmux-orchestrator or tmux-sessions/,
    );
    expect(refusal('{"kind":"tmux-sessions"}')).to.match(/allowed: a list of sources/);
    expect(refusal('not json')).to.match(/is not JSON/);
  });

  it('wants a name and an id prefix per source', () => {
    const two = '[{"kind":"tmux-orchestrator","db":"/a.db"},{"kind":"tmux-orchestrator","db":"/b.db","name":"b"}]';
    expect(refusal('[{"kind":"tmux-orchestrator","db":"/a.db"},{"kind":"tmux-orchestrator","db":"/b.db"}]')).to.match(
      /sources\[1\]\.name "tmux-orchestrator" is also the name of sources\[0\]/,
    );
    expect(refusal(two)).to.match(/sources\[1\]\.idPrefix "to-" overlaps the id prefix of sources\[0\]/);
    expect(
      loadConfig({ env: { AGENT_SOURCES: two.replace('"name":"b"', '"name":"b","idPrefix":"tob-"') } }).config.sources,
    ).to.have.length(2);
  });
});
