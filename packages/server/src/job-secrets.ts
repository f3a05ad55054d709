import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import { JobDataUnreadableError } from '@wamedia/shared';

/**
 * Secrets at rest in Redis: the mediaKey of a download job is sealed with AES-256-GCM by the API
 * and opened by the worker, so neither a Redis dump, a replica, a backup nor the queue dashboard
 * shows a key that decrypts a customer's media.
 *
 * Sealed form: `v1.<key id>.<base64url(iv ‖ ciphertext ‖ tag)>`. The key id (the first 8 hex digits
 * of a hash of the key, which says nothing usable about it) lets a worker with another key say so
 * instead of failing obscurely; the version leaves room for another format or key rotation. The
 * caller's context (the job's cache key) is authenticated with the ciphertext, so a sealed value
 * copied into another job does not open.
 */

const VERSION = 'v1';
const KEY_LENGTH = 32;
const IV_LENGTH = 12;
const TAG_LENGTH = 16;
/** HKDF info of the key derived from JWT_SECRET when JOB_DATA_KEY is unset. Fixed: changing it strands queued jobs. */
export const JOB_DATA_KEY_INFO = 'wamedia/job-data-key/v1';
const SEALED = /^v1\.([0-9a-f]{8})\.([A-Za-z0-9_-]+)$/;

/** JOB_DATA_KEY's value as 32 bytes: 64 hex digits, or base64 (standard or URL-safe); undefined when it is neither. */
export function parseJobDataKey(value: string): Buffer | undefined {
  const text = value.trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) return undefined;
  const key = Buffer.from(text, 'base64');
  return key.length === KEY_LENGTH ? key : undefined;
}

/** The job data key when JOB_DATA_KEY is unset: HKDF-SHA256 of JWT_SECRET (no salt) with a fixed info string. */
export function deriveJobDataKey(jwtSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', jwtSecret, Buffer.alloc(0), JOB_DATA_KEY_INFO, KEY_LENGTH));
}

/** Seals and opens job secrets under one key; one instance per process. */
export class JobSecrets {
  /** Identifies the key in sealed values (not secret). */
  readonly keyId: string;
  private readonly key: Buffer;

  constructor(key: Uint8Array) {
    if (key.length !== KEY_LENGTH) throw new RangeError(`the job data key must be ${KEY_LENGTH} bytes, not ${key.length}`);
    this.key = Buffer.from(key);
    this.keyId = createHash('sha256').update('wamedia/job-data-key-id/v1').update(this.key).digest('hex').slice(0, 8);
  }

  /** The sealed form of `secret`, bound to `context` (the same context must be given to open it). */
  seal(secret: Uint8Array, context: string): string {
    const iv = randomBytes(IV_LENGTH);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(this.aad(this.keyId, context));
    const ciphertext = Buffer.concat([cipher.update(secret), cipher.final()]);
    const sealed = Buffer.concat([iv, ciphertext, cipher.getAuthTag()]);
    return `${VERSION}.${this.keyId}.${sealed.toString('base64url')}`;
  }

  /**
   * The secret inside `sealed`.
   * @throws JobDataUnreadableError when it is not a sealed value, was sealed under another key, or was altered.
   */
  open(sealed: string, context: string): Buffer {
    const match = SEALED.exec(sealed);
    if (!match) {
      throw new JobDataUnreadableError(
        `cannot open the job's mediaKey: it is not sealed in a form this process reads (${VERSION}.<key id>.<data>)`,
      );
    }
    const [, keyId, data] = match as unknown as [string, string, string];
    if (keyId !== this.keyId) {
      throw new JobDataUnreadableError(
        `cannot open the job's mediaKey: it was sealed with another JOB_DATA_KEY (key id ${keyId}; this process has ${this.keyId}). ` +
          'The API and every worker need the same JOB_DATA_KEY (or, when it is unset, the same JWT_SECRET)',
      );
    }
    const bytes = Buffer.from(data, 'base64url');
    if (bytes.length < IV_LENGTH + TAG_LENGTH) throw this.altered();
    const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_LENGTH));
    decipher.setAAD(this.aad(keyId, context));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_LENGTH));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_LENGTH, bytes.length - TAG_LENGTH)), decipher.final()]);
    } catch (error) {
      throw this.altered(error);
    }
  }

  private aad(keyId: string, context: string): Buffer {
    return Buffer.from(`${VERSION}.${keyId}.${context}`);
  }

  private altered(cause?: unknown): JobDataUnreadableError {
    return new JobDataUnreadableError("cannot open the job's mediaKey: the sealed value does not authenticate (the job data was altered)", {
      cause,
    });
  }
}
