import type { MediaLink } from '@wamedia/shared';

/** What a link names: a verified media, stored under its SHA-256, and how it is to be served. */
export interface LinkTarget {
  /** The plaintext SHA-256 (hex): the media's address in the store. */
  sha256: string;
  /** Size in bytes. */
  size: number;
  /** The Content-Type the link serves. */
  mimetype: string;
  /** The Content-Disposition file name the link serves (see mediaFileName). */
  fileName: string;
}

export interface LinkOptions {
  /** How long the link holds, in seconds (at most SIGNED_URL_TTL_SECONDS; the caller checks). */
  ttlSeconds: number;
  /**
   * Where clients reach the API (PUBLIC_BASE_URL, else the origin the request was sent to), without
   * a trailing "/": the origin of the links the API serves itself. Presigned S3 links ignore it.
   */
  origin: string;
}

/**
 * Makes links that serve a stored media without a token, for a while: presigned GetObject URLs
 * on S3, URLs the API signs on a folder. Callers hand it only media they have found through the
 * instance's own request, job or batch, so a link is never to anything the instance could not fetch.
 */
export interface MediaLinks {
  link(target: LinkTarget, options: LinkOptions): Promise<MediaLink>;
}

/**
 * The Content-Disposition a media is served with, by the API and by S3 alike. mediaFileName's
 * names are RFC 6266 tokens and go bare (as express writes them); any other is quoted.
 */
export function attachmentDisposition(fileName: string): string {
  if (/^[A-Za-z0-9._-]+$/.test(fileName)) return `attachment; filename=${fileName}`;
  return `attachment; filename="${fileName.replace(/[\\"]/g, '\\$&')}"`;
}
