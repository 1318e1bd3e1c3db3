/** The in-memory twin of the JSON store: same contract, no I/O. For tests and dry runs. */
import type { Project } from '../core/project.js';
import { emptyDocument, type RegistryDocument } from '../core/registry-document.js';
import { RegistryCorruptError } from '../errors.js';
import { validateDocument } from './schema.js';
import type { AuditEntry, RegistryHealth, RegistryStore, Transaction } from './store.js';

export class MemoryStore implements RegistryStore {
  readonly backend = 'memory' as const;
  readonly location = 'memory';
  private text: string;
  private readonly auditLines: AuditEntry[] = [];
  readonly archived: Project[] = [];
  private tail: Promise<unknown> = Promise.resolve();

  constructor(initial: RegistryDocument = emptyDocument()) {
    this.text = JSON.stringify(initial);
  }

  async load(): Promise<RegistryDocument> {
    const result = validateDocument(JSON.parse(this.text));
    if (!result.ok) throw new RegistryCorruptError(`registry (memory) is invalid: ${result.issues[0]}`, result.issues, null);
    return result.document;
  }

  update<T>(mutate: (doc: RegistryDocument, tx: Transaction) => T | Promise<T>): Promise<T> {
    // Serialise updates like the file lock does.
    const run = this.tail.then(async () => {
      const doc = await this.load();
      const pending: AuditEntry[] = [];
      const result = await mutate(doc, { audit: (e) => pending.push(e), archive: (p) => this.archived.push(p) });
      const validated = validateDocument(JSON.parse(JSON.stringify(doc)));
      if (!validated.ok) throw new RegistryCorruptError(`refusing to write an invalid registry: ${validated.issues[0]}`, validated.issues, null);
      this.text = JSON.stringify(validated.document);
      this.auditLines.push(...pending);
      return result;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  async check(): Promise<RegistryHealth> {
    const result = validateDocument(JSON.parse(this.text));
    return {
      ok: result.ok,
      issues: result.ok ? [] : result.issues,
      projects: result.ok ? result.document.projects.length : 0,
      location: this.location,
      lastGood: true,
    };
  }

  async repair(): Promise<{ restored: boolean; detail: string }> {
    return { restored: false, detail: 'the memory registry is always valid' };
  }

  async readAudit(limit: number): Promise<AuditEntry[]> {
    return this.auditLines.slice(-limit);
  }

  async readAuditSince(cursor: string | null): Promise<{ entries: AuditEntry[]; cursor: string }> {
    const from = cursor === null ? this.auditLines.length : Number(cursor);
    return { entries: this.auditLines.slice(from), cursor: String(this.auditLines.length) };
  }

  async close(): Promise<void> {}
}
