import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Paths pino censors wherever they appear in a log line. The mediaKey unlocks a customer's
 * media and the token impersonates an instance: neither may reach a log sink.
 */
const redactPaths = [
  'mediaKey',
  '*.mediaKey',
  '*.*.mediaKey',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
];

/** The process's root logger; bind per request or job with `.child()`. */
export function createLogger(options: { level: string; name: string }): Logger {
  return pino({
    name: options.name,
    level: options.level,
    redact: { paths: redactPaths, censor: '[redacted]' },
  });
}
