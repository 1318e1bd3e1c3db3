/**
 * The process table, read from procfs. The root is configurable so tests can
 * run the parser on fixture directories (like node_exporter's --path.procfs).
 * Without procfs (no `/proc/self`), the table comes from ps-list, which lacks
 * process groups, states and start ticks: those stay null, so start-time
 * checks fail closed and nothing is ever signalled on such a host.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import psList from 'ps-list';
import type { ProcessInfo, ProcessTable } from '../core/model/snapshot.js';

/** A system constant from getconf, once per process; `fallback` when getconf cannot say. */
function sysconf(name: string, fallback: number): () => number {
  let value: number | null = null;
  return () => {
    if (value === null) {
      try {
        const n = Number(
          execFileSync('getconf', [name], {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'ignore'],
            timeout: 2000,
          }).trim(),
        );
        value = Number.isInteger(n) && n > 0 ? n : fallback;
      } catch {
        value = fallback;
      }
    }
    return value;
  };
}

/** Clock ticks per second, the unit of stat's times (USER_HZ: 100 on every Linux in use). */
export const clockTicksPerSecond = sysconf('CLK_TCK', 100);
/** Bytes per page, the unit of stat's rss. */
export const pageSize = sysconf('PAGESIZE', 4096);

/** The usage fields of a process row from its stat fields (absent when the line lacked them). */
function usageOf(f: StatFields): Pick<ProcessInfo, 'cpuTicks' | 'rssBytes'> {
  return {
    ...(f.cpuTicks !== null ? { cpuTicks: f.cpuTicks } : {}),
    ...(f.rssPages !== null ? { rssBytes: f.rssPages * pageSize() } : {}),
  };
}

/** Where procfs is mounted unless a caller says otherwise. */
export const DEFAULT_PROC_ROOT = '/proc';

/** Files read concurrently while scanning; bounded so a big host cannot exhaust file descriptors. */
const READ_CONCURRENCY = 32;

/** The fields of /proc/<pid>/stat this project uses. */
export interface StatFields {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgid: number;
  /** Field 22: start time in clock ticks since boot. */
  startTime: number;
  /** Fields 14 + 15 (utime + stime): CPU time used, in clock ticks; null when the line lacks them. */
  cpuTicks: number | null;
  /**
   * Fields 16 + 17 (cutime + cstime): CPU time of the children the process waited for, in clock ticks; null when
   * the line lacks them.
   */
  childCpuTicks: number | null;
  /** Field 24: resident set size in pages; null when the line lacks it. */
  rssPages: number | null;
}

/** A count from a stat token, or null when the token is missing or not a whole number. */
function count(token: string | undefined): number | null {
  if (token === undefined) return null;
  const n = Number(token);
  return Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/**
 * Parse one /proc/<pid>/stat line. comm sits in parentheses and may itself
 * contain spaces and `)`, so the numeric fields are those after the LAST `)`.
 */
export function parseStat(text: string): StatFields {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) throw new Error(`malformed stat line: ${JSON.stringify(text.slice(0, 200))}`);
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // Fields after ")" start with field 3 (state); field N is token N - 3. Only the tokens used are
  // cut out: the scan parses every process's line each cycle.
  const tokens = statTokens(text, close + 1);
  const state = tokens[0] ?? '';
  const ppid = Number(tokens[1]);
  const pgid = Number(tokens[2]);
  const startTime = Number(tokens[7]);
  if (
    !Number.isInteger(pid) ||
    !/^[A-Za-z]$/.test(state) ||
    !Number.isInteger(ppid) ||
    !Number.isInteger(pgid) ||
    !Number.isInteger(startTime) ||
    tokens[7] === undefined
  ) {
    throw new Error(`malformed stat line: ${JSON.stringify(text.slice(0, 200))}`);
  }
  const utime = count(tokens[3]);
  const stime = count(tokens[4]);
  const cutime = count(tokens[5]);
  const cstime = count(tokens[6]);
  return {
    pid,
    comm,
    state,
    ppid,
    pgid,
    startTime,
    cpuTicks: utime === null || stime === null ? null : utime + stime,
    childCpuTicks: cutime === null || cstime === null ? null : cutime + cstime,
    rssPages: count(tokens[8]),
  };
}

/**
 * Token indexes after ")" that parseStat reads: state, ppid, pgrp, utime, stime, cutime, cstime, starttime and rss
 * (fields 3, 4, 5, 14-17, 22, 24).
 */
const WANTED_TOKENS = [0, 1, 2, 11, 12, 13, 14, 19, 21] as const;

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13 || code === 11 || code === 12;
}

/** The wanted whitespace-separated tokens of `text` from `from` on, in WANTED_TOKENS order; missing ones are absent. */
function statTokens(text: string, from: number): string[] {
  const out: string[] = [];
  let token = 0;
  let want = 0;
  let i = from;
  const n = text.length;
  while (i < n && want < WANTED_TOKENS.length) {
    while (i < n && isSpace(text.charCodeAt(i))) i += 1;
    if (i >= n) break;
    const start = i;
    while (i < n && !isSpace(text.charCodeAt(i))) i += 1;
    if (token === WANTED_TOKENS[want]) {
      out.push(text.slice(start, i));
      want += 1;
    }
    token += 1;
  }
  return out;
}

/** The real uid from the `Uid:` line of /proc/<pid>/status, or null when the line is missing. */
export function parseStatusUid(text: string): number | null {
  const match = /^Uid:\s+(\d+)/m.exec(text);
  return match ? Number(match[1]) : null;
}

/** A process that exits while we read it is routine (node_exporter does the same): ENOENT or ESRCH. */
export function isVanished(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ESRCH';
}

function withContext(err: unknown, what: string): Error {
  const message = err instanceof Error ? err.message : String(err);
  return new Error(`${what}: ${message}`, { cause: err });
}

/** True when `procRoot` looks like a mounted procfs. */
export async function hasProcfs(procRoot: string = DEFAULT_PROC_ROOT): Promise<boolean> {
  try {
    await stat(join(procRoot, 'self'));
    return true;
  } catch {
    return false;
  }
}

/** Only the real default root falls back to ps-list; a custom root (a fixture) is always parsed as procfs. */
async function usePs(procRoot: string): Promise<boolean> {
  return procRoot === DEFAULT_PROC_ROOT && !(await hasProcfs(procRoot));
}

/** One process from procfs; null when it vanished mid-read. Other errors propagate with the path. */
async function readProcfsEntry(pid: number, procRoot: string): Promise<ProcessInfo | null> {
  const dir = join(procRoot, String(pid));
  let current = '';
  try {
    current = join(dir, 'stat');
    const fields = parseStat(await readFile(current, 'utf8'));
    current = join(dir, 'status');
    let uid = parseStatusUid(await readFile(current, 'utf8'));
    if (uid === null) {
      // Fixtures and odd kernels may lack the Uid line; the directory's owner is the effective uid.
      current = dir;
      uid = (await stat(dir)).uid;
    }
    current = join(dir, 'cmdline');
    const raw = await readFile(current, 'utf8');
    const cmdline = raw.split('\0');
    if (cmdline[cmdline.length - 1] === '') cmdline.pop();
    return {
      pid: fields.pid,
      ppid: fields.ppid,
      pgid: fields.pgid,
      state: fields.state,
      startTime: fields.startTime,
      uid,
      comm: fields.comm,
      cmdline,
      ...usageOf(fields),
    };
  } catch (err) {
    if (isVanished(err)) return null;
    throw withContext(err, `reading ${current}`);
  }
}

/** Run `task` over `items` with at most `limit` in flight. */
async function mapBounded<T, R>(items: readonly T[], limit: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next;
      next += 1;
      results[i] = await task(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export interface ReadTableOptions {
  /**
   * What to read of each process. `full` (default): stat, status (uid) and
   * cmdline. `stat`: /proc/<pid>/stat alone, one read per process, with uid
   * null and cmdline empty — all a cycle's scan needs (liveness, trees,
   * groups, defunct states); whatever signals a process reads a full table of
   * its own first.
   */
  fields?: 'full' | 'stat';
}

/** The whole process table. PIDs that vanish mid-read are skipped; any other error rejects with context. */
export async function readProcessTable(
  procRoot: string = DEFAULT_PROC_ROOT,
  options: ReadTableOptions = {},
): Promise<ProcessTable> {
  if (await usePs(procRoot)) return readProcessTableFromPs();
  let names: string[];
  try {
    names = await readdir(procRoot);
  } catch (err) {
    throw withContext(err, `listing ${procRoot}`);
  }
  const pids = names.filter((n) => /^\d+$/.test(n)).map(Number);
  const byPid = new Map<number, ProcessInfo>();
  if (options.fields === 'stat') {
    await readStatsInto(byPid, pids, procRoot);
    return { byPid };
  }
  const rows = await mapBounded(pids, READ_CONCURRENCY, (pid) => readProcfsEntry(pid, procRoot));
  for (const row of rows) if (row) byPid.set(row.pid, row);
  return { byPid };
}

/** procfs files read between two turns of the event loop, so a big host never stalls the HTTP server for long. */
const READ_BATCH = 256;

/** One turn of the event loop, taken between two batches of reads. */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/**
 * Big enough for a stat line (at most ~1 KiB: comm is at most 64 bytes) and for the head of a status file, whose
 * Uid line comes within its first few hundred bytes; a stat line cut at the end fails to parse loudly.
 */
const procBuffer = Buffer.alloc(4096);

/**
 * The start of a small procfs file (stat, status) with synchronous
 * open/read/close into a shared buffer: on procfs these never block on a
 * disk, and they cost a fraction of the four thread-pool round trips and the
 * 64 KiB buffer of an async readFile. null when the process is gone.
 */
function readProcFileSync(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    if (isVanished(err)) return null;
    throw withContext(err, `reading ${path}`);
  }
  try {
    const length = readSync(fd, procBuffer, 0, procBuffer.length, 0);
    return procBuffer.toString('utf8', 0, length);
  } catch (err) {
    // ESRCH: the process exited between open and read.
    if (isVanished(err)) return null;
    throw withContext(err, `reading ${path}`);
  } finally {
    closeSync(fd);
  }
}

async function readStatsInto(
  byPid: Map<number, ProcessInfo>,
  pids: readonly number[],
  procRoot: string,
): Promise<void> {
  for (let i = 0; i < pids.length; i++) {
    if (i > 0 && i % READ_BATCH === 0) await nextTurn();
    const path = join(procRoot, String(pids[i]), 'stat');
    const text = readProcFileSync(path);
    if (text === null) continue;
    let f: StatFields;
    try {
      f = parseStat(text);
    } catch (err) {
      throw withContext(err, `reading ${path}`);
    }
    byPid.set(f.pid, {
      pid: f.pid,
      ppid: f.ppid,
      pgid: f.pgid,
      state: f.state,
      startTime: f.startTime,
      uid: null,
      comm: f.comm,
      cmdline: [],
      ...usageOf(f),
    });
  }
}

/** A recorded process: its PID and the start time it was recorded with. */
export interface RecordedPid {
  pid: number;
  pidStartTime: number | null;
}

/**
 * Fill in the owner (uid) of the rows of a stat-only table that are still
 * the `recorded` processes (same start time): the processes a cycle may
 * plan to signal, whose owner the kill rule checks. One synchronous read
 * of the head of each status file; a process that vanished meanwhile keeps
 * its null.
 */
export async function readOwners(
  table: ProcessTable,
  recorded: readonly RecordedPid[],
  procRoot: string = DEFAULT_PROC_ROOT,
): Promise<void> {
  const rows = recorded
    .map((r) => table.byPid.get(r.pid))
    .filter(
      (row, i): row is ProcessInfo =>
        row !== undefined && row.uid === null && row.startTime !== null && row.startTime === recorded[i]?.pidStartTime,
    );
  const distinct = [...new Set(rows)];
  for (let i = 0; i < distinct.length; i++) {
    if (i > 0 && i % READ_BATCH === 0) await nextTurn();
    const row = distinct[i] as ProcessInfo;
    const dir = join(procRoot, String(row.pid));
    const status = readProcFileSync(join(dir, 'status'));
    if (status === null) continue;
    try {
      row.uid = parseStatusUid(status) ?? (await stat(dir)).uid;
    } catch (err) {
      if (!isVanished(err)) throw withContext(err, `reading ${dir}`);
    }
  }
}

/**
 * One process, for cheap liveness probes of a tracked PID; null when it does
 * not exist. Without procfs this asks ps-list, and startTime is then null.
 */
export async function readProcess(pid: number, procRoot: string = DEFAULT_PROC_ROOT): Promise<ProcessInfo | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  if (await usePs(procRoot)) return (await readProcessTableFromPs()).byPid.get(pid) ?? null;
  return readProcfsEntry(pid, procRoot);
}

/**
 * /proc/<pid>/stat alone (one read), for polling a process while it dies;
 * null when it is gone or procfs is absent.
 */
export async function readStat(pid: number, procRoot: string = DEFAULT_PROC_ROOT): Promise<StatFields | null> {
  if (!Number.isInteger(pid) || pid <= 0) return null;
  const path = join(procRoot, String(pid), 'stat');
  // Synchronous into the shared buffer: the PID probe calls this for every tracked PID four times a
  // second, and an async readFile of a procfs file (size 0) allocates a 64 KiB buffer each time.
  const text = readProcFileSync(path);
  if (text === null) return null;
  try {
    return parseStat(text);
  } catch (err) {
    throw withContext(err, `reading ${path}`);
  }
}

/**
 * Field 22 of /proc/<pid>/stat, or null when the process is gone or procfs is
 * absent (so a comparison with a recorded start time fails closed).
 */
export async function readStartTime(pid: number, procRoot: string = DEFAULT_PROC_ROOT): Promise<number | null> {
  return (await readStat(pid, procRoot))?.startTime ?? null;
}

/**
 * The table from ps-list, for hosts without procfs. ps gives no process
 * group, state or start ticks (null), and the command line only as one
 * string, split on whitespace here as a best effort.
 */
export async function readProcessTableFromPs(): Promise<ProcessTable> {
  let rows: Awaited<ReturnType<typeof psList>>;
  try {
    rows = await psList({ all: true });
  } catch (err) {
    throw withContext(err, 'listing processes with ps');
  }
  const byPid = new Map<number, ProcessInfo>();
  for (const row of rows) {
    byPid.set(row.pid, {
      pid: row.pid,
      ppid: row.ppid,
      pgid: null,
      state: null,
      startTime: null,
      uid: row.uid ?? null,
      comm: row.name,
      cmdline: row.cmd ? row.cmd.split(/\s+/).filter(Boolean) : [],
    });
  }
  return { byPid };
}
