/**
 * Who may use the HTTP API.
 *
 * - Writes need the bearer token (`AGENT_API_TOKEN`) from everywhere. No token
 *   configured means writes are switched off (403), not open.
 * - Reads that show command lines and working directories (the status page
 *   and the read API) need the token too when the request does not come from
 *   this host: the daemon listens on 0.0.0.0 by default so that a Prometheus
 *   elsewhere can scrape it, and `/metrics`, `/healthz` and `/readyz` stay
 *   open for that. A request that a proxy forwarded (`Forwarded`,
 *   `X-Forwarded-For`, `X-Real-IP`) is someone else's, even from loopback.
 *   A browser cannot send a bearer header, so reads also take HTTP Basic
 *   credentials whose password is the token.
 *
 * Tokens are compared as SHA-256 digests with `timingSafeEqual`: equal-length
 * buffers whatever was sent, so neither the content nor the length of the
 * token leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { sendError } from './errors.js';

const REALM = 'realm="tmux-orchestrator-agent"';

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token of an `Authorization: Bearer <token>` header; null when absent or another scheme. */
export function bearerToken(header: string | undefined): string | null {
  if (header === undefined) return null;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1] ?? null;
}

/** The password of an `Authorization: Basic <base64(user:password)>` header; null when absent or another scheme. */
export function basicPassword(header: string | undefined): string | null {
  const match = header === undefined ? null : /^Basic +([A-Za-z0-9+/=]{1,2048}) *$/i.exec(header);
  if (!match?.[1]) return null;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}

export function tokensMatch(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

/** Whether an address is this host's loopback: 127.0.0.0/8 and ::1, also in their IPv4-mapped IPv6 form. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)) return true;
  return a === '::1' || a === '0:0:0:0:0:0:0:1';
}

/** Whether a request comes from this host: a loopback peer that forwards for nobody else. */
export function fromThisHost(remoteAddress: string | undefined, headers: IncomingHttpHeaders): boolean {
  const forwarded = ['forwarded', 'x-forwarded-for', 'x-real-ip'].some((name) => headers[name] !== undefined);
  if (forwarded) return false;
  return isLoopbackAddress(remoteAddress);
}

function unauthorized(res: Response, challenge: string, message: string): void {
  res.set('WWW-Authenticate', challenge);
  sendError(res, 401, message);
}

export function requireToken(apiToken: string | null): RequestHandler {
  const expected = apiToken === null ? null : digest(apiToken);
  return (req, res, next) => {
    if (expected === null) {
      const how = 'set AGENT_API_TOKEN (or apiToken in the config file) and send it as "Authorization: Bearer <token>"';
      sendError(res, 403, `the write API is disabled: ${how}`);
      return;
    }
    const given = bearerToken(req.get('authorization'));
    if (given === null) {
      unauthorized(res, `Bearer ${REALM}`, 'missing bearer token: send "Authorization: Bearer <AGENT_API_TOKEN>"');
      return;
    }
    if (!tokensMatch(given, expected)) {
      unauthorized(res, `Bearer ${REALM}, error="invalid_token"`, 'invalid bearer token');
      return;
    }
    next();
  };
}

/**
 * The guard of the reads that show command lines and directories: open to
 * this host, the token (bearer, or a Basic password for a browser) from
 * anywhere else. `challenge` is what a 401 asks for: a page asks a browser
 * for Basic credentials, the API for a bearer token.
 */
export function requireTokenOffHost(apiToken: string | null, challenge: 'basic' | 'bearer'): RequestHandler {
  const expected = apiToken === null ? null : digest(apiToken);
  const ask = challenge === 'basic' ? `Basic ${REALM}, charset="UTF-8"` : `Bearer ${REALM}`;
  return (req, res, next) => {
    if (fromThisHost(req.socket.remoteAddress, req.headers)) {
      next();
      return;
    }
    if (expected === null) {
      const how = 'set AGENT_API_TOKEN, or read them on this host (loopback)';
      sendError(res, 403, `from another host the status page and the read API need the API token; none is set: ${how}`);
      return;
    }
    const header = req.get('authorization');
    const given = bearerToken(header) ?? basicPassword(header);
    if (given === null) {
      const how = 'send "Authorization: Bearer <AGENT_API_TOKEN>" (a browser: any user name, the token as password)';
      unauthorized(res, ask, `from another host this needs the API token: ${how}`);
      return;
    }
    if (!tokensMatch(given, expected)) {
      unauthorized(res, `${ask}${challenge === 'bearer' ? ', error="invalid_token"' : ''}`, 'invalid API token');
      return;
    }
    next();
  };
}
