/**
 * The default catalogue of agent-CLI screens: the lines an AI coding agent
 * shows while it waits on a human (`awaiting_input`) or on a usage limit
 * (`rate_limited`). Every text was checked against the tool's own output (its
 * source where it is public, its issue tracker otherwise); the comment above
 * each entry says where. Patterns see each line of the pane with escapes,
 * control characters and box borders removed, spaces collapsed and trimmed
 * (src/core/rules/agent-activity/pane-text.ts), so `^` and `$` are the visible
 * line's ends.
 *
 * A text two CLIs share is listed once; its match names the first agent.
 */
import type { AgentPattern } from '../core/rules/agent-activity/catalogue.js';

const claude = 'claude-code';
const codex = 'codex';
const gemini = 'gemini-cli';
const aider = 'aider';

export const DEFAULT_AGENT_PATTERNS: readonly AgentPattern[] = Object.freeze([
  // Permission question of a tool call with numbered choices ("❯ 1. Yes"):
  // https://github.com/anthropics/claude-code/issues/10732. Gemini CLI asks the same for a web fetch:
  // google-gemini/gemini-cli packages/cli/src/ui/components/messages/ToolConfirmationMessage.tsx
  { agent: claude, kind: 'awaiting_input', pattern: '^Do you want to proceed\\?$' },
  // https://github.com/anthropics/claude-code/issues/9147, https://github.com/anthropics/claude-code/issues/10954
  { agent: claude, kind: 'awaiting_input', pattern: '^Do you want to make this edit to ' },
  // https://github.com/anthropics/claude-code/issues/36593
  { agent: claude, kind: 'awaiting_input', pattern: '^Do you want to create ' },
  // Folder trust at start-up, older and newer wording: https://github.com/anthropics/claude-code/issues/18942,
  // https://github.com/anthropics/claude-code/issues/51306. Gemini CLI's trust dialog asks the first question too:
  // google-gemini/gemini-cli packages/cli/src/ui/components/FolderTrustDialog.tsx
  { agent: claude, kind: 'awaiting_input', pattern: '^Do you trust the files in this folder\\?$' },
  {
    agent: claude,
    kind: 'awaiting_input',
    pattern: '^Quick safety check: Is this a project you created or one you trust\\?',
  },
  // "You've hit your session limit · resets 5:40pm (Europe/Berlin)":
  // https://github.com/anthropics/claude-code/issues/79136; "You've hit your limit · resets 11pm (Europe/Warsaw)":
  // https://github.com/anthropics/claude-code/issues/41117; "You've hit your weekly limit · resets 5pm
  // (America/Detroit)": https://github.com/anthropics/claude-code/issues/94390
  { agent: claude, kind: 'rate_limited', pattern: "You['’]ve hit your (?:session |weekly )?limit\\b" },
  // "5-hour limit reached · resets 2am (America/Toronto)" (Claude Code 2.0.30, quoted in
  // https://github.com/RooCodeInc/Roo-Code/issues/9767); "Opus weekly limit reached ∙ resets Oct 31, 9am":
  // https://github.com/anthropics/claude-code/issues/10333
  { agent: claude, kind: 'rate_limited', pattern: '\\b(?:5-hour|Opus weekly) limit reached [·∙] resets\\b' },
  // Older versions: "Claude usage limit reached. Your limit will reset at 9am (America/Chicago).":
  // https://github.com/anthropics/claude-code/issues/15064; "Claude AI usage limit reached|1762952400":
  // https://github.com/anthropics/claude-code/issues/11429
  { agent: claude, kind: 'rate_limited', pattern: 'Claude (?:AI )?usage limit reached\\b' },

  // Approval overlay titles: openai/codex codex-rs/tui/src/bottom_pane/approval_overlay.rs
  { agent: codex, kind: 'awaiting_input', pattern: '^Would you like to run the following command\\?$' },
  { agent: codex, kind: 'awaiting_input', pattern: '^Would you like to make the following edits\\?$' },
  // Trust at start-up: openai/codex codex-rs/tui/src/onboarding/trust_directory.rs
  { agent: codex, kind: 'awaiting_input', pattern: '^Do you trust the contents of this directory\\?' },
  // UsageLimitReachedError: openai/codex codex-rs/core/src/error.rs ("You've hit your usage limit. … or try
  // again at 3:28 PM."); as printed: https://github.com/openai/codex/issues/3899 ("… or try again in 5 days
  // 22 hours 11 minutes."), https://github.com/openai/codex/issues/47047 (typographic apostrophe)
  { agent: codex, kind: 'rate_limited', pattern: "You['’]ve hit your usage limit\\b" },
  // CodexErr::QuotaExceeded: openai/codex codex-rs/core/src/error.rs
  { agent: codex, kind: 'rate_limited', pattern: '^Quota exceeded\\. Check your plan and billing details\\.' },

  // Tool confirmations: google-gemini/gemini-cli packages/cli/src/ui/components/messages/ToolConfirmationMessage.tsx
  { agent: gemini, kind: 'awaiting_input', pattern: '^Apply this change\\?$' },
  { agent: gemini, kind: 'awaiting_input', pattern: "^Allow execution of: '" },
  { agent: gemini, kind: 'awaiting_input', pattern: '^Allow execution of MCP tool "' },
  // "Usage limit reached for gemini-3-flash-preview. Access resets at 10:57 PM GMT-3.":
  // https://github.com/google-gemini/gemini-cli/issues/22643; "… for all Pro models.":
  // https://github.com/google-gemini/gemini-cli/issues/16963
  { agent: gemini, kind: 'rate_limited', pattern: '\\bUsage limit reached for (?:all Pro models|[\\w.-]+)' },
  // "⚡ You have reached your daily gemini-2.5-pro quota limit.": google-gemini/gemini-cli
  // packages/cli/src/ui/hooks/useQuotaAndFallback.ts, https://github.com/google-gemini/gemini-cli/issues/11461;
  // without a model: https://github.com/google-gemini/gemini-cli/issues/3796
  { agent: gemini, kind: 'rate_limited', pattern: '\\bYou have reached your daily (?:[\\w.-]+ )?quota limit\\b' },
  // The API's text, shown as "[API Error: You have exhausted your capacity on this model. Your quota will reset
  // after 8h44m7s.]": https://github.com/google-gemini/gemini-cli/issues/13004; also in google-gemini/gemini-cli
  // packages/core/src/utils/googleQuotaErrors.test.ts
  { agent: gemini, kind: 'rate_limited', pattern: '\\bYou have exhausted your capacity on this model\\b' },

  // confirm_ask: "<question> (Y)es/(N)o[/(A)ll/(S)kip all][/(D)on't ask again] [Yes]: ", waiting while nothing
  // follows the colon (an answer is echoed after it): Aider-AI/aider aider/io.py
  {
    agent: aider,
    kind: 'awaiting_input',
    pattern: "\\(Y\\)es/\\(N\\)o(?:/\\(A\\)ll)?(?:/\\(S\\)kip all)?(?:/\\(D\\)on't ask again)? \\[(?:Yes|No)\\]:$",
  },
  // RateLimitError's description: Aider-AI/aider aider/exceptions.py
  {
    agent: aider,
    kind: 'rate_limited',
    pattern: '^The API provider has rate limited you\\. Try again later or check your quotas\\.',
  },
]);
