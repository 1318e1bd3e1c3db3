/**
 * The status page as a browser shows it: a real `agent serve` on a private
 * tmux server, a command enqueued with the built CLI that crashes, and
 * Debian's headless Chromium loading `/` from the daemon. The page must
 * render (a screenshot at desk and phone width), show the failed project
 * with its exit status and last output line in the DOM, show an unreadable
 * registry once, and log nothing to the console (no script error, no
 * Content-Security-Policy violation). A control page that does log errors
 * proves the console check can fail.
 *
 * Set TOA_SCREENSHOT_DIR to keep the screenshots for a look.
 */
import { expect } from 'chai';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHROMIUM, pngSize, runChromium, stopChromiumRuns } from '../helpers/chromium.js';
import { eventually, startAgent, type RunningAgent } from '../helpers/daemon.js';
import { TestQueue } from '../helpers/queue.js';

const CRASH = 'echo "fatal: API key expired" >&2; exit 3';

describe('e2e: the status page in headless Chromium', function () {
  this.timeout(300_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;

  before(function () {
    if (!existsSync(CHROMIUM))
      throw new Error(`${CHROMIUM} is missing: scripts/setup.sh test installs Debian's chromium`);
  });
  beforeEach(() => {
    q = new TestQueue({ AGENT_MAX_CONCURRENT: '1' });
  });
  afterEach(async () => {
    stopChromiumRuns();
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  it('renders a crashed project with its exit status and output, and logs no console error', async () => {
    agent = await startAgent({ ...q.env, LOG_LEVEL: 'info' }, q.dir.path);
    await eventually(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, 60_000, 'the first cycle');
    // No --tmux-socket: the launch goes to the first watched server, this test's private one.
    const enqueued = await q.agent(['enqueue', '--id', 'crash', '--cwd', q.dir.path, '--', 'sh', '-c', CRASH]);
    expect(enqueued.code, enqueued.stderr).to.equal(0);
    await eventually(
      () => {
        const p = q.get('crash');
        return p.state === 'failed' && p.exitStatus === 3;
      },
      60_000,
      'the crash to be failed with its exit status',
    ).catch((err: Error) => {
      throw new Error(`${err.message}; registry: ${q.bytes()}; agent log: ${agent?.stderr().slice(-2000)}`);
    });

    // The page can only show what the registry holds: say which side lost the line if it is missing.
    const crash = q.get('crash');
    expect(crash.lastOutput, `the registry's record of the crash: ${JSON.stringify(crash)}`).to.include(
      'fatal: API key expired',
    );

    const page = `${agent.url}/`;
    const shots: Record<string, string> = {
      desk: join(q.dir.path, 'status-desk.png'),
      phone: join(q.dir.path, 'status-phone.png'),
    };
    const desk = await runChromium(page, [`--screenshot=${shots['desk']}`, '--window-size=1280,1000']);
    const phone = await runChromium(page, [`--screenshot=${shots['phone']}`, '--window-size=412,1800']);
    const dom = await runChromium(page, ['--dump-dom']);
    for (const [name, file] of Object.entries(shots)) {
      const size = pngSize(readFileSync(file));
      expect(size.width, name).to.be.above(0);
      expect(size.height, name).to.be.above(0);
      if (process.env['TOA_SCREENSHOT_DIR'])
        copyFileSync(file, join(process.env['TOA_SCREENSHOT_DIR'], `status-${name}.png`));
    }
    expect(size(shots['desk'])).to.deep.equal({ width: 1280, height: 1000 });

    expect(dom.code, dom.stderr.slice(-2000)).to.equal(0);
    const row = dom.stdout.split('<tr>').find((r) => r.includes('<b>crash</b>')) ?? '';
    expect(row, dom.stdout).to.include('failed');
    expect(row).to.match(/exit_status<\/span> exit status <b>3<\/b>/);
    expect(row).to.include('fatal: API key expired');
    for (const run of [desk, phone, dom]) expect(run.console, run.stderr).to.deep.equal([]);
  });

  it('shows an unreadable registry once and says "unknown" for what depends on it', async () => {
    agent = await startAgent({ ...q.env, LOG_LEVEL: 'info' }, q.dir.path);
    await eventually(async () => (await fetch(`${agent!.url}/readyz`)).status === 200, 60_000, 'the first cycle');
    writeFileSync(q.registry, '{"version": 1, "projects": [');
    // Wait for a cycle that read the broken file, so the error reaches the page by every road.
    await eventually(
      async () => {
        const r = await fetch(`${agent!.url}/readyz`);
        return r.status === 503 && ((await r.json()) as { reason: string }).reason.includes('not valid JSON');
      },
      60_000,
      'the daemon to find the registry unreadable',
    );
    const dom = await runChromium(`${agent.url}/`, ['--dump-dom']);
    expect(dom.code, dom.stderr.slice(-2000)).to.equal(0);
    expect(dom.stdout.split('Unexpected end of JSON input').length - 1, dom.stdout).to.equal(1);
    expect(dom.stdout).to.include('Unknown: the registry cannot be read');
    expect(dom.stdout.replace(/<head>[\s\S]*<\/head>/, '')).not.to.match(/\bnone\b/i);
    expect(dom.console, dom.stderr).to.deep.equal([]);
  });

  it('the console check sees a script error and a Content-Security-Policy violation', async () => {
    const html =
      `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'">` +
      `<img src="http://127.0.0.1:9/x.png"><script>console.error('control: logged error'); missing();</script>`;
    const run = await runChromium(`data:text/html,${encodeURIComponent(html)}`, ['--dump-dom']);
    expect(run.console.join('\n'), run.stderr).to.include('control: logged error');
    expect(run.console.join('\n')).to.include('missing is not defined');
    expect(run.console.join('\n')).to.include('Content Security Policy');
  });
});

function size(file: string | undefined): { width: number; height: number } {
  return pngSize(readFileSync(file ?? ''));
}
