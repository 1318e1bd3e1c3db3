/**
 * Bearer-token check of the write API (DESIGN §9). No token configured means
 * writes are switched off (403), not open. Tokens are compared as SHA-256
 * digests with `timingSafeEqual`: equal-length buffers whatever was sent, so
 * neither the content nor the length of the token leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { sendError } from './errors.js';

const REALM = 'Bearer realm="tmux-orchestrator-agent"';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header; null when absent or another scheme. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1] ?? null;
}

export function tokensMatch(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

export function requireToken(apiToken: string | null): RequestHandler {
  const expected = apiToken === null ? null : digest(apiToken);
  return (req, res, next) => {
    if (expected === null) {
      sendError(res, 403, 'the write API is disabled: set AGENT_API_TOKEN (or apiToken in the config file) and send it as "Authorization: Bearer <token>"');
      return;
    }
    const given = bearerToken(req.get('authorization'));
    if (given === null) {
      res.set('WWW-Authenticate', REALM);
      sendError(res, 401, 'missing bearer token: send "Authorization: Bearer <AGENT_API_TOKEN>"');
      return;
    }
    if (!tokensMatch(given, expected)) {
      res.set('WWW-Authenticate', `${REALM}, error="invalid_token"`);
      sendError(res, 401, 'invalid bearer token');
      return;
    }
    next();
  };
}
