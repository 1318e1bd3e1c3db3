import { expect } from 'chai';
import { DEFAULT_AGENT_PATTERNS } from '../../../../src/config/agent-patterns.js';
import {
  AgentPatternError,
  compileCatalogue,
  configuredCatalogue,
  detectAgentActivity,
  matchCatalogue,
  type AgentActivityKind,
} from '../../../../src/core/rules/agent-activity/catalogue.js';
import { paneTail } from '../../../../src/core/rules/agent-activity/pane-text.js';

const catalogue = compileCatalogue(DEFAULT_AGENT_PATTERNS);

/** Screens as the tools print them, from the sources cited in src/config/agent-patterns.ts. */
const REAL: Array<{ agent: string; kind: AgentActivityKind; screen: string[]; line: string }> = [
  {
    agent: 'claude-code',
    kind: 'awaiting_input',
    screen: [
      'Bash command',
      'ls "C:/Users/XXX/AppData/Local/Microsoft/WinGet/Links/"',
      'Do you want to proceed?',
      '> 1. Yes',
      '  2. Yes, allow reading from Links\\ from this project',
      '  3. No, and tell Claude what to do differently (esc)',
    ],
    line: 'Do you want to proceed?',
  },
  {
    agent: 'claude-code',
    kind: 'awaiting_input',
    screen: [
      ' Do you want to make this edit to create_plan.md?',
      ' ❯ 1. Yes',
      '   2. Yes, allow all edits during this session (shift+tab)',
      '   3. No, and tell Claude what to do differently (esc)',
    ],
    line: 'Do you want to make this edit to create_plan.md?',
  },
  {
    agent: 'claude-code',
    kind: 'awaiting_input',
    screen: ['Do you want to create notes.md?', '❯ 1. Yes', '  2. No'],
    line: 'Do you want to create notes.md?',
  },
  {
    agent: 'claude-code',
    kind: 'awaiting_input',
    screen: [
      'Do you trust the files in this folder?',
      '',
      '/Users/user',
      '',
      'Claude Code may read, write, or execute files contained in this directory.',
      'Execution allowed by:',
      '• .claude/settings.json',
      '❯ 1. Yes, proceed',
      '  2. No, exit',
    ],
    line: 'Do you trust the files in this folder?',
  },
  {
    agent: 'claude-code',
    kind: 'awaiting_input',
    screen: [
      'Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source',
      "   Claude Code'll be able to read, edit, and execute files here.",
      '   > 1. Yes, I trust this folder',
      '     2. No, exit',
    ],
    line: 'Quick safety check: Is this a project you created or one you trust? (Like your own code, a well-known open source',
  },
  {
    agent: 'claude-code',
    kind: 'rate_limited',
    screen: [
      "You've hit your session limit · resets 5:40pm (Europe/Berlin)",
      '/login to switch to an API usage-billed account.',
      '',
      '✻ Baked for 2m 4s',
    ],
    line: "You've hit your session limit · resets 5:40pm (Europe/Berlin)",
  },
  {
    agent: 'claude-code',
    kind: 'rate_limited',
    screen: ["You've hit your limit · resets 11pm (Europe/Warsaw)"],
    line: "You've hit your limit · resets 11pm (Europe/Warsaw)",
  },
  {
    agent: 'claude-code',
    kind: 'rate_limited',
    screen: ["You've hit your weekly limit · resets 5pm (America/Detroit)"],
    line: "You've hit your weekly limit · resets 5pm (America/Detroit)",
  },
  {
    agent: 'claude-code',
    kind: 'rate_limited',
    screen: ['5-hour limit reached · resets 2am (America/Toronto) · /upgrade to Max 20x or turn on /extra-usage'],
    line: '5-hour limit reached · resets 2am (America/Toronto) · /upgrade to Max 20x or turn on /extra-usage',
  },
  {
    agent: 'claude-code',
    kind: 'rate_limited',
    screen: ['Opus weekly limit reached ∙ resets Oct 31, 9am'],
    line: 'Opus weekly limit reached ∙ resets Oct 31, 9am',
  },
  {
    agent: 'claude-code',
    kind: 'rate_limited',
    screen: [' ⎿  Claude usage limit reached. Your limit will reset at 9am (America/Chicago).'],
    line: '⎿ Claude usage limit reached. Your limit will reset at 9am (America/Chicago).',
  },
  {
    agent: 'claude-code',
    kind: 'rate_limited',
    screen: ['Claude AI usage limit reached|1762952400'],
    line: 'Claude AI usage limit reached|1762952400',
  },
  {
    agent: 'codex',
    kind: 'awaiting_input',
    screen: [
      '  Would you like to run the following command?',
      '',
      '  $ pnpm exec playwright test',
      '› 1. Yes, proceed (y)',
      '  3. No, and tell Codex what to do differently (esc)',
      '  Press enter to confirm or esc to cancel',
    ],
    line: 'Would you like to run the following command?',
  },
  {
    agent: 'codex',
    kind: 'awaiting_input',
    screen: ['Would you like to make the following edits?'],
    line: 'Would you like to make the following edits?',
  },
  {
    agent: 'codex',
    kind: 'awaiting_input',
    screen: [
      '> You are in /workspace/project',
      '',
      '  Do you trust the contents of this directory? Working with untrusted contents comes with higher',
      '  risk of prompt injection.',
      '› 1. Yes, continue',
      '  2. No, quit',
      '  Press enter to continue',
    ],
    line: 'Do you trust the contents of this directory? Working with untrusted contents comes with higher',
  },
  {
    agent: 'codex',
    kind: 'rate_limited',
    screen: [
      "■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again in 5 days 22 hours 11",
      'minutes.',
    ],
    line: "■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again in 5 days 22 hours 11",
  },
  {
    agent: 'codex',
    kind: 'rate_limited',
    screen: [
      '■ You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit',
      'https://chatgpt.com/codex/settings/usage to purchase more credits or try again at 2:51 PM.',
    ],
    line: '■ You’ve hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), visit',
  },
  {
    agent: 'codex',
    kind: 'rate_limited',
    screen: ['Quota exceeded. Check your plan and billing details.'],
    line: 'Quota exceeded. Check your plan and billing details.',
  },
  {
    agent: 'gemini-cli',
    kind: 'awaiting_input',
    screen: [
      '│ Apply this change? │',
      '│ ● 1. Yes, allow once │',
      '│ 2. Yes, allow always │',
      '│ 3. No, suggest changes (esc) │',
    ],
    line: 'Apply this change?',
  },
  {
    agent: 'gemini-cli',
    kind: 'awaiting_input',
    screen: ["Allow execution of: 'npm'?", '● 1. Yes, allow once'],
    line: "Allow execution of: 'npm'?",
  },
  {
    agent: 'gemini-cli',
    kind: 'awaiting_input',
    screen: ['Allow execution of MCP tool "search" from server "docs"?'],
    line: 'Allow execution of MCP tool "search" from server "docs"?',
  },
  {
    agent: 'gemini-cli',
    kind: 'rate_limited',
    screen: ['Usage limit reached for gemini-3-flash-preview. Access resets at 10:57 PM GMT-3.'],
    line: 'Usage limit reached for gemini-3-flash-preview. Access resets at 10:57 PM GMT-3.',
  },
  {
    agent: 'gemini-cli',
    kind: 'rate_limited',
    screen: [' Usage limit reached for all Pro models.   '],
    line: 'Usage limit reached for all Pro models.',
  },
  {
    agent: 'gemini-cli',
    kind: 'rate_limited',
    screen: [
      '⚡ You have reached your daily gemini-2.5-pro quota limit.',
      '  ⚡ You can choose to authenticate with a paid API key or continue with the fallback model.',
    ],
    line: '⚡ You have reached your daily gemini-2.5-pro quota limit.',
  },
  {
    agent: 'gemini-cli',
    kind: 'rate_limited',
    screen: ['✕ [API Error: You have exhausted your capacity on this model. Your quota will reset after 8h44m7s.]'],
    line: '✕ [API Error: You have exhausted your capacity on this model. Your quota will reset after 8h44m7s.]',
  },
  {
    agent: 'aider',
    kind: 'awaiting_input',
    screen: ['aider/io.py', "Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]: "],
    line: "Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]:",
  },
  {
    agent: 'aider',
    kind: 'awaiting_input',
    screen: ["Create new file? (Y)es/(N)o/(A)ll/(S)kip all/(D)on't ask again [No]:"],
    line: "Create new file? (Y)es/(N)o/(A)ll/(S)kip all/(D)on't ask again [No]:",
  },
  {
    agent: 'aider',
    kind: 'rate_limited',
    screen: [
      'litellm.RateLimitError: AnthropicException',
      'The API provider has rate limited you. Try again later or check your quotas.',
      'Retrying in 0.2 seconds...',
    ],
    line: 'The API provider has rate limited you. Try again later or check your quotas.',
  },
];

describe('agent activity: catalogue', () => {
  for (const sample of REAL) {
    it(`reads ${sample.agent} ${sample.kind}: ${sample.line.slice(0, 60)}`, () => {
      const match = matchCatalogue(paneTail(sample.screen.join('\n')), catalogue);
      expect(match).to.include({ agent: sample.agent, kind: sample.kind, line: sample.line });
    });
  }

  it('lets every default entry match at least one real screen', () => {
    const used = new Set(REAL.map((s) => matchCatalogue(paneTail(s.screen.join('\n')), catalogue)?.pattern));
    expect(DEFAULT_AGENT_PATTERNS.map((p) => p.pattern).filter((p) => !used.has(p))).to.deep.equal([]);
  });

  it('does not take an answered Aider question for a waiting one', () => {
    expect(
      detectAgentActivity("Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]: y\nAdded file.txt", catalogue),
    ).to.equal(null);
  });

  it('does not take a prompt quoted inside other text for a prompt', () => {
    expect(detectAgentActivity('The agent printed "Do you want to proceed?" in its log', catalogue)).to.equal(null);
  });

  it('lets the latest line win: a prompt shown below a limit message is a prompt', () => {
    const match = detectAgentActivity(
      "You've hit your limit · resets 11pm (Europe/Warsaw)\n\nDo you want to proceed?\n❯ 1. Yes",
      catalogue,
    );
    expect(match).to.include({ kind: 'awaiting_input', line: 'Do you want to proceed?' });
  });

  it('carries the lines below the match for a reset time that wrapped', () => {
    const match = detectAgentActivity(
      'Claude usage limit reached. Your limit will reset\n     at 3pm (America/Santiago).',
      catalogue,
    );
    expect(match?.context).to.equal('Claude usage limit reached. Your limit will reset at 3pm (America/Santiago).');
  });

  it('refuses an entry whose pattern does not compile, naming the entry', () => {
    const bad = [...DEFAULT_AGENT_PATTERNS, { agent: 'mine', kind: 'awaiting_input' as const, pattern: '(unclosed' }];
    expect(() => compileCatalogue(bad)).to.throw(
      AgentPatternError,
      /agent pattern 21: pattern "\(unclosed" does not compile/,
    );
  });

  it('refuses an unknown kind, an unknown field and an agent that is not a label', () => {
    const entry = (fields: object) => () => compileCatalogue([fields as never]);
    expect(entry({ agent: 'a', kind: 'sleeping', pattern: 'x' })).to.throw(
      /kind must be one of awaiting_input, rate_limited/,
    );
    expect(entry({ agent: 'a', kind: 'rate_limited', pattern: 'x', note: 'y' })).to.throw(/unknown field "note"/);
    expect(entry({ agent: 'a b', kind: 'rate_limited', pattern: 'x' })).to.throw(/agent must be a label/);
  });

  it('tries the extra entries first and honours (?i)', () => {
    const mine = configuredCatalogue({
      agentPatterns: DEFAULT_AGENT_PATTERNS,
      agentPatternsExtra: [{ agent: 'wrapper', kind: 'awaiting_input', pattern: '(?i)^do you want to PROCEED' }],
    });
    expect(detectAgentActivity('Do you want to proceed?', mine)).to.include({ agent: 'wrapper' });
  });
});
