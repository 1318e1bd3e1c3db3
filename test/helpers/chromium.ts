/**
 * Debian's `chromium` run headless against a URL, for tests that check a page
 * as a browser renders it: a screenshot, the DOM after load, and the console
 * messages (console calls, uncaught exceptions, Content-Security-Policy
 * violations), which `--enable-logging=stderr` writes as `:CONSOLE` lines.
 *
 * Each run gets a fresh profile directory and its own process group; the
 * group, and any process still naming that profile, is SIGKILLed and the
 * directory removed when the run ends, fails or times out.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { tempDir } from './cli.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Flags that keep a headless run quiet and local: no GPU, no QUIC, no background fetches, no first-run work. */
const BASE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
  '--enable-logging=stderr',
  '--v=0',
];

export interface ChromiumRun {
  code: number | null;
  /** The DOM with --dump-dom; empty otherwise. */
  stdout: string;
  stderr: string;
  /** The console lines of stderr (messages, exceptions, CSP violations). */
  console: string[];
}

/** Console messages in Chromium's stderr log: `[pid:tid:time:INFO:CONSOLE:12] "message", source: url (12)`. */
export function consoleLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => /:CONSOLE[:(\]]/.test(line) || /Content Security Policy/.test(line));
}

/** PIDs of processes whose command line names `marker` (the run's own profile directory). */
function processesNaming(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function kill(target: number): void {
  try {
    process.kill(target, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Runs not finished yet: each entry kills its browser and removes its profile. */
const running = new Set<() => void>();

/** Kill every run still going and remove its profile (for afterEach, when a test timed out mid-run). */
export function stopChromiumRuns(): void {
  for (const stop of [...running]) stop();
}

/**
 * One headless Chromium run on `url` with `extra` flags (`--dump-dom`,
 * `--screenshot=<file>`, `--window-size=W,H`); rejects after `timeoutMs`.
 */
export async function runChromium(url: string, extra: string[], timeoutMs = 90_000): Promise<ChromiumRun> {
  const profile = tempDir('toa-chromium-');
  const child = spawn(CHROMIUM, [...BASE_FLAGS, `--user-data-dir=${profile.path}`, ...extra, url], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = (): void => {
    running.delete(stop);
    if (child.pid !== undefined) kill(-child.pid);
    for (const pid of processesNaming(profile.path)) kill(pid);
    profile.cleanup();
  };
  running.add(stop);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`chromium did not finish within ${timeoutMs} ms on ${url}:\n${stderr.slice(-2000)}`)),
        timeoutMs,
      );
      child.once('error', reject);
      child.once('close', (c) => resolve(c));
    });
    return { code, stdout, stderr, console: consoleLines(stderr) };
  } finally {
    clearTimeout(timer);
    stop();
  }
}

/** Width and height from a PNG's IHDR chunk; throws when `bytes` is not a PNG. */
export function pngSize(bytes: Buffer): { width: number; height: number } {
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(signature) || bytes.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error(`not a PNG (${bytes.length} bytes)`);
  }
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
