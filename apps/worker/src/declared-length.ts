import { CdnUnavailableError, MAC_LENGTH } from '@wamedia/shared';

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
