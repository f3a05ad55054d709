import { z } from 'zod';
import { InvalidFieldError } from './errors.js';
import { parseBytes, parseFileLength } from './media/byte-fields.js';
import { MEDIA_KEY_LENGTH } from './media/media-keys.js';
import { contentTypes } from './media/media-types.js';

/**
 * The HTTP contract's input, as zod schemas shared by the API (validation) and the CLI and
 * tests (types). Byte fields accept every encoding of DESIGN.md §2 and come out as Buffers.
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

function bytesField(length: number) {
  return z.unknown().transform((value, ctx) => bytes(value, ctx, length));
}

const fileLengthField = z.unknown().transform((value, ctx) => {
  try {
    return parseFileLength(value);
  } catch (error) {
    if (!(error instanceof InvalidFieldError)) throw error;
    ctx.addIssue({ code: 'custom', message: error.reason });
    return z.NEVER;
  }
});

export const contentTypeSchema = z.enum(contentTypes, {
  error: (issue) =>
    `must be one of ${contentTypes.join(', ')}` +
    (typeof issue.input === 'string' ? ` (got "${truncate(issue.input)}": pick one)` : ''),
});

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(4096);

export const mediaContentSchema = z
  .object(
    {
      url: httpUrl.optional(),
      directPath: z
        .string()
        .max(4096)
        .regex(/^\/[^\s]*$/, 'must be a path starting with "/"')
        .optional(),
      mediaKey: z.unknown().refine((v) => v !== undefined, 'is required').transform((v, ctx) => bytes(v, ctx, MEDIA_KEY_LENGTH)),
      mimetype: z
        .string()
        .max(255)
        .regex(/^[\w.+-]+\/[\w.+-]+(\s*;.*)?$/, 'must look like type/subtype')
        .optional(),
      fileSha256: bytesField(32).optional(),
      fileEncSha256: bytesField(32).optional(),
      fileLength: fileLengthField.optional(),
    },
    { error: 'must be an object' },
  )
  .refine((c) => c.url !== undefined || c.directPath !== undefined, {
    message: 'must have a url or a directPath',
  });

/** Body of POST .../media/directly-download. */
export const downloadRequestSchema = z.object(
  {
    contentType: contentTypeSchema,
    content: mediaContentSchema,
  },
  { error: 'must be a JSON object' },
);

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
