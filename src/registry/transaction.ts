/** The transaction an update's change writes to: audit lines and archived projects, kept until the commit. */
import type { Project } from '../core/model/project.js';
import type { AuditEntry, Transaction } from './store.js';

export interface PendingTransaction {
  tx: Transaction;
  audit: AuditEntry[];
  archived: Project[];
}

export function pendingTransaction(): PendingTransaction {
  const audit: AuditEntry[] = [];
  const archived: Project[] = [];
  return { tx: { audit: (entry) => audit.push(entry), archive: (project) => archived.push(project) }, audit, archived };
}
