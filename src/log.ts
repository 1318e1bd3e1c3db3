/**
 * winston logger factory: JSON lines on stderr (stdout is reserved for
 * command output and `--json` documents), one child per component.
 */
import { createRequire } from 'node:module';
import type winstonType from 'winston';

export type Logger = winstonType.Logger;

// winston is loaded on first use: most CLI commands never log.
const require = createRequire(import.meta.url);

export interface LoggerOptions {
  level: string;
  /** Where lines go; stderr by default. Tests pass a stream to read them back. */
  stream?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions): Logger {
  const winston = require('winston') as typeof winstonType;
  return winston.createLogger({
    level: options.level,
    format: winston.format.combine(
      winston.format.timestamp(),
      winston.format.errors({ stack: false }),
      winston.format.json(),
    ),
    transports: [new winston.transports.Stream({ stream: options.stream ?? process.stderr })],
  });
}

/** A child logger tagged with its component. */
export function componentLogger(parent: Logger, component: string): Logger {
  return parent.child({ component });
}
