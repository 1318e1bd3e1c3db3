import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  pageSize,
  parseStat,
  readProcess,
  readProcessTable,
  readOwners,
  readProcessTableFromPs,
  readStartTime,
} from '../../src/scan/proc-table.js';
import { Processes, statStartTime } from '../helpers/processes.js';

/** A stat line with `comm` and the fields this project reads; the rest are plausible zeros. */
function statLine(
  pid: number,
  comm: string,
  fields: { state?: string; ppid?: number; pgid?: number; startTime?: number } = {},
): string {
  const after = Array.from({ length: 49 }, () => '0');
  after[0] = fields.state ?? 'S';
  after[1] = String(fields.ppid ?? 1);
  after[2] = String(fields.pgid ?? pid);
  after[11] = '30'; // utime
  after[12] = '12'; // stime
  after[13] = '7'; // cutime
  after[14] = '3'; // cstime
  after[19] = String(fields.startTime ?? 4242);
  after[21] = '250'; // rss, in pages
  return `${pid} (${comm}) ${after.join(' ')}\n`;
}

describe('proc-table', () => {
  const processes = new Processes();
  let fixture: string;

  beforeEach(async () => {
    fixture = await mkdtemp(join(tmpdir(), 'toa-proc-'));
  });
  afterEach(async () => {
    await processes.cleanup();
    await rm(fixture, { recursive: true, force: true });
  });

  async function fixturePid(pid: number, files: Record<string, string>): Promise<void> {
    await mkdir(join(fixture, String(pid)), { recursive: true });
    for (const [name, text] of Object.entries(files)) await writeFile(join(fixture, String(pid), name), text);
  }

  describe('on the real /proc', () => {
    it('finds a spawned sleep with our pid as parent and the kernel start time', async () => {
      const pid = await processes.sleeper();
      const table = await readProcessTable();
      const row = table.byPid.get(pid);
      expect(row, 'sleep in the table').to.not.equal(undefined);
      expect(row?.ppid).to.equal(process.pid);
      expect(row?.startTime).to.equal(statStartTime(pid));
      expect(row?.comm).to.equal('sleep');
      expect(row?.cmdline).to.deep.equal(['sleep', '60']);
      expect(row?.uid).to.equal(process.getuid?.());
      expect(row?.state).to.match(/^[RS]$/);
    });

    it('puts a detached child in its own process group', async () => {
      const pid = await processes.sleeper({ detached: true });
      const row = (await readProcessTable()).byPid.get(pid);
      expect(row?.pgid).to.equal(pid);
    });

    it('reads one process and its start time without a full scan', async () => {
      const pid = await processes.sleeper();
      expect((await readProcess(pid))?.ppid).to.equal(process.pid);
      expect(await readStartTime(pid)).to.equal(statStartTime(pid));
    });

    it('keeps scanning while processes come and go', async function () {
      // Each spawn holds this process's event loop for the fork; on a busy machine the reads take their turns slowly.
      this.timeout(120_000);
      // Real churn: short-lived children exit while the table is read, exercising the vanish path.
      let churning = true;
      const churn = (async () => {
        while (churning) {
          const child = processes.spawn('true', [], { stdio: 'ignore' });
          await new Promise((r) => child.once('exit', r));
        }
      })();
      try {
        for (let i = 0; i < 5; i += 1) expect((await readProcessTable()).byPid.size).to.be.greaterThan(0);
      } finally {
        churning = false;
        await churn;
      }
    });

    it('gives null for a PID that does not exist', async () => {
      expect(await readProcess(999_999_999)).to.equal(null);
      expect(await readStartTime(999_999_999)).to.equal(null);
    });
  });

  describe('on a fixture root', () => {
    it('parses a comm containing spaces and parentheses', async () => {
      await fixturePid(123, {
        stat: statLine(123, 'a) b (c', { ppid: 7, pgid: 120, state: 'Z', startTime: 81234567 }),
        status: 'Name:\ta) b (c\nUid:\t1000\t1001\t1002\t1003\n',
        cmdline: 'python3\0auto orchestrate.py\0',
      });
      const table = await readProcessTable(fixture);
      expect(table.byPid.get(123)).to.deep.equal({
        pid: 123,
        ppid: 7,
        pgid: 120,
        state: 'Z',
        startTime: 81234567,
        uid: 1000,
        comm: 'a) b (c',
        cmdline: ['python3', 'auto orchestrate.py'],
        cpuTicks: 42,
        rssBytes: 250 * pageSize(),
      });
    });

    it('skips a pid directory whose files vanished, keeping the others', async () => {
      await fixturePid(10, { stat: statLine(10, 'kept'), status: 'Uid:\t0\t0\t0\t0\n', cmdline: '' });
      // What the kernel shows for a process that exits between readdir and read.
      await fixturePid(11, {});
      await fixturePid(12, { stat: statLine(12, 'half-gone'), status: 'Uid:\t0\t0\t0\t0\n' });
      const table = await readProcessTable(fixture);
      expect([...table.byPid.keys()]).to.deep.equal([10]);
      expect(table.byPid.get(10)?.cmdline).to.deep.equal([]);
    });

    it('ignores entries that are not PIDs', async () => {
      await fixturePid(10, { stat: statLine(10, 'kept'), status: 'Uid:\t0\t0\t0\t0\n', cmdline: 'x\0' });
      await mkdir(join(fixture, 'sys'));
      await writeFile(join(fixture, 'uptime'), '1.0 1.0\n');
      expect([...(await readProcessTable(fixture)).byPid.keys()]).to.deep.equal([10]);
    });

    it('propagates any other error with the path', async () => {
      await mkdir(join(fixture, '13', 'stat'), { recursive: true });
      const err = await readProcessTable(fixture).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err?.message)
        .to.include(join(fixture, '13', 'stat'))
        .and.include('EISDIR');
    });

    it('rejects a malformed stat line with context', async () => {
      await fixturePid(14, { stat: '14 (truncated', status: 'Uid:\t0\t0\t0\t0\n', cmdline: '' });
      const err = await readProcessTable(fixture).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err?.message).to.include('malformed stat line');
    });

    it('rejects a root that does not exist, rather than reporting no processes', async () => {
      const err = await readProcessTable(join(fixture, 'missing')).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(err?.message).to.include('listing').and.include('ENOENT');
    });

    it('takes the uid from the directory owner when status has no Uid line', async () => {
      await fixturePid(15, { stat: statLine(15, 'x'), status: 'Name:\tx\n', cmdline: '' });
      expect((await readProcessTable(fixture)).byPid.get(15)?.uid).to.equal(process.getuid?.());
    });
  });

  describe('readOwners', () => {
    it('fills the uid of recorded processes still running with their start time, and of nothing else', async () => {
      const status = (uid: number) => `Name:\tx\nState:\tS (sleeping)\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\n`;
      await fixturePid(10, { stat: statLine(10, 'mine', { startTime: 100 }), status: status(1000) });
      await fixturePid(11, { stat: statLine(11, 'reused', { startTime: 999 }), status: status(0) });
      await fixturePid(12, { stat: statLine(12, 'no-uid-line', { startTime: 120 }), status: 'Name:\tx\n' });
      await fixturePid(13, { stat: statLine(13, 'gone', { startTime: 130 }) }); // status vanished meanwhile
      await fixturePid(14, { stat: statLine(14, 'unrecorded', { startTime: 140 }), status: status(0) });
      const table = await readProcessTable(fixture, { fields: 'stat' });
      await readOwners(
        table,
        [
          { pid: 10, pidStartTime: 100 },
          { pid: 11, pidStartTime: 110 },
          { pid: 12, pidStartTime: 120 },
          { pid: 13, pidStartTime: 130 },
          { pid: 99, pidStartTime: 1 },
        ],
        fixture,
      );
      const uid = (pid: number) => table.byPid.get(pid)?.uid;
      expect(uid(10)).to.equal(1000);
      expect(uid(11), 'a PID reused by another process').to.equal(null);
      expect(uid(12), 'the directory owner when status has no Uid line').to.equal(process.getuid?.());
      expect(uid(13)).to.equal(null);
      expect(uid(14), 'not recorded').to.equal(null);
    });
  });

  describe('parseStat', () => {
    it('takes the numeric fields after the last parenthesis', () => {
      expect(parseStat(statLine(9, ') S 1 2 3 (', { ppid: 5, pgid: 6, startTime: 77 }))).to.deep.equal({
        pid: 9,
        comm: ') S 1 2 3 (',
        state: 'S',
        ppid: 5,
        pgid: 6,
        startTime: 77,
        cpuTicks: 42,
        childCpuTicks: 10,
        rssPages: 250,
      });
    });

    it('leaves CPU time and resident size unknown when a short line lacks them', () => {
      const short = `9 (sh) S 1 9 ${Array.from({ length: 17 }, () => '0').join(' ')}`; // ends at field 22, the start time
      expect(parseStat(short)).to.include({ startTime: 0, cpuTicks: 0, childCpuTicks: 0, rssPages: null });
      expect(
        parseStat(`9 (sh) S 1 9 ${Array.from({ length: 17 }, (_, i) => (i === 8 ? 'x' : '0')).join(' ')}`),
      ).to.include({ cpuTicks: null });
    });
  });

  describe('the ps-list fallback', () => {
    it('finds a spawned sleep, with unknown start time, group and state left null', async () => {
      const pid = await processes.sleeper();
      const row = (await readProcessTableFromPs()).byPid.get(pid);
      expect(row?.ppid).to.equal(process.pid);
      expect(row?.uid).to.equal(process.getuid?.());
      expect(row?.startTime).to.equal(null);
      expect(row?.pgid).to.equal(null);
      expect(row?.state).to.equal(null);
      expect(row?.cmdline).to.deep.equal(['sleep', '60']);
    });
  });
});
