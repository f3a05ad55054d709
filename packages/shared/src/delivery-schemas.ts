import { z } from 'zod';

/**
 * How a stored media reaches a client: the file itself (streamed by the API), a link (a
 * presigned S3 URL, or a URL the API signs), or the file as base64 inside JSON. The `response`
 * query of the download, job content and batch item content routes picks one.
 */

/** The `response` modes: `file` (the default), `url`, `base64`. */
export const responseModes = ['file', 'url', 'base64'] as const;
export type ResponseMode = (typeof responseModes)[number];

/** Default of SIGNED_URL_TTL_SECONDS: how long a link holds. */
export const DEFAULT_LINK_TTL_SECONDS = 3600;
/** The longest lifetime of a link: S3's own ceiling for a presigned URL (7 days). */
export const MAX_LINK_TTL_SECONDS = 604_800;

/** A query value given as `?name=` counts as absent, as `timeout=` does. */
const absentWhenEmpty = (value: unknown) => (value === '' ? undefined : value);

/** `ttl`: whole seconds, 1 to `max`. */
function ttlSchema(max: number) {
  return z.preprocess(
    absentWhenEmpty,
    z.coerce
      .number({ error: 'must be a number of seconds' })
      .int('must be a whole number of seconds')
      .min(1, 'must be 1 or more seconds')
      .max(max, `must be at most ${max} seconds (SIGNED_URL_TTL_SECONDS)`)
      .optional()
      .meta({ description: `How long the link holds, in seconds: 1 to ${max} (the default)` }),
  );
}

const responseModeSchema = z.preprocess(
  absentWhenEmpty,
  z
    .enum(responseModes, { error: `must be one of ${responseModes.join(', ')}` })
    .default('file')
    .meta({
      description:
        'file: the bytes; url: 200 JSON with a link to them that expires (MediaLink); ' +
        'base64: 200 JSON with the bytes as base64 (MediaBase64), for media up to BASE64_MAX_BYTES',
    }),
);

/**
 * The `response` and `ttl` queries of the routes that answer a media. `ttl` (at most
 * `maxTtlSeconds`, SIGNED_URL_TTL_SECONDS) only goes with `response=url`.
 */
export function deliveryQuerySchema(maxTtlSeconds: number) {
  return z
    .object({ response: responseModeSchema, ttl: ttlSchema(maxTtlSeconds) })
    .refine((query) => query.ttl === undefined || query.response === 'url', {
      path: ['ttl'],
      message: 'only goes with response=url',
    });
}
export type DeliveryQuery = z.output<ReturnType<typeof deliveryQuerySchema>>;

/**
 * The `links` and `ttl` queries of the batch status route: `links=1` adds each completed item's
 * link; `ttl` (at most `maxTtlSeconds`) only goes with it.
 */
export function batchLinksQuerySchema(maxTtlSeconds: number) {
  return z
    .object({
      links: z.preprocess(
        absentWhenEmpty,
        z
          .enum(['1', '0', 'true', 'false'], { error: 'must be 1 or 0' })
          .optional()
          .transform((value) => value === '1' || value === 'true')
          .meta({ description: "1: each completed item carries its link (MediaLink), valid for the TTL" }),
      ),
      ttl: ttlSchema(maxTtlSeconds),
    })
    .refine((query) => query.ttl === undefined || query.links, { path: ['ttl'], message: 'only goes with links=1' });
}
export type BatchLinksQuery = z.output<ReturnType<typeof batchLinksQuerySchema>>;

/** What a stored media is: the facts every response mode tells. */
const mediaFacts = {
  sha256: z.string().meta({ description: 'SHA-256 of the file, hex' }),
  size: z.number().int().meta({ description: 'Size of the file in bytes' }),
  mimetype: z.string(),
  fileName: z.string().meta({ description: 'The name it is served under, e.g. image-0a1b2c3d4e5f6071.jpg' }),
};

/** 200 to `response=url`, and a batch item's `link`: where to GET the verified file, until when. */
export const mediaLinkSchema = z
  .object({
    url: z.string().meta({
      description:
        'Absolute URL of the file, needing no token: a presigned S3 GetObject URL (S3 storage) or a URL the API ' +
        'signs (folder storage; Range and If-None-Match work on it)',
    }),
    expiresAt: z.iso.datetime().meta({ description: 'When the link stops working' }),
    ...mediaFacts,
  })
  .meta({ id: 'MediaLink' });
export type MediaLink = z.infer<typeof mediaLinkSchema>;

/** 200 to `response=base64`: the file inside JSON. */
export const mediaBase64Schema = z
  .object({
    mimetype: mediaFacts.mimetype,
    fileName: mediaFacts.fileName,
    size: mediaFacts.size,
    sha256: mediaFacts.sha256,
    base64: z.string().meta({ description: 'The file, base64 (standard alphabet, padded)' }),
  })
  .meta({ id: 'MediaBase64' });
export type MediaBase64 = z.infer<typeof mediaBase64Schema>;
