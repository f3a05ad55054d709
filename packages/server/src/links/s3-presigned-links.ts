import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { MediaLink } from '@wamedia/shared';
import { blobObjectKey } from '../storage/s3-store.js';
import { attachmentDisposition, type LinkOptions, type LinkTarget, type MediaLinks } from './media-links.js';

/**
 * Links to media in an S3 bucket: presigned GetObject URLs (SigV4, in the query), which S3 serves
 * itself with the type and file name the link sets, until they expire. Signing is local: no
 * request to S3 is made.
 */
export class S3PresignedLinks implements MediaLinks {
  /**
   * @param client an S3 client on the endpoint clients reach (S3_PUBLIC_ENDPOINT): the host is signed.
   * @param now the clock links are signed and expire by, in ms (tests set it).
   */
  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly now: () => number = Date.now,
  ) {}

  async link(target: LinkTarget, { ttlSeconds }: LinkOptions): Promise<MediaLink> {
    const { sha256, size, mimetype, fileName } = target;
    // SigV4 dates are whole seconds: the expiry told is the one S3 will apply.
    const signedAt = Math.floor(this.now() / 1000);
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: blobObjectKey(sha256),
      ResponseContentType: mimetype,
      ResponseContentDisposition: attachmentDisposition(fileName),
    });
    const url = await getSignedUrl(this.client, command, { expiresIn: ttlSeconds, signingDate: new Date(signedAt * 1000) });
    return { url, expiresAt: new Date((signedAt + ttlSeconds) * 1000).toISOString(), sha256, size, mimetype, fileName };
  }
}
