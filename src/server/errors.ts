/**
 * Every error answer of the HTTP server has one shape,
 * `{ "error": { "message": "...", "field"?: "pid" } }`, and one mapping:
 * agent errors through `httpStatusOf` (http-status.ts), body-parser failures by their type,
 * anything else 500 with its message logged and a generic one sent. No
 * stack trace ever leaves the process.
 */
import type { ErrorRequestHandler, Response } from 'express';
import { AgentError, InputError, messageOf } from '../errors.js';
import { httpStatusOf } from './http-status.js';
import type { Logger } from '../log.js';

export interface ErrorBody {
  error: { message: string; field?: string };
}

export function sendError(res: Response, status: number, message: string, field?: string): void {
  const body: ErrorBody = { error: field === undefined ? { message } : { message, field } };
  res.status(status).json(body);
}

/** What body-parser and the router attach to the errors they raise. */
interface HttpishError {
  status?: unknown;
  statusCode?: unknown;
  type?: unknown;
}

/** Body-parser failures, by their `type`, in the words of this API. */
function bodyError(err: HttpishError & Error, limitBytes: number): { status: number; message: string } | null {
  switch (err.type) {
    case 'entity.too.large':
      return { status: 413, message: `the body is larger than the limit of ${limitBytes / 1024} KiB` };
    case 'entity.parse.failed':
      return { status: 400, message: `the body is not valid JSON: ${err.message}` };
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return { status: 415, message: `${err.message}; send application/json in UTF-8` };
    case 'request.aborted':
    case 'request.size.invalid':
      return { status: 400, message: err.message };
    default:
      return null;
  }
}

export function errorHandler(log: Logger, limitBytes: number): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (err instanceof AgentError) {
      const status = httpStatusOf(err);
      if (status >= 500)
        log.error('request failed', { method: req.method, path: req.path, status, error: messageOf(err) });
      sendError(res, status, err.message, err instanceof InputError ? err.field : undefined);
      return;
    }
    if (err instanceof Error) {
      const e = err as HttpishError & Error;
      const known = bodyError(e, limitBytes);
      if (known) {
        sendError(res, known.status, known.message);
        return;
      }
      // Client errors of the router and body-parser (e.g. a malformed %-escape in a path) carry a 4xx status.
      const status = typeof e.status === 'number' ? e.status : typeof e.statusCode === 'number' ? e.statusCode : 500;
      if (status >= 400 && status < 500) {
        sendError(res, status, e.message);
        return;
      }
    }
    log.error('request failed', { method: req.method, path: req.path, status: 500, error: messageOf(err) });
    sendError(res, 500, 'internal error; the agent log has the details');
  };
}
