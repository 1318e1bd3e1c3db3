/**
 * Canonical JSON of a registry document (keys sorted at every level, arrays
 * in order) and its SHA-256, so two backends holding the same document agree
 * byte for byte whatever order each wrote the keys in.
 */
import { createHash } from 'node:crypto';
import type { RegistryDocument } from '../core/model/registry-document.js';

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== 'object') return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const v = (value as Record<string, unknown>)[key];
    if (v !== undefined) out[key] = sortKeys(v);
  }
  return out;
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

/** sha256 (hex) of the canonical JSON of a validated document. */
export function documentChecksum(doc: RegistryDocument): string {
  return createHash('sha256').update(canonicalJson(doc)).digest('hex');
}
