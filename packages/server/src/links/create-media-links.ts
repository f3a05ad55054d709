import type { Config, S3Settings } from '../config.js';
import { ApiFileLinks } from './api-file-links.js';
import { FileLinkSignature } from './file-link-signature.js';
import type { MediaLinks } from './media-links.js';

/** The MediaLinks of the configured store: presigned S3 URLs, or links the API signs for a folder. */
export function createMediaLinks(config: Pick<Config, 'storage' | 'signedUrlKey'>): MediaLinks {
  const { storage } = config;
  if (storage.kind === 'fs') return new ApiFileLinks(new FileLinkSignature(config.signedUrlKey));
  return lazyS3Links(storage);
}

/**
 * S3 links whose presigner loads with the first link: most processes never make one, and the
 * compiled services keep the AWS SDK in chunks loaded only when they run.
 */
function lazyS3Links(settings: S3Settings): MediaLinks {
  let links: Promise<MediaLinks> | undefined;
  return {
    async link(target, options) {
      links ??= Promise.all([import('./s3-presigned-links.js'), import('../storage/s3-store.js')]).then(
        ([{ S3PresignedLinks }, { createS3Client }]) =>
          new S3PresignedLinks(createS3Client({ ...settings, endpoint: settings.publicEndpoint ?? settings.endpoint }), settings.bucket),
      );
      return (await links).link(target, options);
    },
  };
}
