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
  // A signed link's signature, in the parsed query the request log carries beside the URL (which the scrubber masks).
  'req.query.sig',
  'headers.authorization',
  '*.headers.authorization',
  // Settings, should a config object ever be logged.
  'jwtSecret',
  'jobDataKey',
  'webhookSecret',
  'adminToken',
  'signedUrlKey',
  '*.jwtSecret',
  '*.jobDataKey',
  '*.webhookSecret',
  '*.adminToken',
  '*.signedUrlKey',
];

/**
 * The signatures of URLs that fetch a file without a token: a CDN URL's (oh=, with its expiry
 * oe=), a link the API signs (sig=), a presigned S3 URL's (X-Amz-Signature=). Whoever holds one
 * can fetch the file.
 */
const SIGNED_QUERY = /([?&](?:oh|oe|sig|x-amz-signature)=)[^&\s"\\]+/gi;
/** Anything shaped like a JWT (a bearer token, whoever it belongs to). */
const JWT = /eyJ[\w-]*\.eyJ[\w-]*\.[\w-]*/g;

/**
 * The last line of defence for secrets inside strings, which path redaction cannot see (an error
 * message quoting a URL, a stack): masks them in every line written. Lines are written per request
 * or job, never per chunk, so two regex passes over a short string cost nothing that matters.
 */
export function scrubLogLine(line: string): string {
  return line.replace(SIGNED_QUERY, '$1[redacted]').replace(JWT, '[redacted-jwt]');
}

/**
 * The process's root logger; bind per request or job with `.child()`. Lines go to stdout
 * asynchronously (tests pass a `destination` of their own): a synchronous write blocks the whole
 * process whenever the pipe is full (under load, the request log alone stalled every request),
 * and pino flushes what is left on exit.
 */
export function createLogger(
  options: { level: string; name: string },
  destination: pino.DestinationStream = pino.destination({ dest: 1, sync: false }),
): Logger {
  return pino(
    {
      name: options.name,
      level: options.level,
      redact: { paths: redactPaths, censor: '[redacted]' },
      // A request line's `req` and `res` as their id, method, URL, headers and status, never the
      // whole socket; pino's own `err` serializer is kept (a serializers option replaces it).
      serializers: { err: pino.stdSerializers.err, req: pino.stdSerializers.req, res: pino.stdSerializers.res },
      hooks: { streamWrite: scrubLogLine },
    },
    destination,
  );
}
