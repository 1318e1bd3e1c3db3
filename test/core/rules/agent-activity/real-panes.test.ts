/**
 * The catalogue against real tmux panes: each test prints a screen as the
 * agent CLIs print it (colours, box borders, ❯, wide characters) with printf
 * in a pane of a private tmux server, captures it with the arguments the pane
 * reader uses, and reads the capture.
 */
import { expect } from 'chai';
import { DEFAULT_AGENT_PATTERNS } from '../../../../src/config/agent-patterns.js';
import { compileCatalogue, detectAgentActivity } from '../../../../src/core/rules/agent-activity/catalogue.js';
import { observeAgentActivity, readPane } from '../../../../src/core/rules/agent-activity/tracker.js';
import { PANE_LINES } from '../../../../src/evidence/pane-output.js';
import { eventually } from '../../../helpers/daemon.js';
import { PrivateTmux } from '../../../helpers/tmux.js';

const ESC = '\x1b';
const catalogue = compileCatalogue(DEFAULT_AGENT_PATTERNS);
const settings = { awaitingInputMaxSec: 14_400, rateLimitDefaultHoldSec: 3600, defaultTimeZone: 'Europe/Berlin' };
const NOW = Date.parse('2026-07-19T14:00:00Z');
const MIN = 60_000;

describe('agent activity: real tmux panes', function () {
  this.timeout(60_000);
  let tmux: PrivateTmux;
  let sessions = 0;

  beforeEach(() => {
    tmux = new PrivateTmux('activity');
  });
  afterEach(() => {
    tmux.destroy();
  });

  /** Start a pane that runs `script` (sh, with the screen text as $1) and stays; return its pane id once `marker` shows. */
  async function pane(script: string, text: string, marker: string, waitMs = 20_000): Promise<string> {
    sessions += 1;
    const session = `agent-${sessions}`;
    tmux.newSession(session, ['sh', '-c', `${script}; exec sleep 600`, 'sh', text]);
    const paneId = tmux.run(['list-panes', '-t', `=${session}:`, '-F', '#{pane_id}']).trim();
    await eventually(() => capture(paneId).includes(marker), waitMs, `"${marker}" in ${session}`, 100);
    return paneId;
  }

  /** What the pane reader captures: the last PANE_LINES lines of history plus the screen, wrapped lines joined. */
  function capture(paneId: string, escapes = false): string {
    return tmux.run(['capture-pane', '-p', ...(escapes ? ['-e'] : []), '-J', '-S', `-${PANE_LINES}`, '-t', paneId]);
  }

  const show = (text: string, marker: string): Promise<string> => pane('printf "%s" "$1"', text, marker);

  it("reads Claude Code's permission dialog drawn in a coloured box", async () => {
    const border = '─'.repeat(60);
    const screen = [
      `${ESC}[38;5;174m╭${border}╮${ESC}[39m`,
      `│ ${ESC}[1mBash command${ESC}[22m${' '.repeat(47)}│`,
      `│   ls "C:/Users/XXX/AppData/Local/Microsoft/WinGet/Links/"  │`,
      `│ Do you want to proceed?${' '.repeat(36)}│`,
      `│ ${ESC}[38;5;153m❯ 1. Yes${ESC}[39m${' '.repeat(51)}│`,
      `│   2. Yes, allow reading from Links\\ from this project      │`,
      `│   3. No, and tell Claude what to do differently (esc)      │`,
      `╰${border}╯`,
    ].join('\n');
    const id = await show(screen, '3. No, and tell Claude');
    for (const escapes of [false, true]) {
      const match = detectAgentActivity(capture(id, escapes), catalogue);
      expect(match, `with -e: ${escapes}`).to.include({
        kind: 'awaiting_input',
        agent: 'claude-code',
        line: 'Do you want to proceed?',
      });
    }
  });

  it("reads Claude Code's session limit with colours and wide characters, and its reset time", async () => {
    const screen = [
      `${ESC}[1m❯ continue${ESC}[0m`,
      `  ${ESC}[2m⎿${ESC}[0m  ${ESC}[38;5;203mYou've hit your session limit · resets 5:40pm (Europe/Berlin)${ESC}[0m ${ESC}[1m日本語のメモ${ESC}[0m`,
      `     /login to switch to an API usage-billed account.`,
    ].join('\n');
    const id = await show(screen, 'usage-billed account');
    for (const escapes of [false, true]) {
      const reading = readPane(capture(id, escapes), catalogue);
      expect(reading.match?.line).to.equal(
        "⎿ You've hit your session limit · resets 5:40pm (Europe/Berlin) 日本語のメモ",
      );
      expect(reading.match?.line).not.to.contain(ESC);
      const started = observeAgentActivity(null, reading, NOW, settings).started;
      expect(started).to.include({
        kind: 'rate_limited',
        resetAt: Date.parse('2026-07-19T15:40:00Z'),
        resetFrom: 'text',
      });
    }
  });

  it("reads Codex's usage limit whose reset wrapped onto the next line", async () => {
    const screen = [
      `${ESC}[31m■${ESC}[0m You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again in 5 days 22 hours 11`,
      'minutes.',
      '',
      `${ESC}[1m›${ESC}[0m Ask Codex to do anything`,
    ].join('\n');
    const id = await show(screen, 'Ask Codex to do anything');
    const started = observeAgentActivity(null, readPane(capture(id), catalogue), NOW, settings).started;
    expect(started).to.include({
      kind: 'rate_limited',
      agent: 'codex',
      resetAt: NOW + (5 * 24 * 60 + 22 * 60 + 11) * MIN,
    });
  });

  it("reads Gemini CLI's usage limit dialog and its GMT offset", async () => {
    const line = (text: string): string => `│ ${text.padEnd(60)} │`;
    const screen = [
      `╭${'─'.repeat(62)}╮`,
      line('Usage limit reached for gemini-2.5-pro.'),
      line('Access resets at 10:57 PM GMT-3.'),
      line('/stats model for usage details'),
      line(`${ESC}[32m● 1. Keep trying${ESC}[39m`),
      line('  2. Stop'),
      `╰${'─'.repeat(62)}╯`,
    ].join('\n');
    const id = await show(screen, '2. Stop');
    const started = observeAgentActivity(null, readPane(capture(id, true), catalogue), NOW, settings).started;
    expect(started).to.include({
      agent: 'gemini-cli',
      line: 'Usage limit reached for gemini-2.5-pro.',
      resetAt: Date.parse('2026-07-20T01:57:00Z'),
    });
  });

  it("tells Aider's waiting question from an answered one", async () => {
    const waiting = await show("src/app.py\nAdd file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]: ", '[Yes]:');
    expect(detectAgentActivity(capture(waiting), catalogue)).to.include({ kind: 'awaiting_input', agent: 'aider' });
    const answered = await show(
      "Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]: y\nAdded src/app.py to the chat\n",
      'Added src/app.py',
    );
    expect(detectAgentActivity(capture(answered), catalogue)).to.equal(null);
  });

  it('reads the prompt below 10 MB of output in one bounded capture', async function () {
    this.timeout(240_000);
    // 5 MB in one line without a newline, then 5 MB of lines, then the question.
    const script =
      'head -c 5242880 /dev/zero | tr "\\000" "x"; printf "\\n"; yes "compiling module 42 of 97 ..." | head -c 5242880; printf "%s" "$1"';
    const id = await pane(script, '\nCreate new file? (Y)es/(N)o [Yes]: ', 'Create new file?', 200_000);
    const text = capture(id);
    expect(text).to.contain('compiling module 42 of 97');
    expect(text.length).to.be.below(1024 * 1024);
    expect(detectAgentActivity(text, catalogue)).to.include({
      kind: 'awaiting_input',
      line: 'Create new file? (Y)es/(N)o [Yes]:',
    });
  });
});
