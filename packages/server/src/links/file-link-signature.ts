import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { LinkRefusedError } from '@wamedia/shared';

/**
 * The signature of the links the API serves itself (folder storage): an HMAC-SHA256, under
 * SIGNED_URL_SECRET, over the file's SHA-256, the link's expiry, and the name and type it is
 * served with. None of them can be changed without the key, so a link serves exactly the file,
 * name and type it was made for, until it expires.
 *
 * Link: `<origin>/media/files/<sha256>?exp=<unix seconds>&name=<file name>&type=<mimetype>&sig=<base64url>`.
 */

/** Where the API serves linked files: `<FILE_LINK_PATH>/<sha256>`. */
export const FILE_LINK_PATH = '/media/files';

/** HKDF info of the key derived from JWT_SECRET when SIGNED_URL_SECRET is unset. Fixed: changing it voids every link out. */
export const LINK_KEY_INFO = 'wamedia/signed-url-key/v1';
/** Bound into every signature, so a signature made for anything else never passes for a link's. */
const PURPOSE = 'wamedia-link/v1';
const KEY_LENGTH = 32;

const SHA256_HEX = /^[0-9a-f]{64}$/;
const UNIX_SECONDS = /^\d{1,11}$/;
// base64url of the 32 bytes of an HMAC-SHA256, unpadded.
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
const MAX_TEXT = 255;

/** The link key when SIGNED_URL_SECRET is unset: HKDF-SHA256 of JWT_SECRET (no salt) with a fixed info string. */
export function deriveLinkKey(jwtSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', jwtSecret, Buffer.alloc(0), LINK_KEY_INFO, KEY_LENGTH));
}

/** What a link's signature vouches for. */
export interface SignedFile {
  sha256: string;
  fileName: string;
  mimetype: string;
  /** When the link stops holding, in unix seconds. */
  expires: number;
}

/** Signs and checks file links under one key; one instance per process. */
export class FileLinkSignature {
  private readonly key: Buffer;

  /** @param now the clock expiry is checked against, in ms (tests set it). */
  constructor(
    key: Uint8Array,
    private readonly now: () => number = Date.now,
  ) {
    this.key = Buffer.from(key);
  }

  /** The query string (no "?") of a link to `file`. */
  sign(file: SignedFile): string {
    const exp = String(file.expires);
    const sig = this.signatureOf(file.sha256, exp, file.fileName, file.mimetype);
    return new URLSearchParams({ exp, name: file.fileName, type: file.mimetype, sig }).toString();
  }

  /**
   * The file a link names, from its path's `sha256` and its query.
   * @throws LinkRefusedError when a parameter is missing or malformed, the signature does not
   *   match, or the link has expired; checked in that order, before anything looks at the store.
   */
  verify(sha256: string, query: Record<string, unknown>): SignedFile {
    const { exp, name, type, sig } = query;
    if (!SHA256_HEX.test(sha256)) throw malformed('the path is not /media/files/<sha256>');
    if (typeof exp !== 'string' || !UNIX_SECONDS.test(exp)) throw malformed('exp');
    if (!isText(name)) throw malformed('name');
    if (!isText(type)) throw malformed('type');
    if (typeof sig !== 'string' || !SIGNATURE.test(sig)) throw malformed('sig');
    // Compared as the 43 characters, not decoded bytes: base64url's last character has spare bits,
    // so other spellings of the same bytes would pass otherwise.
    const expected = Buffer.from(this.signatureOf(sha256, exp, name, type));
    if (!timingSafeEqual(Buffer.from(sig), expected)) throw new LinkRefusedError('link refused: the signature does not match');
    const expires = Number(exp);
    if (this.now() >= expires * 1000) {
      throw new LinkRefusedError(`link refused: it expired at ${new Date(expires * 1000).toISOString()}`);
    }
    return { sha256, fileName: name, mimetype: type, expires };
  }

  private signatureOf(sha256: string, exp: string, name: string, type: string): string {
    // A JSON array: no choice of name or type can make two different links sign the same text.
    const signed = JSON.stringify([PURPOSE, sha256, exp, name, type]);
    return createHmac('sha256', this.key).update(signed).digest('base64url');
  }
}

function isText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TEXT;
}

function malformed(what: string): LinkRefusedError {
  return new LinkRefusedError(`link refused: malformed (${what})`);
}
