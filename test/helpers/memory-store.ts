/**
 * The in-memory twin of the JSON store for tests: same contract, no I/O, no
 * watch and no daemon claim. It runs the store conformance suite with the
 * real backends.
 */
import type { Project } from '../../src/core/model/project.js';
import { emptyDocument, type RegistryDocument } from '../../src/core/model/registry-document.js';
import { validateDocument } from '../../src/registry/schema.js';
import type { AuditEntry, RegistryHealth, RegistryStore, Transaction } from '../../src/registry/store.js';
import { pendingTransaction } from '../../src/registry/transaction.js';
import { healthOf, invalidRegistryError, validForWrite } from '../../src/registry/validity.js';

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
    if (!result.ok) throw invalidRegistryError(this.location, result.issues, null);
    return result.document;
  }

  update<T>(mutate: (doc: RegistryDocument, tx: Transaction) => T | Promise<T>): Promise<T> {
    // Serialise updates like the file lock does.
    const run = this.tail.then(async () => {
      const doc = await this.load();
      const { tx, audit, archived } = pendingTransaction();
      const result = await mutate(doc, tx);
      this.text = JSON.stringify(validForWrite(validateDocument(JSON.parse(JSON.stringify(doc)))));
      this.archived.push(...archived);
      this.auditLines.push(...audit);
      return result;
    });
    this.tail = run.catch(() => undefined);
    return run;
  }

  check(): Promise<RegistryHealth> {
    return healthOf(this.location, Promise.resolve(true), () => this.load());
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

  watch(): null {
    return null;
  }

  async claimDaemon(): Promise<null> {
    return null;
  }

  async daemonHolder(): Promise<null> {
    return null;
  }

  async close(): Promise<void> {}
}
