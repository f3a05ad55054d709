import type { BlobStore, FileLinkSignature } from '@wamedia/server';
import { MediaNotStoredError } from '@wamedia/shared';
import { storedMedia, type ReadyMedia } from './ready-media.js';

/**
 * The files behind the links the API signs (folder storage): a link is its own authority, so no
 * token is asked for; its signature is, and it is checked before the store is looked at, so a
 * refused link learns nothing about any file.
 */
export class LinkedFiles {
  constructor(
    private readonly deps: {
      signature: FileLinkSignature;
      store: BlobStore;
    },
  ) {}

  /**
   * The media a link names, under the name and type it was signed with.
   * @throws LinkRefusedError (403) for a missing, malformed, tampered or expired link;
   *   MediaNotStoredError (404) when the store no longer holds the file.
   */
  async open(sha256: string, query: Record<string, unknown>): Promise<ReadyMedia> {
    const file = this.deps.signature.verify(sha256, query);
    const stored = await this.deps.store.stat(file.sha256);
    if (!stored) throw new MediaNotStoredError();
    return storedMedia(this.deps.store, { sha256: file.sha256, size: stored.size, mimetype: file.mimetype, fileName: file.fileName });
  }
}
