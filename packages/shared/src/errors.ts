import { STATUS_CODES } from 'node:http';

/**
 * Every failure wamedia knows by name, in one catalogue.
 *
 * Each code has an HTTP status (applied only by the API's error handler) and says whether
 * another attempt may fix it. Code below the API throws these classes and never an HTTP error.
 */
export const errorCatalogue = {
  // Input
  INVALID_REQUEST: { status: 400, retryable: false },
  INVALID_FIELD: { status: 400, retryable: false },
  HOST_NOT_ALLOWED: { status: 400, retryable: false },
  CALLBACK_NOT_ALLOWED: { status: 400, retryable: false },
  REQUEST_TOO_LARGE: { status: 413, retryable: false },
  HEADERS_TOO_LARGE: { status: 431, retryable: false },
  REQUEST_TIMEOUT: { status: 408, retryable: true },
  RANGE_NOT_SATISFIABLE: { status: 416, retryable: false },
  ROUTE_NOT_FOUND: { status: 404, retryable: false },
  BASE64_TOO_LARGE: { status: 413, retryable: false },
  // Auth
  UNAUTHORIZED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  LINK_REFUSED: { status: 403, retryable: false },
  // Limits
  RATE_LIMITED: { status: 429, retryable: true },
  // Jobs
  JOB_NOT_FOUND: { status: 404, retryable: false },
  BATCH_NOT_FOUND: { status: 404, retryable: false },
  MEDIA_NOT_STORED: { status: 404, retryable: false },
  // CDN
  MEDIA_EXPIRED: { status: 404, retryable: false },
  MEDIA_TOO_LARGE: { status: 413, retryable: false },
  CDN_UNAVAILABLE: { status: 502, retryable: true },
  // Media retry: the phone's re-upload of an expired media
  NOT_AWAITING_REUPLOAD: { status: 409, retryable: false },
  NOTIFICATION_UNREADABLE: { status: 422, retryable: false },
  REUPLOAD_NOT_FOUND: { status: 404, retryable: false },
  REUPLOAD_DECRYPTION_FAILED: { status: 422, retryable: false },
  REUPLOAD_FAILED: { status: 502, retryable: false },
  // Integrity: the checks run in this order
  MEDIA_TOO_SHORT: { status: 422, retryable: false },
  NOT_BLOCK_ALIGNED: { status: 422, retryable: false },
  ENC_SHA256_MISMATCH: { status: 422, retryable: false },
  MAC_MISMATCH: { status: 422, retryable: false },
  BAD_PADDING: { status: 422, retryable: false },
  SHA256_MISMATCH: { status: 422, retryable: false },
  LENGTH_MISMATCH: { status: 422, retryable: false },
  // Infrastructure
  QUEUE_UNAVAILABLE: { status: 503, retryable: true },
  STORAGE_UNAVAILABLE: { status: 503, retryable: true },
  JOB_DATA_UNREADABLE: { status: 500, retryable: true },
  CONFIG_INVALID: { status: 500, retryable: false },
  INTERNAL: { status: 500, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof errorCatalogue;

/** Base of every wamedia failure: a stable code, a message for humans, and the original cause. */
export abstract class WamediaError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /** The HTTP status the API answers with. */
  get status(): number {
    return errorCatalogue[this.code].status;
  }

  /** Whether another attempt may succeed (network trouble) or not (bad key, expired media). */
  get retryable(): boolean {
    return errorCatalogue[this.code].retryable;
  }

  /** The messages shown to clients; one per problem. */
  get messages(): string[] {
    return [this.message];
  }
}

// ---- Input -------------------------------------------------------------------------------

/** A request body or query failed validation; one message per problem. */
export class InvalidRequestError extends WamediaError {
  readonly code = 'INVALID_REQUEST';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
  override get messages(): string[] {
    return this.problems;
  }
}

/** A byte field (mediaKey, fileSha256, ...) or fileLength could not be parsed. */
export class InvalidFieldError extends WamediaError {
  readonly code = 'INVALID_FIELD';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/**
 * A CDN url, or a redirect, names a host outside MEDIA_ALLOWED_HOSTS, or whose host resolves to
 * a loopback, private or link-local address while its origin is not explicitly allowed.
 */
export class HostNotAllowedError extends WamediaError {
  readonly code = 'HOST_NOT_ALLOWED';
  constructor(
    readonly origin: string,
    reason = 'is not in MEDIA_ALLOWED_HOSTS',
  ) {
    super(`host not allowed: ${origin} ${reason}`);
  }
}

/**
 * A callback URL outside WEBHOOK_ALLOWED_HOSTS, or whose host resolves to a loopback, private or
 * link-local address while its origin is not explicitly allowed.
 */
export class CallbackNotAllowedError extends WamediaError {
  readonly code = 'CALLBACK_NOT_ALLOWED';
  constructor(
    readonly origin: string,
    reason = 'is not in WEBHOOK_ALLOWED_HOSTS',
  ) {
    super(`callback URL not allowed: ${origin} ${reason}`);
  }
}

/** The request body is over the API's body size limit. */
export class RequestTooLargeError extends WamediaError {
  readonly code = 'REQUEST_TOO_LARGE';
}

/** The request line and headers are over Node's limit (--max-http-header-size, 16 KiB by default). */
export class HeadersTooLargeError extends WamediaError {
  readonly code = 'HEADERS_TOO_LARGE';
}

/** The client did not send a whole request in time (the HTTP server's headersTimeout / requestTimeout). */
export class RequestTimeoutError extends WamediaError {
  readonly code = 'REQUEST_TIMEOUT';
}

/** A Range header that selects no byte of the media. */
export class RangeNotSatisfiableError extends WamediaError {
  readonly code = 'RANGE_NOT_SATISFIABLE';
  constructor(readonly size: number) {
    super(`range not satisfiable: the media has ${size} bytes`);
  }
}

/** No route matches the method and path. */
export class RouteNotFoundError extends WamediaError {
  readonly code = 'ROUTE_NOT_FOUND';
  constructor(method: string, path: string) {
    super(`Cannot ${method} ${path}`);
  }
}

/**
 * `response=base64` for a media over BASE64_MAX_BYTES: a JSON string that large is better fetched
 * as a link or as the file itself.
 */
export class Base64TooLargeError extends WamediaError {
  readonly code = 'BASE64_TOO_LARGE';
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(
      `the media has ${size} bytes, over the limit of ${limit} bytes (BASE64_MAX_BYTES) for response=base64: ` +
        'ask for response=url (a link to the file) or for the file itself',
    );
  }
}

// ---- Auth --------------------------------------------------------------------------------

/** No token, a malformed or badly signed one, or an expired one. */
export class UnauthorizedError extends WamediaError {
  readonly code = 'UNAUTHORIZED';
}

/** A valid token for another instance. */
export class ForbiddenError extends WamediaError {
  readonly code = 'FORBIDDEN';
}

/**
 * A signed media link that does not hold: missing or malformed parameters, a signature that does
 * not match (tampered), or an expiry in the past. Its message never says anything about the file.
 */
export class LinkRefusedError extends WamediaError {
  readonly code = 'LINK_REFUSED';
}

// ---- Limits ------------------------------------------------------------------------------

/**
 * An instance went past one of its limits (requests per minute, jobs in flight). The API
 * answers 429 with `Retry-After: <retryAfterSeconds>`.
 */
export class RateLimitedError extends WamediaError {
  readonly code = 'RATE_LIMITED';
  constructor(
    message: string,
    /** Whole seconds to wait before trying again (at least 1). */
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

// ---- Jobs --------------------------------------------------------------------------------

/** No such job for this instance (never created, removed, or another instance's). */
export class JobNotFoundError extends WamediaError {
  readonly code = 'JOB_NOT_FOUND';
  constructor(jobId: string) {
    super(`job ${jobId} not found`);
  }
}

/** No such batch, or no such item in it, for this instance. */
export class BatchNotFoundError extends WamediaError {
  readonly code = 'BATCH_NOT_FOUND';
}

/** A signed link holds, but the store no longer has the file it names (the store was emptied). */
export class MediaNotStoredError extends WamediaError {
  readonly code = 'MEDIA_NOT_STORED';
  constructor() {
    super('the linked media is no longer stored: ask for the media again to get a new link');
  }
}

// ---- CDN ---------------------------------------------------------------------------------

/** 403/404/410 from the CDN: final, only the phone that received the media can re-upload it. */
export class MediaExpiredError extends WamediaError {
  readonly code = 'MEDIA_EXPIRED';
  constructor(readonly cdnStatus: number) {
    super(
      `media expired or not found on the WhatsApp CDN (HTTP ${cdnStatus}); ` +
        'it must be re-uploaded from the phone that received it (a media retry request), then downloaded with the new reference',
    );
  }
}

/** The media is larger than MAX_MEDIA_BYTES (declared or while streaming). */
export class MediaTooLargeError extends WamediaError {
  readonly code = 'MEDIA_TOO_LARGE';
  constructor(readonly limit: number) {
    super(`media is larger than the limit of ${limit} bytes`);
  }
}

/** 5xx, 429, timeouts or network errors from the CDN; retried, and reported when retries run out. */
export class CdnUnavailableError extends WamediaError {
  readonly code = 'CDN_UNAVAILABLE';
  constructor(
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
  /** How long the CDN asked us to wait (Retry-After), when it did. */
  readonly retryAfterMs: number | undefined;
}

// ---- Media retry -------------------------------------------------------------------------

/** A re-upload answer for a job that is not waiting for one (never was, already answered, or ended). */
export class NotAwaitingReuploadError extends WamediaError {
  readonly code = 'NOT_AWAITING_REUPLOAD';
  constructor(jobId: string) {
    super(`job ${jobId} is not awaiting a re-upload`);
  }
}

/**
 * The phone's MediaRetryNotification does not decrypt with the job's mediaKey and message id, or
 * holds no usable answer. The job keeps waiting for a good one.
 */
export class NotificationUnreadableError extends WamediaError {
  readonly code = 'NOTIFICATION_UNREADABLE';
  constructor(reason: string, options?: { cause?: unknown }) {
    super(`the media retry notification is unreadable: ${reason}`, options);
  }
}

/** The phone answered the media retry request with NOT_FOUND: it no longer has the media. */
export class ReuploadNotFoundError extends WamediaError {
  readonly code = 'REUPLOAD_NOT_FOUND';
  constructor() {
    super('media expired on the WhatsApp CDN, and the phone that received it no longer has it (media retry answered NOT_FOUND)');
  }
}

/**
 * The phone answered DECRYPTION_ERROR: it could not decrypt the retry receipt, so the mediaKey or
 * the message key given do not belong to this message.
 */
export class ReuploadDecryptionFailedError extends WamediaError {
  readonly code = 'REUPLOAD_DECRYPTION_FAILED';
  constructor() {
    super('the phone could not decrypt the media retry request (DECRYPTION_ERROR): the mediaKey or the messageKey do not match the message');
  }
}

/** The phone answered GENERAL_ERROR: the re-upload failed on its side. */
export class ReuploadFailedError extends WamediaError {
  readonly code = 'REUPLOAD_FAILED';
  constructor() {
    super('the phone failed to re-upload the media (media retry answered GENERAL_ERROR)');
  }
}

// ---- Integrity ---------------------------------------------------------------------------

/** Base of every integrity failure: wrong key, wrong type or corrupted bytes. Nothing is stored. */
export abstract class IntegrityError extends WamediaError {}

export class MediaTooShortError extends IntegrityError {
  readonly code = 'MEDIA_TOO_SHORT';
  constructor(length: number) {
    super(`integrity check failed: encrypted media is too short (${length} bytes, at least 26 expected)`);
  }
}

export class NotBlockAlignedError extends IntegrityError {
  readonly code = 'NOT_BLOCK_ALIGNED';
  constructor(ciphertextLength: number) {
    super(`integrity check failed: ciphertext length ${ciphertextLength} is not a multiple of 16`);
  }
}

export class EncSha256MismatchError extends IntegrityError {
  readonly code = 'ENC_SHA256_MISMATCH';
  constructor() {
    super('integrity check failed: SHA-256 of the encrypted file does not match fileEncSha256');
  }
}

export class MacMismatchError extends IntegrityError {
  readonly code = 'MAC_MISMATCH';
  constructor() {
    super('integrity check failed: HMAC mismatch (wrong mediaKey, wrong contentType or corrupted file)');
  }
}

export class BadPaddingError extends IntegrityError {
  readonly code = 'BAD_PADDING';
  constructor(options?: { cause?: unknown }) {
    super('integrity check failed: bad PKCS#7 padding after decryption', options);
  }
}

/** `file` says which: the decrypted one, or the downloaded one of media that is not encrypted (channel media). */
export class Sha256MismatchError extends IntegrityError {
  readonly code = 'SHA256_MISMATCH';
  constructor(file: 'decrypted' | 'downloaded' = 'decrypted') {
    super(`integrity check failed: SHA-256 of the ${file} file does not match fileSha256`);
  }
}

export class LengthMismatchError extends IntegrityError {
  readonly code = 'LENGTH_MISMATCH';
  constructor(expected: number, actual: number, file: 'decrypted' | 'downloaded' = 'decrypted') {
    super(`integrity check failed: ${file} length ${actual} does not match fileLength ${expected}`);
  }
}

// ---- Infrastructure ----------------------------------------------------------------------

/** Redis (and so the queue) cannot be reached. */
export class QueueUnavailableError extends WamediaError {
  readonly code = 'QUEUE_UNAVAILABLE';
}

/** The blob store (S3 or the folder) cannot be reached. */
export class StorageUnavailableError extends WamediaError {
  readonly code = 'STORAGE_UNAVAILABLE';
}

/**
 * A worker cannot open the sealed mediaKey of a job: it runs with another JOB_DATA_KEY (or
 * JWT_SECRET, which the key is derived from when unset) than the API that sealed it, or the job
 * data was altered. Retryable: another worker, configured right, may take the next attempt.
 */
export class JobDataUnreadableError extends WamediaError {
  readonly code = 'JOB_DATA_UNREADABLE';
}

/** One or more settings are missing or invalid; one message per variable. */
export class ConfigError extends WamediaError {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
  override get messages(): string[] {
    return this.problems;
  }
}

/** Anything unexpected; the cause is logged, never shown to clients. */
export class InternalError extends WamediaError {
  readonly code = 'INTERNAL';
}

/** The body every error answer (and failed webhook item) carries. */
export interface ErrorBodyShape {
  message: string[];
  error: string;
  statusCode: number;
}

/** `{message: string[], error: "<reason phrase>", statusCode}` for a wamedia error. */
export function toErrorBody(error: WamediaError): ErrorBodyShape {
  return { message: error.messages, error: STATUS_CODES[error.status] ?? 'Error', statusCode: error.status };
}

// ---- Crossing the queue ------------------------------------------------------------------

/** A failure read back from a job, with the code and message the worker gave it. */
export class JobFailedError extends WamediaError {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}
