/**
 * What every store says about a registry that does not validate, and the
 * health check they share: a stored document that does not validate is never
 * changed, a document that does not validate is never written.
 */
import { RegistryCorruptError, RegistryUnreadableError, messageOf } from '../errors.js';
import type { RegistryDocument } from '../core/model/registry-document.js';
import { countOf } from '../core/views/wording.js';
import type { ValidationResult } from './schema.js';
import type { RegistryHealth } from './store.js';

/**
 * The error for a stored registry that does not validate. `copy` is where
 * its content was kept (`where` names it in the message: a path, a key).
 */
export function invalidRegistryError(
  location: string,
  issues: string[],
  copy: string | null,
  where = copy,
): RegistryCorruptError {
  return new RegistryCorruptError(
    `registry ${location} is invalid and will not be changed: ${issues[0]}` +
      (issues.length > 1 ? ` (and ${issues.length - 1} more problem(s); run "agent registry check")` : '') +
      (where ? `; a copy is kept at ${where}` : '') +
      '; fix it by hand or run "agent registry repair"',
    issues,
    copy,
  );
}

/** The validated document to write, or the refusal to write an invalid one. */
export function validForWrite(result: ValidationResult): RegistryDocument {
  if (!result.ok)
    throw new RegistryCorruptError(`refusing to write an invalid registry: ${result.issues[0]}`, result.issues, null);
  return result.document;
}

/** `check()` of a store: load and report, never throw. */
export async function healthOf(
  location: string,
  lastGood: Promise<boolean>,
  load: () => Promise<RegistryDocument>,
): Promise<RegistryHealth> {
  const good = await lastGood.catch(() => false);
  try {
    const doc = await load();
    return { ok: true, issues: [], projects: doc.projects.length, location, lastGood: good };
  } catch (err) {
    const issues = err instanceof RegistryCorruptError ? err.issues : [messageOf(err)];
    return { ok: false, issues, projects: 0, location, lastGood: good };
  }
}

/** `repair()` of a registry that validates. */
export function nothingToRepair(location: string, projects: number): { restored: false; detail: string } {
  return {
    restored: false,
    detail: `registry ${location} is valid (${countOf(projects, 'project')}); nothing to repair`,
  };
}

/** `repair()` without a copy to restore from. */
export function noLastGoodCopy(location: string, copyAt: string, fix: string): RegistryUnreadableError {
  return new RegistryUnreadableError(
    `registry ${location} is invalid and there is no last good copy ${copyAt} to restore; ${fix}`,
  );
}

/** `repair()` whose last good copy does not validate either. */
export function invalidLastGoodCopy(copyAt: string, issue: string | undefined): RegistryUnreadableError {
  return new RegistryUnreadableError(
    `the last good copy ${copyAt} is itself invalid (${issue}); fix the registry by hand`,
  );
}
