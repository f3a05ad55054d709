import { InvalidFieldError } from '../errors.js';

/**
 * Parsing of the byte fields of a media reference (mediaKey, fileSha256, fileEncSha256) and of
 * fileLength, in every shape that Baileys, whatsmeow bridges and Evolution API payloads use.
 */

const base64Pattern = /^[A-Za-z0-9+/_-]*={0,2}$/;
const dataUrlPrefix = /^data:[^,]*;base64,/i;

/**
 * Reads bytes from a base64 string (standard or URL-safe, padded or not, `data:` prefix allowed),
 * a hex string of exactly `length` bytes, `{"0":1,"1":2,...}`, `{"type":"Buffer","data":[...] | "<base64>"}`,
 * an array of numbers or a Uint8Array.
 * @throws InvalidFieldError naming `field` and the reason.
 */
export function parseBytes(field: string, value: unknown, length?: number): Buffer {
  const bytes = toBytes(field, value, length);
  if (length !== undefined && bytes.length !== length) {
    throw new InvalidFieldError(field, `must be ${length} bytes, got ${bytes.length}`);
  }
  return bytes;
}

function toBytes(field: string, value: unknown, length: number | undefined): Buffer {
  if (typeof value === 'string') return fromString(field, value, length);
  if (value instanceof Uint8Array) return Buffer.from(value);
  if (Array.isArray(value)) return fromNumbers(field, value);
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if (record.type === 'Buffer' && 'data' in record) {
      return typeof record.data === 'string'
        ? fromString(field, record.data, length)
        : fromNumbers(field, asArray(field, record.data));
    }
    return fromNumbers(field, indexedValues(field, record));
  }
  throw new InvalidFieldError(field, `must be base64 text or bytes, got ${value === null ? 'null' : typeof value}`);
}

function fromString(field: string, text: string, length: number | undefined): Buffer {
  const trimmed = text.trim().replace(dataUrlPrefix, '');
  if (length !== undefined && trimmed.length === length * 2 && /^[0-9a-f]+$/i.test(trimmed)) {
    // A hex string of the exact size can't be base64 of that size (it would decode to 1.5x).
    return Buffer.from(trimmed, 'hex');
  }
  if (!base64Pattern.test(trimmed) || trimmed.replace(/=+$/, '').length % 4 === 1) {
    throw new InvalidFieldError(field, 'is not valid base64');
  }
  return Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function asArray(field: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new InvalidFieldError(field, 'Buffer data must be an array of bytes or base64 text');
  return value;
}

/** `{"0":12,"1":200,...}`: how a Uint8Array comes out of JSON.stringify. */
function indexedValues(field: string, record: Record<string, unknown>): unknown[] {
  const keys = Object.keys(record);
  const values = new Array<unknown>(keys.length);
  for (const key of keys) {
    const index = Number(key);
    if (!/^\d+$/.test(key) || index >= keys.length) {
      throw new InvalidFieldError(field, 'must be base64 text, a byte array, or an object of byte indexes 0..n-1');
    }
    values[index] = record[key];
  }
  return values;
}

function fromNumbers(field: string, values: unknown[]): Buffer {
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
      throw new InvalidFieldError(field, 'every byte must be an integer from 0 to 255');
    }
  }
  return Buffer.from(values as number[]);
}

/**
 * Reads fileLength from a number, a decimal string, or a protobuf Long `{low, high, unsigned}`.
 * @throws InvalidFieldError when it is not a non-negative safe integer.
 */
export function parseFileLength(value: unknown, field = 'fileLength'): number {
  let length: number;
  if (typeof value === 'number') length = value;
  else if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) length = Number(value);
  else if (isLong(value)) length = fromLong(field, value);
  else throw new InvalidFieldError(field, 'must be a number, a decimal string or {low, high, unsigned}');
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new InvalidFieldError(field, 'must be a non-negative integer');
  }
  return length;
}

interface Long {
  low: number;
  high: number;
  unsigned?: boolean;
}

function isLong(value: unknown): value is Long {
  if (value === null || typeof value !== 'object') return false;
  const { low, high } = value as Record<string, unknown>;
  return Number.isInteger(low) && Number.isInteger(high);
}

function fromLong(field: string, { low, high, unsigned }: Long): number {
  const signedHigh = unsigned ? high >>> 0 : high | 0;
  if (signedHigh < 0) throw new InvalidFieldError(field, 'must be a non-negative integer');
  return signedHigh * 2 ** 32 + (low >>> 0);
}
