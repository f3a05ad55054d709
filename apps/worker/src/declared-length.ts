import { CdnUnavailableError, EncSha256MismatchError, MAC_LENGTH, MacMismatchError } from '@wamedia/shared';

const AES_BLOCK = 16;

/**
 * Checks the CDN's Content-Length against what any .enc is: whole AES blocks, then the MAC. A
 * length that cannot be a .enc at all is the transfer's fault (a proxy or CDN node cutting or
 * mislabelling the answer): another attempt may get it right, where decrypting those bytes
 * would fail the job for good (422). (A request's fileLength is not used here: a wrong one is
 * that request's mistake, answered 422 LENGTH_MISMATCH after decryption.)
 * @throws CdnUnavailableError (retryable) when it cannot be.
 */
export function assertPlausibleLength(declared: number | undefined, where: string): void {
  if (declared === undefined) return;
  if (declared >= AES_BLOCK + MAC_LENGTH && (declared - MAC_LENGTH) % AES_BLOCK === 0) return;
  throw new CdnUnavailableError(
    `${where} declared a Content-Length of ${declared}: a .enc is whole ${AES_BLOCK}-byte blocks plus the ${MAC_LENGTH}-byte MAC`,
  );
}

/** The length of the .enc of a plaintext of `fileLength` bytes: PKCS#7 always pads (up to a whole block), the MAC follows. */
export function encryptedLength(fileLength: number): number {
  return fileLength - (fileLength % AES_BLOCK) + AES_BLOCK + MAC_LENGTH;
}

/**
 * What a .enc that failed its MAC or its fileEncSha256 means. Corrupt bytes are final (422), but
 * when the CDN declared a length other than the one the request's fileLength gives, the bytes
 * were cut at the wrong place (a Content-Length shorter than the body, still a plausible .enc):
 * the transfer's fault, which another attempt may get right. Any other error is returned as it is.
 */
export function blameTransfer(error: unknown, declared: number | undefined, fileLength: number | undefined, where: string): unknown {
  if (!(error instanceof MacMismatchError || error instanceof EncSha256MismatchError)) return error;
  if (declared === undefined || fileLength === undefined || declared === encryptedLength(fileLength)) return error;
  return new CdnUnavailableError(
    `${where} declared a Content-Length of ${declared} where the .enc of ${fileLength} bytes is ${encryptedLength(fileLength)}, and those bytes fail the check: the transfer cut them at the wrong place`,
    { cause: error },
  );
}
