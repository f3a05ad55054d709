import { z } from 'zod';
import { InvalidFieldError } from './errors.js';
import { parseBytes, parseFileLength } from './media/byte-fields.js';
import { MEDIA_KEY_LENGTH } from './media/media-keys.js';
import { contentTypes } from './media/media-types.js';
import { isMediaType } from './media/mimetype.js';

/**
 * The HTTP contract's input, as zod schemas shared by the API (validation) and the CLI and
 * tests (types). Byte fields accept every encoding listed in docs/media-format.md and come out as Buffers.
 */

function bytes(value: unknown, ctx: z.RefinementCtx, length: number): Buffer {
  try {
    return parseBytes('', value, length);
  } catch (error) {
    if (!(error instanceof InvalidFieldError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.reason });
    return z.NEVER;
  }
}

/** How byte fields look in the OpenAPI document: every encoding bytes() reads. */
function bytesMeta(length: number) {
  return {
    description:
      `${length} bytes: base64 (standard or URL-safe, padding optional, data: prefix allowed), hex, ` +
      'a serialized Uint8Array {"0":12,...}, {"type":"Buffer","data":[...] or "<base64>"}, or an array of numbers',
    anyOf: [
      { type: 'string' },
      { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 } },
      { type: 'object' },
    ],
  };
}

function bytesField(length: number) {
  return z
    .unknown()
    .transform((value, ctx) => bytes(value, ctx, length))
    .meta(bytesMeta(length));
}

const fileLengthField = z
  .unknown()
  .transform((value, ctx) => {
    try {
      return parseFileLength(value);
    } catch (error) {
      if (!(error instanceof InvalidFieldError)) throw error;
      ctx.addIssue({ code: 'custom', message: error.reason });
      return z.NEVER;
    }
  })
  .meta({
    description: 'Plaintext length in bytes: a number, a decimal string, or a protobuf Long {low, high, unsigned}',
    anyOf: [
      { type: 'integer', minimum: 0 },
      { type: 'string', pattern: '^\\d+$' },
      { type: 'object', properties: { low: { type: 'integer' }, high: { type: 'integer' }, unsigned: { type: 'boolean' } } },
    ],
  });

export const contentTypeSchema = z.enum(contentTypes, {
  error: (issue) =>
    `must be one of ${contentTypes.join(', ')}` +
    (typeof issue.input === 'string' ? ` (got "${truncate(issue.input)}": pick one)` : ''),
});

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(4096);

/**
 * The key of the message that carried the media, as Baileys' `message.key` has it: what a media
 * retry request (the re-upload of an expired media by the phone) names.
 */
export const messageKeySchema = z
  .object(
    {
      id: z.string().min(1).max(128),
      remoteJid: z.string().min(1).max(256),
      fromMe: z.boolean(),
      participant: z.string().min(1).max(256).optional(),
    },
    { error: 'must be an object {id, remoteJid, fromMe, participant?}' },
  )
  .meta({ id: 'MessageKey' });
export type MessageKey = z.infer<typeof messageKeySchema>;

export const mediaContentSchema = z
  .object(
    {
      url: httpUrl.optional(),
      directPath: z
        .string()
        .max(4096)
        // A path on MEDIA_CDN_BASE_URL only: "//host/x" and "/\host" read as another host to many
        // URL parsers, and a full URL belongs in `url` (where the host allow list checks it).
        .regex(
          /^\/(?![/\\])[^\s\\]*$/,
          'must be a path starting with "/" on the CDN (e.g. "/v/t62.7118-24/<id>.enc?ccb=..."): not a URL, not "//host", no backslash or whitespace',
        )
        .optional(),
      mediaKey: bytesField(MEDIA_KEY_LENGTH)
        .optional()
        .meta({
          description: `${bytesMeta(MEDIA_KEY_LENGTH).description}. Absent for channel (newsletter) media, which is not encrypted: then fileSha256 is required`,
        }),
      mimetype: z
        .string()
        .max(255)
        .refine(isMediaType, 'must be a media type: type/subtype, then optional ;name=value parameters (RFC 9110), no control characters')
        .optional(),
      fileSha256: bytesField(32).optional(),
      fileEncSha256: bytesField(32).optional(),
      fileLength: fileLengthField.optional(),
      messageKey: messageKeySchema
        .optional()
        .meta({ description: 'The message that carried the media: with it, an expired media can be re-uploaded by the phone' }),
    },
    { error: 'must be an object' },
  )
  .refine((c) => c.url !== undefined || c.directPath !== undefined, {
    message: 'must have a url or a directPath',
  })
  // Without a mediaKey there is no MAC: the file's hash is then all there is to check it against.
  .refine((c) => c.mediaKey !== undefined || c.fileSha256 !== undefined, {
    message: 'is required; media without one (channel media, not encrypted) needs a fileSha256 instead',
    path: ['mediaKey'],
  });

/** Where webhooks go; its host is checked against WEBHOOK_ALLOWED_HOSTS. */
export const callbackUrlSchema = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048);

/** Body of POST .../media/directly-download. */
export const downloadRequestSchema = z
  .object(
    {
      contentType: contentTypeSchema.meta({ description: 'The WhatsApp message type; it selects the keys' }),
      content: mediaContentSchema.meta({ description: 'The media reference, as the message carries it' }),
      callbackUrl: callbackUrlSchema
        .optional()
        .meta({ description: 'When the answer is 202: POSTed a signed job.finished webhook once the job ends' }),
    },
    { error: 'must be a JSON object' },
  )
  .meta({ id: 'DownloadRequest' });

/** Default of the `timeout` query, in ms. */
export const DEFAULT_TIMEOUT_MS = 600_000;

/** The `timeout` query in ms: default 600000 (or `max`, if lower), 0 = answer at once, at most `max`. */
export function timeoutQuerySchema(max: number) {
  return z.coerce
    .number({ error: 'timeout: must be a number of milliseconds' })
    .int('timeout: must be a whole number of milliseconds')
    .min(0, 'timeout: must be 0 or more')
    .max(max, `timeout: must be at most ${max} ms`)
    .default(Math.min(DEFAULT_TIMEOUT_MS, max))
    .meta({ description: `How long to wait for the file, in ms; 0 answers 202 at once unless it is stored. At most ${max}.` });
}

export type DownloadRequest = z.output<typeof downloadRequestSchema>;
export type DownloadRequestInput = z.input<typeof downloadRequestSchema>;

/** Turns zod issues into one readable message per problem, e.g. "content.mediaKey: is required". */
export function describeIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.join('.');
    return `${path || 'body'}: ${issue.message}`;
  });
}

function truncate(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

// ---- Answers ------------------------------------------------------------------------------

/** Every error answer: `{message: string[], error: "<reason phrase>", statusCode}`. */
export const errorBodySchema = z
  .object({
    message: z.array(z.string()).meta({ description: 'One message per problem' }),
    error: z.string().meta({ description: 'The HTTP reason phrase', examples: ['Bad Request'] }),
    statusCode: z.number().int(),
  })
  .meta({ id: 'ErrorBody' });

export const jobStateSchema = z
  .enum(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children', 'awaiting_reupload', 'completed', 'failed', 'unknown'])
  .meta({ id: 'JobState' });

/**
 * What the caller's WhatsApp session sends inside `<receipt type="server-error">` to have the phone
 * re-upload the media: `encP` is AES-256-GCM (tag appended) of the protobuf ServerErrorReceipt,
 * `encIv` its 12-byte IV; both base64.
 */
export const mediaRetryReceiptSchema = z
  .object({
    encP: z.string().meta({ description: 'The encrypted ServerErrorReceipt with its 16-byte tag appended, base64 (enc_p)' }),
    encIv: z.string().meta({ description: 'The 12-byte IV, base64 (enc_iv)' }),
  })
  .meta({ id: 'MediaRetryReceipt' });
export type MediaRetryReceipt = z.infer<typeof mediaRetryReceiptSchema>;

/** A job waiting for the phone to re-upload its media: what the caller's session needs to ask for it. */
export const reuploadRequestedSchema = z
  .object({
    messageKey: messageKeySchema,
    receipt: mediaRetryReceiptSchema,
    expiresAt: z.iso.datetime().meta({ description: 'When the job stops waiting and fails with 404' }),
  })
  .meta({ id: 'ReuploadRequested' });
export type ReuploadRequested = z.infer<typeof reuploadRequestedSchema>;

/** 202: the wait ran out (or was 0); the job goes on and can be followed. */
export const jobAcceptedSchema = z
  .object({
    jobId: z.string(),
    status: jobStateSchema,
    statusUrl: z.string().meta({ description: 'GET it for the job status' }),
    contentUrl: z.string().meta({ description: 'GET it for the file once the job completed' }),
  })
  .meta({ id: 'JobAccepted' });

/** A job as the status route shows it. */
export const jobStatusSchema = z
  .object({
    jobId: z.string(),
    status: jobStateSchema,
    attemptsMade: z.number().int(),
    createdAt: z.iso.datetime(),
    finishedAt: z.iso.datetime().optional(),
    result: z.object({ sha256: z.string(), size: z.number().int(), mimetype: z.string() }).optional(),
    error: z.object({ statusCode: z.number().int(), message: z.string() }).optional(),
    reupload: reuploadRequestedSchema.optional().meta({ description: 'While the status is awaiting_reupload' }),
  })
  .meta({ id: 'JobStatus' });

export type ErrorBody = z.infer<typeof errorBodySchema>;
export type JobAccepted = z.infer<typeof jobAcceptedSchema>;
export type JobStatus = z.infer<typeof jobStatusSchema>;
export type JobState = z.infer<typeof jobStateSchema>;
