/**
 * The soak's media: published on the fake CDN as they are needed, each encrypted by the project's
 * own encryptor (FakeCdn.publish), of mixed types and sizes (mostly small, some of a few MiB, a
 * rare one up to 50 MiB, and one of 50 MiB at the start), and each with a behaviour of the CDN:
 * served normally, served slowly, failing a few times before it is served, or expired (404/410
 * for good). Requests name the directPath only, so every CDN request of a media is on one path.
 */
import type { ContentType } from '@wamedia/shared';
import { downloadBody, type DownloadBody } from '../support/api-client.js';
import type { FakeCdn, PublishedMedia } from '../support/fake-cdn.js';
import type { Prng } from './prng.js';

const KiB = 1024;
const MiB = 1024 * KiB;
export const LARGEST_MEDIA = 50 * MiB;

export type CdnBehaviour = 'normal' | 'slow' | 'failing' | 'expired';

/** A media of the catalogue: what a request needs and what the checks compare with. */
export interface CatalogueMedia {
  /** Its index in the catalogue, for messages. */
  index: number;
  behaviour: CdnBehaviour;
  /** The request body: every field of the message but its url (the directPath alone is fetched). */
  body: DownloadBody;
  /** SHA-256 of the plaintext, hex: what a 200 must hash to and the stored object's name. */
  sha256: string;
  size: number;
  /** Length of the .enc: a CDN response that sent this many bytes was a whole download. */
  encLength: number;
  /** The path every CDN request of this media is on. */
  pathname: string;
}

const CONTENT_TYPES: ContentType[] = ['image', 'video', 'audio', 'document'];

export class Catalogue {
  readonly media: CatalogueMedia[] = [];
  private readonly byPathname = new Map<string, CatalogueMedia>();

  constructor(
    private readonly cdn: FakeCdn,
    private readonly prng: Prng,
  ) {}

  /** Publishes a new media on the CDN; the first one is LARGEST_MEDIA bytes, served normally. */
  create(): CatalogueMedia {
    const first = this.media.length === 0;
    const size = first ? LARGEST_MEDIA : this.drawSize();
    const behaviour: CdnBehaviour = first ? 'normal' : this.drawBehaviour(size);
    const published = this.cdn.publish(randomBytesFrom(this.prng, size), this.prng.pick(CONTENT_TYPES));
    this.script(published, behaviour);
    const media: CatalogueMedia = {
      index: this.media.length,
      behaviour,
      body: downloadBody(published, { omit: ['url'] }),
      sha256: published.sha256,
      size,
      encLength: published.enc.length,
      pathname: published.directPathname,
    };
    this.media.push(media);
    this.byPathname.set(media.pathname, media);
    return media;
  }

  /** A media published earlier (a repeat: a cache hit, or a join of a running job); a new one when there is none. */
  known(): CatalogueMedia {
    return this.media.length === 0 ? this.create() : this.prng.pick(this.media);
  }

  /** The media served at `pathname`, if it is one of the catalogue's. */
  at(pathname: string): CatalogueMedia | undefined {
    return this.byPathname.get(pathname);
  }

  private drawSize(): number {
    const band = this.prng.weighted({ small: 80, medium: 18, large: 2 });
    if (band === 'small') return this.prng.logUniform(KiB, 64 * KiB);
    if (band === 'medium') return this.prng.logUniform(64 * KiB, 2 * MiB);
    return this.prng.logUniform(2 * MiB, LARGEST_MEDIA);
  }

  private drawBehaviour(size: number): CdnBehaviour {
    // A slow 50 MiB media would hold a worker for the whole run: slowness is for the smaller ones.
    if (size > 2 * MiB) return this.prng.weighted({ normal: 85, failing: 15 });
    return this.prng.weighted({ normal: 70, slow: 10, failing: 10, expired: 10 });
  }

  /** Tells the CDN how to answer the media's path. */
  private script(media: PublishedMedia, behaviour: CdnBehaviour): void {
    const path = media.directPathname;
    switch (behaviour) {
      case 'normal':
        return;
      case 'slow': {
        // In 32 KiB pieces spread over up to 4 s: slow, never silent for the idle timeout.
        const pieces = Math.max(1, Math.ceil(media.enc.length / (32 * KiB)));
        const chunkIntervalMs = Math.min(100, Math.floor(4_000 / pieces));
        this.cdn.setBehaviour(path, { kind: 'serve', headerDelayMs: this.prng.int(200, 1_500), chunkSize: 32 * KiB, chunkIntervalMs });
        return;
      }
      case 'failing':
        this.cdn.failTimes(path, this.prng.int(1, 3), this.prng.pick([500, 502, 503]));
        return;
      case 'expired':
        this.cdn.setBehaviour(path, { kind: 'status', status: this.prng.pick([404, 410]) });
    }
  }
}

/** `size` bytes from the PRNG: the same seed publishes the same media. */
function randomBytesFrom(prng: Prng, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  let offset = 0;
  for (; offset + 4 <= size; offset += 4) bytes.writeUInt32LE(Math.floor(prng.float() * 2 ** 32), offset);
  for (; offset < size; offset++) bytes[offset] = Math.floor(prng.float() * 256);
  return bytes;
}
