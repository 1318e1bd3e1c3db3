/** Renders the key table as a commented YAML document: config/default.yaml is this output. */
import { stringify } from 'yaml';
import { KEY_DEFINITIONS } from './keys.js';

export function renderDefaultYaml(): string {
  const lines = [
    '# tmux-orchestrator-agent configuration: every key with its default.',
    '# Precedence: these defaults < this file (--config) < environment ' +
      '< flags (--registry, --log-level, --set key=value).',
    '# Each key names its environment variable. Lists in the environment are comma-separated.',
    '# Regular expressions are JavaScript syntax; a leading (?i) makes one case-insensitive.',
    '',
  ];
  for (const def of KEY_DEFINITIONS) {
    lines.push(`# ${def.doc}`);
    lines.push(`# env: ${def.env}`);
    lines.push(stringify({ [def.key]: def.default }, { lineWidth: 0 }).trimEnd());
    lines.push('');
  }
  return lines.join('\n');
}
