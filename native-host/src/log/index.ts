/**
 * Structured logs: one JSON object per line, appended to a file in the data directory.
 * Never stdout (that is the native-messaging channel). Fields whose names suggest a
 * secret are replaced before anything is written, so a careless call cannot leak one.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

const SECRET_FIELD =
  /pass(word|phrase)?|secret|token|authorization|private|verifier|session_?key|credentials?|^key$|body|content/i;

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
}

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 6) return '[deep]';
  if (value instanceof Error)
    return { name: value.name, message: value.message, code: (value as { code?: unknown }).code };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (typeof value === 'object' && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = SECRET_FIELD.test(k) ? '[redacted]' : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}

export function createFileLogger(
  file: string,
  minLevel: LogLevel = 'info',
  base: Record<string, unknown> = {},
): Logger {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  return createLineLogger(
    (line) => {
      try {
        appendFileSync(file, line, { mode: 0o600 });
      } catch {
        // A full disk must not take the host down with it; the log is best effort.
      }
    },
    minLevel,
    base,
  );
}

/**
 * The same JSON lines to any sink, e.g. stderr for a host that may not write in its data
 * folder (another host holds it).
 */
export function createLineLogger(
  sink: (line: string) => void,
  minLevel: LogLevel = 'info',
  base: Record<string, unknown> = {},
): Logger {
  const write = (level: LogLevel, event: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS[level] < LEVELS[minLevel]) return;
    const line = JSON.stringify({
      time: new Date().toISOString(),
      level,
      event,
      ...(redact({ ...base, ...fields }) as object),
    });
    sink(line + '\n');
  };
  return {
    debug: (e, f) => write('debug', e, f),
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
    child: (fields) => createLineLogger(sink, minLevel, { ...base, ...fields }),
  };
}

/** For unit tests and tools that have nowhere to log. */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};
