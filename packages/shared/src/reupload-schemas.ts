import { z } from 'zod';
import { InvalidFieldError } from './errors.js';
import { parseBytes } from './media/byte-fields.js';
import { jobStateSchema } from './schemas.js';

/**
 * The media retry contract: how a caller hands wamedia the phone's answer to a re-upload request,
 * for a job whose media expired on the CDN (see docs/http-contract.md, "Media retry").
 */

/** Whether a request-side byte field of any length between `min` and `max` bytes parses. */
function bytesBetween(min: number, max: number) {
  return z
    .unknown()
    .refine((value) => value !== undefined, 'is required')
    .transform((value, ctx) => {
      try {
        const bytes = parseBytes('', value);
        if (bytes.length >= min && bytes.length <= max) return bytes;
        ctx.addIssue({ code: 'custom', message: `must be ${min === max ? min : `${min} to ${max}`} bytes, got ${bytes.length}` });
      } catch (error) {
        if (!(error instanceof InvalidFieldError)) throw error;
        ctx.addIssue({ code: 'custom', message: error.reason });
      }
      return z.NEVER;
    })
    .meta({
      description: `${min === max ? min : `${min} to ${max}`} bytes: base64, a serialized Uint8Array {"0":12,...}, {"type":"Buffer","data":[...]}, or an array of numbers`,
      anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'integer', minimum: 0, maximum: 255 } }, { type: 'object' }],
    });
}

/**
 * Longest ciphertext of a notification accepted, in bytes. A MediaRetryNotification holds a message
 * id, a directPath and a result code: a few hundred bytes.
 */
export const MAX_NOTIFICATION_BYTES = 8192;

/** The phone's encrypted MediaRetryNotification, as Baileys' `messages.media-update` event carries it (`media`). */
export const mediaRetryNotificationSchema = z
  .object(
    {
      ciphertext: bytesBetween(16, MAX_NOTIFICATION_BYTES).meta({ description: 'enc_p: the encrypted notification, its 16-byte tag appended' }),
      iv: bytesBetween(12, 12).meta({ description: 'enc_iv: 12 bytes' }),
    },
    { error: 'must be an object {ciphertext, iv}' },
  )
  .meta({ id: 'MediaRetryNotification' });

/** Body of POST .../media/jobs/:jobId/reupload: the new directPath, or the phone's notification to decrypt. */
export const reuploadAnswerSchema = z
  .object(
    {
      directPath: z
        .string({ error: 'must be a string' })
        .max(4096, 'must be at most 4096 characters')
        .regex(/^\/[^\s]*$/, 'must be a path starting with "/"')
        .optional()
        .meta({ description: "The re-uploaded media's directPath (what Baileys' updateMediaMessage hands back)" }),
      notification: mediaRetryNotificationSchema.optional(),
    },
    { error: 'must be a JSON object' },
  )
  .refine((body) => (body.directPath === undefined) !== (body.notification === undefined), {
    message: 'must have exactly one of directPath and notification',
  })
  .meta({ id: 'ReuploadAnswer' });
export type ReuploadAnswer = z.output<typeof reuploadAnswerSchema>;
export type ReuploadAnswerInput = z.input<typeof reuploadAnswerSchema>;

/** 202 to a re-upload answer: the job goes on from it. */
export const reuploadAcceptedSchema = z
  .object({ jobId: z.string(), status: jobStateSchema })
  .meta({ id: 'ReuploadAccepted' });
export type ReuploadAccepted = z.infer<typeof reuploadAcceptedSchema>;

/** Where a job's re-upload answer is posted. */
export function reuploadPath(instanceId: string, jobId: string): string {
  return `/api/v2/instance/${encodeURIComponent(instanceId)}/media/jobs/${jobId}/reupload`;
}
