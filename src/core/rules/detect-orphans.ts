/**
 * Leftovers (docs/design.md#liveness-and-detection): sessions nobody live owns, processes of finished
 * projects, and defunct processes inside tracked trees.
 *
 * Ownership is by exact session name and socket. A session owned by any
 * non-terminal project (of any host) is never an orphan: another host's
 * project may share a registry, and a false "orphan" would kill live work.
 * Sessions that match no pattern and belong to no project are never touched.
 */
import { detection, secs, type DetectContext } from './detect-active.js';
import { compilePatterns } from './patterns.js';
import type { Plan } from '../model/plan.js';
import { isActive, isTerminal, ms, type Project } from '../model/project.js';
import { indexTree, treeOf, type TreeIndex } from './process-tree.js';
import { findServer, pidStatusOf, processScanOk, serverLabel } from './liveness.js';

/**
 * @param projects every project in the registry (ownership)
 * @param local the projects of this host (the ones whose leftovers are ours to kill)
 */
export function detectOrphanSessions(
  projects: readonly Project[],
  local: readonly Project[],
  ctx: DetectContext,
  plan: Plan,
): void {
  const { config, now, snapshot } = ctx;
  const patterns = compilePatterns(config.orphanSessionPatterns);
  const graceMs = config.orphanGraceSec * 1000;
  const localIds = new Set(local.map((p) => p.id));
  // Owners by socket and session name, indexed once: a registry holds thousands of projects, a server hundreds
  // of sessions.
  const owned = new Map<string | null, Map<string, Project[]>>();
  for (const p of projects) {
    if (p.session === null) continue;
    let bySession = owned.get(p.tmuxSocket);
    if (!bySession) owned.set(p.tmuxSocket, (bySession = new Map<string, Project[]>()));
    const list = bySession.get(p.session);
    if (list) list.push(p);
    else bySession.set(p.session, [p]);
  }
  for (const server of snapshot.tmux) {
    if (!server.ok) continue;
    const where = serverLabel(server.socket);
    for (const [name, panes] of server.sessions) {
      const owners = owned.get(server.socket)?.get(name) ?? [];
      if (owners.some((p) => !isTerminal(p.state))) continue;
      const finished = owners.filter((p) => localIds.has(p.id));
      if (finished.length > 0) {
        // The latest ending owner decides: an older attempt's end is not this session's.
        let owner: Project | undefined;
        let endedAt: number | null = null;
        for (const p of finished) {
          const ended = ms(p.endedAt);
          if (ended !== null && (endedAt === null || ended > endedAt)) {
            owner = p;
            endedAt = ended;
          }
        }
        if (!owner || endedAt === null) continue;
        // A session whose panes are all dead (kept by remain-on-exit) runs nothing: no grace to wait out.
        const dead = panes.every((p) => p.paneDead);
        if (!dead && now - endedAt <= graceMs) continue;
        const subject = `session ${name} of ${owner.state} project ${owner.id}`;
        const reason = dead
          ? `${subject} on ${where} holds only dead panes: nothing runs in it`
          : `${subject} still alive on ${where} ${secs(now - endedAt)} after it ended ` +
            `(orphan grace ${config.orphanGraceSec}s)`;
        plan.actions.push({
          kind: 'kill_session',
          project: owner.id,
          session: name,
          tmuxSocket: server.socket,
          reason,
        });
        plan.detections.push({
          kind: 'orphan_session',
          project: owner.id,
          session: name,
          tmuxSocket: server.socket,
          pid: null,
          reason,
        });
        continue;
      }
      const pattern = patterns.find((re) => re.test(name));
      if (!pattern) continue;
      const created = panes.find((p) => p.sessionCreatedAt !== null)?.sessionCreatedAt ?? null;
      // Unknown age: never old enough.
      if (created === null || now - created <= graceMs) continue;
      const reason =
        `session ${name} on ${where} matches orphan pattern ${pattern.source}, is owned by no live project, ` +
        `and was created ${secs(now - created)} ago (orphan grace ${config.orphanGraceSec}s)`;
      plan.actions.push({ kind: 'kill_session', project: null, session: name, tmuxSocket: server.socket, reason });
      plan.detections.push({
        kind: 'orphan_session',
        project: null,
        session: name,
        tmuxSocket: server.socket,
        pid: null,
        reason,
      });
    }
  }
}

/**
 * A finished project's recorded process still running (same start time) past
 * the orphan grace: kill its tree. A defunct one (exited, its parent never
 * reaped it) runs nothing and cannot be killed further: it is reported, never
 * planned as a kill, unless it leads a group that still holds a live process
 * (the tree kill reaches those through the group).
 */
export function detectLeftoverProcesses(
  projects: readonly Project[],
  local: readonly Project[],
  ctx: DetectContext,
  plan: Plan,
): void {
  const { config, now, snapshot } = ctx;
  if (!processScanOk(snapshot)) return;
  const graceMs = config.orphanGraceSec * 1000;
  const claimed = new Set(
    projects.filter((p) => !isTerminal(p.state) && p.pid !== null).map((p) => `${p.pid}:${p.pidStartTime}`),
  );
  for (const project of local) {
    if (!isTerminal(project.state) || project.pid === null || project.pidStartTime === null) continue;
    const seen = snapshot.processes.byPid.get(project.pid);
    if (!seen || seen.startTime !== project.pidStartTime) continue;
    if (claimed.has(`${project.pid}:${project.pidStartTime}`)) continue;
    const ended = ms(project.endedAt);
    if (ended === null || now - ended <= graceMs) continue;
    if (pidStatusOf(project, snapshot).status !== 'alive') {
      const reason =
        `pid ${project.pid} (${seen.comm}) of ${project.state} project ${project.id} is defunct ` +
        `${secs(now - ended)} after it ended: its parent (pid ${seen.ppid}) never reaped it; nothing to kill`;
      plan.detections.push(detection('defunct_process', project, reason));
      continue;
    }
    const reason =
      `pid ${project.pid} of ${project.state} project ${project.id} still alive ${secs(now - ended)} ` +
      `after it ended (orphan grace ${config.orphanGraceSec}s)`;
    plan.actions.push({
      kind: 'kill_tree',
      project: project.id,
      pid: project.pid,
      pidStartTime: project.pidStartTime,
      session: null,
      tmuxSocket: project.tmuxSocket,
      reason,
    });
    plan.detections.push(detection('orphan_session', project, reason));
  }
}

/**
 * Defunct (`Z`) processes inside an active project's trees: its recorded PID
 * (when it is still the recorded process) and the pane processes of its
 * session. Reported once per project; nothing is done about them.
 */
export function detectDefunct(local: readonly Project[], ctx: DetectContext, plan: Plan): void {
  const { snapshot } = ctx;
  if (!processScanOk(snapshot)) return;
  const table = snapshot.processes;
  let index: TreeIndex | null = null;
  for (const project of local) {
    if (!isActive(project.state)) continue;
    const roots: number[] = [];
    if (
      project.pid !== null &&
      project.pidStartTime !== null &&
      table.byPid.get(project.pid)?.startTime === project.pidStartTime
    ) {
      roots.push(project.pid);
    }
    const server = project.session === null ? undefined : findServer(snapshot, project.tmuxSocket);
    if (server?.ok && project.session !== null) {
      for (const pane of server.sessions.get(project.session) ?? []) if (!pane.paneDead) roots.push(pane.panePid);
    }
    const members = new Set<number>();
    for (const root of roots) {
      index ??= indexTree(table); // once per table, and only when some tree is walked
      for (const pid of treeOf(table, root, index)) members.add(pid);
    }
    const defunct = [...members].map((pid) => table.byPid.get(pid)).filter((p) => p !== undefined && p.state === 'Z');
    const first = defunct[0];
    if (!first) continue;
    const list = defunct.map((p) => `${p?.pid} (${p?.comm})`).join(', ');
    const what = `${defunct.length} defunct process${defunct.length > 1 ? 'es' : ''}`;
    plan.detections.push(
      detection('defunct_process', project, `${what} in the tree of project ${project.id}: ${list}`, first.pid),
    );
  }
}
