/**
 * Concurrency with the daemon (docs/design.md#writing-it-safely): `agent serve` cycling every
 * second and on every registry change, while 4 writer processes drive their
 * own projects through the command line (enqueue, start, heartbeat,
 * complete) and the daemon fails the ones whose process exits (phantoms).
 * test/registry/concurrency.test.ts proves 4×100 contended updates without the daemon;
 * this adds the daemon and mixed operations: no update is lost — each
 * writer's count matches the registry and the audit log.
 */
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from '../helpers/cli.js';
import { startAgent, type RunningAgent } from '../helpers/daemon.js';
import { sleep } from '../helpers/processes.js';
import { TestQueue } from '../helpers/queue.js';
import { TOKEN, healOnce, validRegistry, wholeLines } from './helpers.js';

const WRITER = fileURLToPath(new URL('./fixtures/mixed-writer.mjs', import.meta.url));
const WRITERS = ['a', 'b', 'c', 'd'];
const DURATION_MS = 20_000;

interface Summary {
  prefix: string;
  pid: number;
  enqueued: string[];
  started: string[];
  heartbeats: number;
  lastBeatAt: Record<string, string>;
  completed: string[];
  phantoms: string[];
  failures: { args: string[]; code: number }[];
}

function runWriter(q: TestQueue, prefix: string): Promise<{ code: number | null; stderr: string; summary: Summary }> {
  const path = join(q.dir.path, `summary-${prefix}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, q.registry, prefix, String(DURATION_MS), path], {
      cwd: q.dir.path,
      env: cleanEnv({ AGENT_HOST_ID: 'test-host', AGENT_TMUX_SOCKETS: q.tmux.socket, LOG_LEVEL: 'warn' }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), DURATION_MS + 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      try {
        resolve({ code, stderr, summary: JSON.parse(readFileSync(path, 'utf8')) as Summary });
      } catch (err) {
        reject(
          new Error(
            `writer ${prefix} left no summary (exit ${code}): ${(err as Error).message}\n${stderr.slice(0, 2000)}`,
          ),
        );
      }
    });
  });
}

describe('reliability: the daemon and 4 command-line writers at once', function () {
  this.timeout(150_000);
  let q: TestQueue;
  let agent: RunningAgent | null = null;
  beforeEach(() => {
    q = new TestQueue({
      AGENT_API_TOKEN: TOKEN,
      AGENT_SCAN_SCHEDULE: '* * * * * *',
      PHANTOM_GRACE_PERIOD_SEC: '0',
      AGENT_RETRY_MAX_ATTEMPTS: '1',
      LOG_LEVEL: 'debug',
    });
  });
  afterEach(async () => {
    await agent?.stop('SIGKILL');
    agent = null;
    await q.destroy();
  });

  it(`${DURATION_MS / 1000} s of enqueue, start, heartbeat and complete from 4 writers while the daemon fails phantoms: zero lost updates`, async () => {
    q.write([]);
    agent = await startAgent(q.env, q.dir.path);
    const started = Date.now();
    const writers = await Promise.all(WRITERS.map((prefix) => runWriter(q, prefix)));
    const elapsed = Date.now() - started;

    // Let the daemon fail the last phantoms (their processes exit a second after the start).
    const deadline = Date.now() + 30_000;
    const phantoms = new Set(writers.flatMap((w) => w.summary.phantoms));
    for (;;) {
      await sleep(1200);
      await healOnce(agent.url);
      const open = validRegistry(q.registry).projects.filter((p) => phantoms.has(p.id) && p.state !== 'failed');
      if (open.length === 0) break;
      if (Date.now() > deadline)
        throw new Error(`phantoms not failed: ${open.map((p) => `${p.id}:${p.state}`).join(', ')}`);
    }
    const daemonCycles = (agent.stderr().match(/"message":"cycle done"/g) ?? []).length;
    const stopped = await agent.stop('SIGTERM');
    agent = null;
    expect(stopped.code).to.equal(0);

    const doc = validRegistry(q.registry);
    const audit = wholeLines(join(q.dir.path, 'data', 'audit.jsonl'));
    const byId = new Map(doc.projects.map((p) => [p.id, p]));
    const auditOf = (prefix: string, to: string, by: RegExp) =>
      audit.filter(
        (a) =>
          a['type'] === 'transition' &&
          String(a['project']).startsWith(`${prefix}-`) &&
          a['to'] === to &&
          by.test(String(a['by'])),
      );

    let commands = 0;
    for (const { code, stderr, summary: s } of writers) {
      expect(code, `writer ${s.prefix}: ${stderr.slice(0, 1000)}`).to.equal(0);
      expect(s.failures, `writer ${s.prefix}: commands that failed`).to.deep.equal([]);
      commands += s.enqueued.length + s.started.length + s.heartbeats + s.completed.length;

      // The registry holds exactly what the writer did.
      const mine = doc.projects.filter((p) => p.id.startsWith(`${s.prefix}-`));
      expect(mine.map((p) => p.id).sort(), `writer ${s.prefix}: projects in the registry`).to.deep.equal(
        [...s.enqueued].sort(),
      );
      const completed = new Set(s.completed);
      const phantom = new Set(s.phantoms);
      for (const id of s.enqueued) {
        const p = byId.get(id);
        expect(p, id).to.not.equal(undefined);
        if (!p) continue;
        const moves = p.history.map((h) => `${h.from}>${h.to}`);
        if (completed.has(id)) {
          expect(p.state, id).to.equal('completed');
          expect(moves, id).to.deep.equal(['queued>processing', 'processing>completed']);
          // The last heartbeat the writer sent was not lost (heartbeats are not history or audit lines).
          expect(
            Date.parse(p.heartbeatAt ?? '') >= Date.parse(s.lastBeatAt[id] ?? 'x'),
            `${id}: heartbeatAt ${p.heartbeatAt}, last sent ${s.lastBeatAt[id]}`,
          ).to.equal(true);
        } else if (phantom.has(id)) {
          expect(p.state, id).to.equal('failed');
          expect(p.failureReason, id).to.equal('phantom');
          expect(moves, id).to.deep.equal(['queued>processing', 'processing>failed']);
        } else {
          expect(p.state, `${id}: enqueued but never started`).to.equal('queued');
        }
      }
      expect(mine.filter((p) => p.state === 'completed')).to.have.length(s.completed.length);

      // The audit log holds one line per reported transition, and the daemon's phantom failures.
      expect(auditOf(s.prefix, 'queued', /^cli@/), `writer ${s.prefix}: audit lines enqueued`).to.have.length(
        s.enqueued.length,
      );
      expect(auditOf(s.prefix, 'processing', /^cli@/), `writer ${s.prefix}: audit lines started`).to.have.length(
        s.started.length,
      );
      expect(auditOf(s.prefix, 'completed', /^cli@/), `writer ${s.prefix}: audit lines completed`).to.have.length(
        s.completed.length,
      );
      expect(
        auditOf(s.prefix, 'failed', /^agent@/),
        `writer ${s.prefix}: audit lines of phantoms failed by the daemon`,
      ).to.have.length(s.phantoms.length);
    }
    const figures = {
      seconds: Math.round(elapsed / 1000),
      commands,
      commandsPerSecond: Math.round(commands / (elapsed / 1000)),
      daemonCycles,
      projects: doc.projects.length,
      completed: writers.reduce((n, w) => n + w.summary.completed.length, 0),
      phantomsFailedByDaemon: phantoms.size,
      heartbeats: writers.reduce((n, w) => n + w.summary.heartbeats, 0),
      auditLines: audit.length,
    };
    console.log(`      concurrency figures: ${JSON.stringify(figures)}`);
    expect(daemonCycles).to.be.greaterThan(10);
  });
});
