/**
 * One error class per failure. They are plain domain errors: which exit code
 * or HTTP status each one means is decided at the edges, in one table each
 * (src/cli/exit-codes.ts, src/server/http-status.ts).
 */

export class AgentError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad CLI arguments, HTTP bodies or other input. */
export class InputError extends AgentError {
  /** The input field at fault, named as the HTTP API names it (`pid`, `session`...), when there is one. */
  readonly field: string | undefined;
  constructor(message: string, options?: ErrorOptions & { field?: string }) {
    super(message, options);
    this.field = options?.field;
  }
}

/** An invalid configuration value. */
export class ConfigError extends AgentError {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/** A project id that is not in the registry. */
export class UnknownProjectError extends AgentError {
  constructor(readonly projectId: string) {
    super(`no project with id "${projectId}" in the registry`);
  }
}

/** The registry does not exist as a readable file, does not parse, or does not validate. */
export class RegistryUnreadableError extends AgentError {}

/** The registry failed validation; `issues` name the project and field. */
export class RegistryCorruptError extends RegistryUnreadableError {
  constructor(
    message: string,
    readonly issues: string[],
    readonly corruptCopy: string | null,
  ) {
    super(message);
  }
}

/** A command refused for a reason of state (e.g. a live project without --force). */
export class ConflictError extends AgentError {}

/**
 * A second daemon on a JSON registry another `agent serve` holds.
 * One daemon per registry, or two would launch the same project twice.
 */
export class RegistryHeldError extends AgentError {}

/** The HTTP server cannot bind its address (in use, not local, not permitted). */
export class ListenError extends AgentError {
  constructor(
    readonly address: string,
    cause: NodeJS.ErrnoException,
  ) {
    const why =
      cause.code === 'EADDRINUSE'
        ? 'the address is in use (another agent serve, or another program, listens there)'
        : cause.code === 'EADDRNOTAVAIL'
          ? 'no interface of this host has that address'
          : cause.code === 'EACCES'
            ? 'permission denied (ports below 1024 need privileges)'
            : cause.message;
    super(`cannot listen on ${address}: ${why}; choose another with --listen HOST:PORT or AGENT_LISTEN`, { cause });
  }
}

/** A queue-wide write carried a leader fencing token older than the newest one issued: another agent leads now. */
export class LeaseLostError extends ConflictError {}

/**
 * A value shown in an error message: JSON, at most `max` characters. Never
 * throws: a value nested too deeply to serialise (a hostile body, config or
 * registry) is named by its kind instead of crashing the error path.
 */
export function previewValue(value: unknown, max = 60): string {
  let text: string;
  try {
    // A long string is cut before it is serialised: a 10 MB value costs nothing to show.
    text =
      typeof value === 'string' && value.length > max
        ? JSON.stringify(value.slice(0, max))
        : (JSON.stringify(value) ?? String(value));
  } catch {
    text = Array.isArray(value) ? '(a list nested too deeply to show)' : `(${typeof value} nested too deeply to show)`;
  }
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
