import type { MediaLink } from '@wamedia/shared';
import { FILE_LINK_PATH, type FileLinkSignature } from './file-link-signature.js';
import type { LinkOptions, LinkTarget, MediaLinks } from './media-links.js';

/**
 * Links to media in a folder store: URLs on the API itself, signed with SIGNED_URL_SECRET, that
 * the API serves without a token (with Range and ETag) until they expire.
 */
export class ApiFileLinks implements MediaLinks {
  /** @param now the clock links expire by, in ms (tests set it). */
  constructor(
    private readonly signature: FileLinkSignature,
    private readonly now: () => number = Date.now,
  ) {}

  async link(target: LinkTarget, { ttlSeconds, origin }: LinkOptions): Promise<MediaLink> {
    const { sha256, size, mimetype, fileName } = target;
    const expires = Math.floor(this.now() / 1000) + ttlSeconds;
    const query = this.signature.sign({ sha256, fileName, mimetype, expires });
    return {
      url: `${origin}${FILE_LINK_PATH}/${sha256}?${query}`,
      expiresAt: new Date(expires * 1000).toISOString(),
      sha256,
      size,
      mimetype,
      fileName,
    };
  }
}
