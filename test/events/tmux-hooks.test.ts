/**
 * The tmux hooks on a private tmux server: installed on every event at the
 * agent's own array index (visible in `show-hooks`), a user's hooks on the
 * same events left alone, removed on stop; a session or pane going away, and
 * the server itself going away, ask for a cycle.
 */
import { expect } from 'chai';
import { HOOKS, TmuxHooks } from '../../src/events/tmux-hooks.js';
import { describeSocket } from '../../src/scan/tmux-command.js';
import { PrivateTmux } from '../helpers/tmux.js';
import { Triggers } from './triggers.js';

const USER_HOOK = 'display-message "user hook"';

/** The global hooks on the watched events as `show-hooks` lists them (`session-closed[0] display-message ...`). */
function hooksOf(tmux: PrivateTmux): string[] {
  // Session hooks are listed with -g, window and pane hooks (pane-exited...) with -gw.
  return [...tmux.run(['show-hooks', '-g']).split('\n'), ...tmux.run(['show-hooks', '-gw']).split('\n')].filter(
    (l) => l.includes('[') && HOOKS.some((h) => l.startsWith(`${h}[`)),
  );
}

describe('events/tmux-hooks', function () {
  this.timeout(60_000);
  let tmux: PrivateTmux;
  let triggers: Triggers;
  const sources: TmuxHooks[] = [];
  const source = (identity = 'agent-1'): TmuxHooks => {
    const s = new TmuxHooks(identity, triggers.trigger, { timeoutMs: 10_000 });
    sources.push(s);
    return s;
  };

  beforeEach(() => {
    tmux = new PrivateTmux('hooks');
    tmux.newSession('keep', ['sleep', '600']);
    for (const hook of HOOKS) tmux.run(['set-hook', '-g', `${hook}[0]`, USER_HOOK]);
    triggers = new Triggers();
  });
  afterEach(async () => {
    for (const s of sources.splice(0)) await s.stop();
    tmux.destroy();
  });

  it("installs one hook per event at its own index, beside the user's, and removes only its own on stop", async () => {
    const hooks = source();
    await hooks.start();
    await hooks.sync([tmux.socket]);
    const ours = HOOKS.map((h) => `${h}[${hooks.index}] wait-for -S ${hooks.channel}`);
    const users = HOOKS.map((h) => `${h}[0] ${USER_HOOK}`);
    expect(hooksOf(tmux)).to.have.members([...users, ...ours]);
    expect(hooks.health()).to.deep.equal({ up: true, detail: `hooked: ${describeSocket(tmux.socket)}` });
    await hooks.stop();
    expect(hooksOf(tmux)).to.have.members(users);
  });

  it('a restarted agent replaces its hooks instead of adding more', async () => {
    const first = source();
    await first.start();
    await first.sync([tmux.socket]);
    // Killed without its stop: the hooks stay behind.
    const again = source();
    await again.start();
    await again.sync([tmux.socket]);
    expect(hooksOf(tmux).filter((l) => l.includes(again.channel))).to.have.length(HOOKS.length);
  });

  it('follows each new waiter with a catch-up cycle, for an event it may have missed while it connected', async () => {
    const hooks = source();
    await hooks.start();
    await hooks.sync([tmux.socket]);
    await triggers.after(0, /^catch-up after watching tmux server /, 'the catch-up trigger of the new waiter');
    // The waiter that replaces the one an event ended is followed up too.
    const seen = triggers.reasons.length;
    tmux.newSession('gone', ['sleep', '600']);
    tmux.killSession('gone');
    await triggers.after(seen, /^tmux event on /, 'the event');
    await triggers.after(seen, /^catch-up after /, 'the catch-up after the event');
  });

  it('asks for a cycle when a session is killed', async () => {
    const hooks = source();
    await hooks.start();
    await hooks.sync([tmux.socket]);
    tmux.newSession('victim', ['sleep', '600']);
    tmux.killSession('victim');
    await triggers.after(
      0,
      new RegExp(`^tmux event on ${describeSocket(tmux.socket)}$`),
      'the trigger of the killed session',
    );
  });

  it("asks for a cycle when a pane's process exits", async () => {
    const hooks = source();
    await hooks.start();
    await hooks.sync([tmux.socket]);
    tmux.newSession('short', ['sh', '-c', 'read line']);
    tmux.run(['send-keys', '-t', '=short:', 'Enter']);
    await triggers.after(0, /^tmux event on /, 'the trigger of the exited pane');
    expect(tmux.hasSession('short')).to.equal(false);
  });

  it('asks for a cycle when the whole server goes away, and reports it down', async () => {
    const hooks = source();
    await hooks.start();
    await hooks.sync([tmux.socket]);
    tmux.destroy();
    await triggers.after(0, /gone or unreachable/, 'the trigger of the server going away');
    expect(hooks.health().detail).to.match(/not hooked: /);
  });

  it('leaves a server it no longer watches without its hooks', async () => {
    const hooks = source();
    await hooks.start();
    await hooks.sync([tmux.socket]);
    await hooks.sync([]);
    expect(hooksOf(tmux)).to.have.members(HOOKS.map((h) => `${h}[0] ${USER_HOOK}`));
  });
});
