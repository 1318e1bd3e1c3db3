/**
 * One run of `agent demo`: what the refresh loop knows (the audit entries
 * since the start, the registry, which scenarios are healed and when), one
 * refresh of it, and the rows and results it shows.
 */
import type { AgentConfig } from '../config/keys.js';
import { messageOf } from '../errors.js';
import type { AuditEntry, RegistryStore } from '../registry/store.js';
import type { ViewRow, LiveView } from './live-view.js';
import type { Observation, Scenario, ScenarioKind } from './scenarios.js';
import { isRunning, type DemoWorld } from './world.js';

export interface ScenarioResult {
  kind: ScenarioKind;
  project: string | null;
  session: string | null;
  story: string;
  state: string | null;
  healed: boolean;
  healedAfterSec: number | null;
  detail: string | null;
}

function describeAudit(e: AuditEntry): string | null {
  const who = `${(e.project ?? (typeof e['session'] === 'string' ? `session ${e['session']}` : '-')).padEnd(15)}  `;
  if (e.type === 'transition')
    return `${who}${String(e['from'] ?? 'new')} -> ${String(e['to'])}: ${String(e['reason'] ?? '')}`;
  if (e.type === 'action') return `${who}${String(e['action'])} ${String(e['outcome'])}: ${String(e['detail'] ?? '')}`;
  return null;
}

/** Everything the refresh loop knows, and one refresh of it. */
export class DemoRun {
  readonly audit: AuditEntry[] = [];
  readonly healedAt = new Map<ScenarioKind, { sec: number; detail: string }>();
  private readonly acted = new Set<ScenarioKind>();
  private cursor: string | null = null;
  doc: Observation['doc'] = null;

  constructor(
    readonly world: DemoWorld,
    readonly store: RegistryStore,
    readonly config: AgentConfig,
    readonly scenarios: Scenario[],
    readonly view: LiveView,
    readonly startedAt: number,
  ) {}

  elapsedSec(): number {
    return (Date.now() - this.startedAt) / 1000;
  }

  async markAuditStart(): Promise<void> {
    this.cursor = (await this.store.readAuditSince(null)).cursor;
  }

  allHealed(): boolean {
    return this.healedAt.size === this.scenarios.length;
  }

  async refresh(): Promise<void> {
    const elapsedMs = Date.now() - this.startedAt;
    for (const s of this.scenarios) {
      if (!s.act || this.acted.has(s.kind) || elapsedMs < s.act.afterMs) continue;
      this.acted.add(s.kind);
      this.view.event(
        this.elapsedSec(),
        await s.act.run(this.world).catch((err: unknown) => `demo: ${s.kind}: ${messageOf(err)}`),
      );
    }
    const { entries, cursor } = await this.store.readAuditSince(this.cursor);
    this.cursor = cursor;
    for (const e of entries) {
      this.audit.push(e);
      if (e.type === 'action' && e['action'] === 'launch' && typeof e['pid'] === 'number')
        await this.world.track(e['pid'], `launched for ${e.project ?? '?'}`);
      const text = describeAudit(e);
      if (text) this.view.event(this.elapsedSec(), text);
    }
    this.doc = await this.store.load().catch(() => this.doc);
    const alive = new Set<string>();
    for (const p of this.doc?.projects ?? []) {
      if (p.pid === null) continue;
      this.world.trackRecorded(p.pid, p.pidStartTime, `recorded for ${p.id}`);
      if (await isRunning(p.pid, p.pidStartTime)) alive.add(p.id);
    }
    const obs: Observation = { doc: this.doc, audit: this.audit, alive };
    for (const s of this.scenarios) {
      if (this.healedAt.has(s.kind)) continue;
      const detail = s.healed(obs, this.config);
      if (detail === null) continue;
      this.healedAt.set(s.kind, { sec: this.elapsedSec(), detail });
      this.view.event(this.elapsedSec(), `HEALED ${s.kind}: ${detail}`);
    }
  }

  rows(): ViewRow[] {
    return this.scenarios.map((s) => {
      const p = this.doc?.projects.find((x) => x.id === s.project);
      const healed = this.healedAt.get(s.kind);
      return {
        scenario: s.kind,
        project: s.project ?? `(session ${s.session ?? '-'})`,
        state: p?.state ?? (s.project === null ? (healed ? 'killed' : 'orphaned') : '-'),
        attempts: p ? `${p.attempts}/${p.maxAttempts ?? this.config.retryMaxAttempts}` : '-',
        breaker: p?.breaker.state ?? '-',
        healed: healed?.detail ?? null,
        healedAtSec: healed?.sec ?? null,
      };
    });
  }

  results(): ScenarioResult[] {
    return this.scenarios.map((s) => {
      const healed = this.healedAt.get(s.kind);
      return {
        kind: s.kind,
        project: s.project,
        session: s.session,
        story: s.story,
        state: this.doc?.projects.find((x) => x.id === s.project)?.state ?? null,
        healed: healed !== undefined,
        healedAfterSec: healed ? Math.round(healed.sec * 10) / 10 : null,
        detail: healed?.detail ?? null,
      };
    });
  }
}
