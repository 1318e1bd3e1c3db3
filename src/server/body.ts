/**
 * Request bodies of the write API: JSON only (415 otherwise), at most 64 KiB
 * (413), parsed strictly (400), then checked field by field against a small
 * shape: unknown fields refused, wrong types refused, every error naming the
 * field and what is allowed. The values' own rules (id pattern, session
 * pattern, absolute paths...) are the registry operations', so the API and
 * the CLI accept exactly the same things.
 */
import express, { type RequestHandler } from 'express';
import { InputError, previewValue } from '../errors.js';
import { sendError } from './errors.js';

export const BODY_LIMIT_BYTES = 64 * 1024;
/** Longest string field accepted (paths are at most 4096 in the registry schema). */
const MAX_STRING = 4096;

/** A body is present when it has a length or is chunked (what body-parser reads). */
function hasBody(headers: {
  'transfer-encoding'?: string | undefined;
  'content-length'?: string | undefined;
}): boolean {
  return (
    headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0')
  );
}

/** 415 for a body that is not `application/json`; a request without a body passes. */
export const requireJsonType: RequestHandler = (req, res, next) => {
  if (hasBody(req.headers) && req.is('application/json') === false) {
    sendError(
      res,
      415,
      `the body must be application/json, not ${JSON.stringify(req.get('content-type') ?? 'nothing')}`,
    );
    return;
  }
  next();
};

/** The parsing chain of every write: content type, size limit, strict JSON. */
export function jsonBody(): RequestHandler[] {
  return [requireJsonType, express.json({ limit: BODY_LIMIT_BYTES, strict: true, type: 'application/json' })];
}

export type Rule =
  | { type: 'string'; required?: boolean }
  /** `min`/`max` only where the range must hold before the operation runs (a PID read from /proc). */
  | { type: 'integer'; min?: number; max?: number; required?: boolean }
  | { type: 'boolean'; required?: boolean }
  | { type: 'strings'; required?: boolean; what: string };

export type Shape = Record<string, Rule>;

type ValueOf<R extends Rule> = R extends { type: 'string' }
  ? string
  : R extends { type: 'integer' }
    ? number
    : R extends { type: 'boolean' }
      ? boolean
      : string[];

/** The checked body: required fields present, optional ones possibly undefined. */
export type Checked<S extends Shape> = {
  [K in keyof S]: S[K] extends { required: true } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

function shown(value: unknown): string {
  return previewValue(value, 60);
}

function invalid(field: string, rule: string, value: unknown): InputError {
  return new InputError(`field "${field}" must be ${rule}; got ${shown(value)}`, { field });
}

function checkValue(field: string, rule: Rule, value: unknown): unknown {
  switch (rule.type) {
    case 'string':
      if (typeof value !== 'string') throw invalid(field, 'a string', value);
      if (value.length > MAX_STRING || value.includes('\0'))
        throw invalid(field, `a string of at most ${MAX_STRING} characters without NUL`, value);
      return value;
    case 'integer':
      if (typeof value !== 'number' || !Number.isInteger(value)) throw invalid(field, 'an integer', value);
      if ((rule.min !== undefined && value < rule.min) || (rule.max !== undefined && value > rule.max)) {
        throw invalid(field, `an integer from ${rule.min ?? '-infinity'} to ${rule.max ?? 'infinity'}`, value);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw invalid(field, 'true or false', value);
      return value;
    case 'strings':
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string'))
        throw invalid(field, `a list of strings (${rule.what})`, value);
      return value;
  }
}

/**
 * Check a parsed body against a shape. A missing body is `{}`; `null` for an
 * optional field is the same as leaving it out.
 */
export function checkBody<S extends Shape>(body: unknown, shape: S): Checked<S> {
  const input = body === undefined ? {} : body;
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    const fields = Object.keys(shape).length > 0 ? ` with the fields ${Object.keys(shape).join(', ')}` : ' (or empty)';
    throw new InputError(`the body must be a JSON object${fields}`);
  }
  const record = input as Record<string, unknown>;
  const allowed = Object.keys(shape);
  for (const key of Object.keys(record)) {
    if (!Object.hasOwn(shape, key)) {
      const hint = allowed.length > 0 ? `allowed: ${allowed.join(', ')}` : 'this request takes no fields';
      throw new InputError(`unknown field "${key.slice(0, 64)}"; ${hint}`, { field: key.slice(0, 64) });
    }
  }
  const out: Record<string, unknown> = {};
  for (const [field, rule] of Object.entries(shape)) {
    const value = record[field];
    if (value === undefined || value === null) {
      if (rule.required) throw new InputError(`field "${field}" is required`, { field });
      continue;
    }
    out[field] = checkValue(field, rule, value);
  }
  return out as Checked<S>;
}
