/**
 * `agent registry migrate`: copy a registry from one store to another (JSON
 * file ⇄ Redis), then prove the copy: project counts by state and the SHA-256
 * of the canonical JSON of the validated document must match on both sides.
 * The audit log is copied too (oldest first, bounded); the archive stays
 * where it is.
 */
import { PROJECT_STATES, type ProjectState } from '../core/model/project.js';
import type { RegistryDocument } from '../core/model/registry-document.js';
import { ConflictError, InputError } from '../errors.js';
import { documentChecksum } from './checksum.js';
import type { AuditEntry, RegistryStore } from './store.js';
import { countOf } from '../core/views/wording.js';

export interface MigrationOptions {
  /** Replace a target that already holds projects or intents. */
  force: boolean;
  now: () => number;
  /** Actor recorded in the audit note. */
  by: string;
  /** Most audit entries copied (the newest). Default 100 000. */
  auditLimit?: number;
}

export interface MigrationReport {
  from: string;
  to: string;
  projects: { source: number; target: number };
  byState: { source: Record<ProjectState, number>; target: Record<ProjectState, number> };
  intents: { source: number; target: number };
  auditEntries: number;
  sha256: { source: string; target: string };
  /** Counts and checksum agree. */
  verified: boolean;
  /** The target held a registry that --force replaced. */
  replaced: boolean;
}

const AUDIT_CHUNK = 500;

function countByState(doc: RegistryDocument): Record<ProjectState, number> {
  const counts = Object.fromEntries(PROJECT_STATES.map((s) => [s, 0])) as Record<ProjectState, number>;
  for (const p of doc.projects) counts[p.state] += 1;
  return counts;
}

export async function migrateRegistry(
  source: RegistryStore,
  target: RegistryStore,
  options: MigrationOptions,
): Promise<MigrationReport> {
  if (source.location === target.location)
    throw new InputError(`--from and --to are the same registry (${source.location})`);
  const doc = await source.load();
  const existing = await target.load();
  const occupied = existing.projects.length > 0 || existing.intents.length > 0;
  if (occupied && !options.force) {
    throw new ConflictError(
      `target ${target.location} already holds ${countOf(existing.projects.length, 'project')} ` +
        `and ${countOf(existing.intents.length, 'intent')}; nothing copied ("--force" replaces them)`,
    );
  }
  const sha = documentChecksum(doc);

  // The audit history first, oldest first, so the migration note comes after it.
  const audit = await source.readAudit(options.auditLimit ?? 100_000);
  for (let i = 0; i < audit.length; i += AUDIT_CHUNK) {
    const chunk: AuditEntry[] = audit.slice(i, i + AUDIT_CHUNK);
    await target.update((_d, tx) => {
      for (const entry of chunk) tx.audit(entry);
    });
  }
  const copy = structuredClone(doc);
  await target.update((d, tx) => {
    for (const key of Object.keys(d)) delete d[key];
    Object.assign(d, structuredClone(copy));
    tx.audit({
      at: new Date(options.now()).toISOString(),
      type: 'note',
      project: null,
      by: options.by,
      reason: `registry migrated from ${source.location}`,
      projects: copy.projects.length,
      sha256: sha,
    });
  });

  const written = await target.load();
  const report: MigrationReport = {
    from: source.location,
    to: target.location,
    projects: { source: doc.projects.length, target: written.projects.length },
    byState: { source: countByState(doc), target: countByState(written) },
    intents: { source: doc.intents.length, target: written.intents.length },
    auditEntries: audit.length,
    sha256: { source: sha, target: documentChecksum(written) },
    verified: false,
    replaced: occupied,
  };
  report.verified =
    report.sha256.source === report.sha256.target &&
    report.projects.source === report.projects.target &&
    report.intents.source === report.intents.target &&
    PROJECT_STATES.every((s) => report.byState.source[s] === report.byState.target[s]);
  return report;
}
