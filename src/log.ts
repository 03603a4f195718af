import { pino, type Logger, type DestinationStream } from 'pino';
import { prettyDestination } from './log-pretty.js';

export type { Logger };

/** Options of {@link createLogger}. */
export interface LogOptions {
  /** Log at debug level. @default false */
  debug?: boolean;
  /** Where to write; stdout by default (JSON lines, or short human lines when stdout is a terminal). */
  destination?: DestinationStream;
}

/**
 * The root logger: JSON lines (pino). Components take `log.child({ component })`.
 * Secrets (keys, TXT values, tokens) are never passed to a logger; the redact list is a second net.
 */
export function createLogger(options: LogOptions = {}): Logger {
  return pino(
    {
      level: options.debug ? 'debug' : 'info',
      base: { name: 'whisper-ts' },
      redact: {
        paths: ['*.privateKey', '*.accountKey', '*.keyAuthorization', '*.token', '*.secret', '*.secretAccessKey'],
        censor: '[redacted]',
      },
    },
    options.destination ?? (process.stdout.isTTY ? prettyDestination((t) => void process.stdout.write(t)) : undefined),
  );
}

/** A logger that writes nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
