import type { Request, Response } from 'express';
import type { LinkOptions, MediaLinks } from '@wamedia/server';
import { InvalidRequestError, describeIssues, deliveryQuerySchema, type DeliveryQuery } from '@wamedia/shared';
import type { ReadyMedia } from '../services/ready-media.js';
import { publicOrigin } from './public-origin.js';
import { sendBase64 } from './send-base64.js';
import { sendMedia } from './send-media.js';

export interface MediaDeliveryOptions {
  /** Makes `response=url` links: presigned on S3, signed by the API on a folder. */
  links: MediaLinks;
  /** SIGNED_URL_TTL_SECONDS: a link's lifetime, and the most `ttl` may ask for. */
  linkTtlSeconds: number;
  /** PUBLIC_BASE_URL: the origin of the links the API serves; the request's when undefined. */
  publicBaseUrl: string | undefined;
  /** BASE64_MAX_BYTES: the largest media `response=base64` answers. */
  base64MaxBytes: number;
}

/**
 * The three ways a ready media is answered, as the `response` query picks: `file` streams it
 * (Range, ETag), `url` answers a link to it that expires, `base64` the file inside JSON.
 */
export class MediaDelivery {
  private readonly querySchema: ReturnType<typeof deliveryQuerySchema>;

  constructor(private readonly options: MediaDeliveryOptions) {
    this.querySchema = deliveryQuerySchema(options.linkTtlSeconds);
  }

  /**
   * The `response` and `ttl` queries of `req`.
   * @throws InvalidRequestError naming each bad one.
   */
  parse(req: Request): DeliveryQuery {
    const parsed = this.querySchema.safeParse({ response: req.query.response, ttl: req.query.ttl });
    if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error));
    return parsed.data;
  }

  /** Answers `media` as `query` asks. */
  async deliver(req: Request, res: Response, media: ReadyMedia, query: DeliveryQuery): Promise<void> {
    switch (query.response) {
      case 'file':
        return sendMedia(req, res, media);
      case 'base64':
        return sendBase64(res, media, this.options.base64MaxBytes);
      case 'url': {
        const link = await this.options.links.link(media, this.linkOptions(req, query.ttl));
        // The link opens the file without a token: no cache along the way may keep it.
        res.set('Cache-Control', 'no-store').json(link);
        return;
      }
    }
  }

  /** How the links of `req` are made: for `ttl` seconds (SIGNED_URL_TTL_SECONDS by default), on the API's public origin. */
  linkOptions(req: Request, ttl?: number): LinkOptions {
    return { ttlSeconds: ttl ?? this.options.linkTtlSeconds, origin: this.origin(req) };
  }

  /** Where clients reach this API: PUBLIC_BASE_URL, else the origin of `req`. */
  origin(req: Request): string {
    return publicOrigin(req, this.options.publicBaseUrl);
  }

  /** SIGNED_URL_TTL_SECONDS: the most a `ttl` query may ask for. */
  get maxTtlSeconds(): number {
    return this.options.linkTtlSeconds;
  }

  /** The query that asks for the same answer again (`?response=url&ttl=60`), or '' for the file. */
  static queryString(query: DeliveryQuery): string {
    if (query.response === 'file') return '';
    return `?response=${query.response}${query.ttl === undefined ? '' : `&ttl=${query.ttl}`}`;
  }
}
