/**
 * `agent diagnostics [--json]`: everything an operator checks first — the
 * configuration in force and where each value came from, whether /proc and
 * each tmux server can be read, registry health, the daemon's readiness,
 * recent activity, breakers and queue, and versions.
 */
import { execFile } from 'node:child_process';
import type { Command } from 'commander';
import { KEY_DEFINITIONS } from '../../config/keys.js';
import { summariseQueue, type QueueSummary } from '../../core/views/queue-summary.js';
import { messageOf } from '../../errors.js';
import { EXIT } from '../exit-codes.js';
import { hasProcfs, readProcessTable } from '../../scan/proc-table.js';
import { scanTmuxServer } from '../../scan/tmux-sessions.js';
import { describeSocket } from '../../scan/tmux-command.js';
import { countOf } from '../../core/views/wording.js';
import { unwatchedProjects, watchedServers, type UnwatchedProject } from '../../core/policy/tmux-servers.js';
import { staleMarkerTable, table } from '../format.js';
import type { StaleMarker } from '../../core/model/project.js';
import { printJson, printLine, run } from '../run.js';
import type { CliContext } from '../context.js';
import { checkSource } from '../../sources/source-set.js';
import { packageVersion } from '../../version.js';

function versionOf(command: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: 3000, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout) => {
      const missing = (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';
      resolve(
        err
          ? `unavailable (${missing ? 'not installed' : err.message.split('\n')[0]})`
          : (stdout.trim().split('\n')[0] ?? ''),
      );
    });
  });
}

interface HolderReport {
  pid: number;
  host: string;
  since: string;
  /** null: on another host, not checked. */
  alive: boolean | null;
}

/** The daemon holding a JSON registry, as its record says, and whether it still runs. */
async function daemonHolder(ctx: CliContext): Promise<HolderReport | null> {
  const daemon = await ctx.store.daemonHolder();
  if (daemon === null) return null;
  const { holder, alive } = daemon;
  return { pid: holder.pid, host: holder.host, since: holder.startedAt, alive };
}

/** The daemon's /readyz on the configured listen address, if one answers. */
async function daemonReadiness(ctx: CliContext): Promise<{ url: string; status: number | null; body: string }> {
  const sep = ctx.config.listen.lastIndexOf(':');
  let host = ctx.config.listen.slice(0, sep);
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::' || host === '[::]') host = '[::1]';
  const url = `http://${host}:${ctx.config.listen.slice(sep + 1)}/readyz`;
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(1500) });
    return { url, status: r.status, body: (await r.text()).slice(0, 500) };
  } catch (err) {
    return { url, status: null, body: `no daemon answered: ${messageOf(err)}` };
  }
}

export function registerDiagnostics(program: Command): void {
  program
    .command('diagnostics')
    .description(
      'configuration in force, /proc and tmux reachability, registry health, daemon readiness, recent activity, ' +
        'breakers, versions',
    )
    .option('--json', 'print one JSON document')
    .action((opts: { json?: boolean }, cmd: Command) =>
      run(cmd, async (ctx) => {
        const now = ctx.now();
        const health = await ctx.store.check();
        let queue: QueueSummary | null = null;
        let sockets: (string | null)[] = [null];
        let staleMarkers: { project: string; startedAt: string | null; markers: StaleMarker[] }[] = [];
        let unwatched: UnwatchedProject[] = [];
        if (health.ok) {
          const doc = await ctx.store.load();
          queue = summariseQueue(doc, ctx.config, now);
          sockets = watchedServers(ctx.config, doc.projects);
          unwatched = unwatchedProjects(doc.projects, ctx.config);
          staleMarkers = doc.projects
            .filter((p) => p.staleMarkers.length > 0)
            .map((p) => ({ project: p.id, startedAt: p.startedAt, markers: p.staleMarkers }));
        }
        const proc = await (async () => {
          try {
            const procfs = await hasProcfs();
            const t = await readProcessTable();
            const from = procfs ? '/proc' : 'ps (no /proc)';
            return { ok: true, detail: `${countOf(t.byPid.size, 'process')} read from ${from}` };
          } catch (err) {
            return { ok: false, detail: messageOf(err) };
          }
        })();
        const tmux = await Promise.all(
          sockets.map(async (socket) => {
            const s = await scanTmuxServer(socket, { timeoutMs: ctx.config.tmuxTimeoutMs });
            const detail = s.ok ? countOf(s.sessions.size, 'session') : (s.error ?? 'failed');
            return { server: describeSocket(socket), ok: s.ok, sessions: s.sessions.size, detail };
          }),
        );
        const [readiness, holder, tmuxVersion, gitVersion, sqliteVersion, audit, sources] = await Promise.all([
          daemonReadiness(ctx),
          daemonHolder(ctx),
          versionOf('tmux', ['-V']),
          versionOf('git', ['--version']),
          ctx.config.sources.some((s) => s.kind === 'tmux-orchestrator')
            ? versionOf('sqlite3', ['-version'])
            : Promise.resolve(null),
          ctx.store.readAudit(10).catch(() => []),
          Promise.all(ctx.config.sources.map((s) => checkSource(s, ctx.config, ctx.log))),
        ]);
        const config = KEY_DEFINITIONS.map((d) => ({
          key: d.key,
          env: d.env,
          // Secrets stay out of the output: the token, and a password in a redis:// registry URL (the store's
          // location is redacted). The registry is shown where it resolved to, also when it is the default.
          value:
            d.key === 'apiToken' && ctx.config.apiToken !== null
              ? '(set, hidden)'
              : d.key === 'registry'
                ? ctx.store.location
                : ctx.config[d.key],
          source: ctx.loaded.sources[d.key] ?? 'default',
        }));
        const doc = {
          versions: {
            agent: packageVersion(),
            node: process.version,
            tmux: tmuxVersion,
            git: gitVersion,
            ...(sqliteVersion ? { sqlite3: sqliteVersion } : {}),
          },
          host: ctx.hostId,
          registry: health,
          proc,
          tmux,
          daemon: { ...readiness, holder },
          sources,
          queue,
          staleMarkers,
          unwatchedProjects: unwatched,
          recentActivity: audit,
          config,
        };
        const ok =
          health.ok && proc.ok && tmux.every((t) => t.ok) && sources.every((s) => s.ok) && unwatched.length === 0;
        if (opts.json) {
          printJson(doc);
          return ok ? EXIT.ok : EXIT.problems;
        }
        printLine(
          `agent ${packageVersion()}, node ${process.version}, ${tmuxVersion}, ${gitVersion}; host ${ctx.hostId}`,
        );
        const lastGood = health.lastGood ? ', last good copy present' : '';
        const projectCount = countOf(health.projects, 'project');
        printLine(`registry  ${health.ok ? 'ok' : 'INVALID'}: ${health.location} (${projectCount}${lastGood})`);
        for (const issue of health.issues) printLine(`  - ${issue}`);
        printLine(`/proc     ${proc.ok ? 'ok' : 'FAILED'}: ${proc.detail}`);
        for (const t of tmux) printLine(`tmux      ${t.ok ? 'ok' : 'FAILED'}: ${t.server}: ${t.detail}`);
        for (const s of sources) {
          printLine(`source    ${s.ok ? 'ok' : 'FAILED'}: ${s.source} (${s.kind}, ${s.location}): ${s.detail}`);
        }
        const daemon = readiness;
        const ready =
          daemon.status === null ? 'not reachable' : daemon.status === 200 ? 'ready' : `NOT READY (${daemon.status})`;
        printLine(`daemon    ${ready}: ${daemon.url}${daemon.status === 200 ? '' : ` ${daemon.body}`}`);
        if (holder) {
          const state = holder.alive === null ? 'on another host, not checked' : holder.alive ? 'running' : 'gone';
          const who = `agent serve pid ${holder.pid} on host ${holder.host}`;
          printLine(`          held by ${who} since ${holder.since} (${state})`);
        }
        if (queue) {
          printLine(`queue     ${queue.health.status}: ${queue.health.reason}`);
          printLine(
            `breakers  closed ${queue.breakers.closed}, open ${queue.breakers.open}, ` +
              `half-open ${queue.breakers.half_open}`,
          );
        }
        if (unwatched.length > 0) {
          const what = countOf(unwatched.length, 'project');
          printLine(`\nPROBLEM: ${what} on a tmux server the agent does not watch (never seen, never healed):`);
          for (const u of unwatched) printLine(`  - ${u.reason}`);
        }
        const stale = staleMarkerTable(staleMarkers);
        if (stale !== null) printLine(`\n${stale}`);
        if (audit.length > 0) {
          printLine('\nrecent activity:');
          printLine(
            table(
              ['AT', 'TYPE', 'PROJECT', 'WHAT', 'BY'],
              audit.map((a) => [
                String(a.at),
                a.type,
                a.project ?? '-',
                String(a['action'] ?? `${String(a['from'] ?? '')}->${String(a['to'] ?? '')}`) +
                  (a['outcome'] ? ` ${String(a['outcome'])}` : ''),
                a.by,
              ]),
            ),
          );
        }
        printLine('\nconfiguration in force:');
        printLine(
          table(
            ['KEY', 'VALUE', 'SOURCE'],
            config.map((c) => [c.key, JSON.stringify(c.value), c.source]),
          ),
        );
        return ok ? EXIT.ok : EXIT.problems;
      }),
    );
}
