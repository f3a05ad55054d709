import { z } from 'zod';
import { mediaLinkSchema } from './delivery-schemas.js';
import {
  callbackUrlSchema,
  contentTypeSchema,
  errorBodySchema,
  mediaContentSchema,
  mediaRetryReceiptSchema,
  messageKeySchema,
} from './schemas.js';

/**
 * The batch contract: many media references handed over at once, each item validated and
 * followed on its own. Shared by the API, the workers (webhooks), the typed client and the CLI.
 */

/** Default of BATCH_MAX_ITEMS. */
export const DEFAULT_BATCH_MAX_ITEMS = 1000;

/** A client's own item id: also the file name `wamedia batch` writes, so path-safe. */
export const BATCH_ITEM_ID_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

export const batchItemIdSchema = z
  .string({ error: 'must be a string' })
  .regex(BATCH_ITEM_ID_PATTERN, 'must be 1-128 of A-Z a-z 0-9 . _ - (not starting with ".")');

/** One batch item as submitted; invalid items are reported one by one, not rejected together. */
export const batchItemSchema = z
  .object(
    { id: batchItemIdSchema, contentType: contentTypeSchema, content: mediaContentSchema },
    { error: 'must be an object' },
  )
  .meta({ id: 'BatchItemRequest' });

export type BatchItemRequest = z.output<typeof batchItemSchema>;
export type BatchItemRequestInput = z.input<typeof batchItemSchema>;

/** Body of POST .../media/batch. Items are checked one by one after this envelope. */
export function batchRequestSchema(maxItems: number) {
  return z
    .object(
      {
        items: z
          .array(z.unknown(), { error: 'must be an array of items' })
          .min(1, 'must hold at least one item')
          .max(maxItems, `must hold at most ${maxItems} items`)
          .meta({
            items: { anyOf: [{ $ref: '#/components/schemas/BatchItemRequest' }, { $ref: '#/components/schemas/MessageBatchItemRequest' }] },
          }),
        callbackUrl: callbackUrlSchema
          .optional()
          .meta({ description: 'POSTed a signed webhook per finished item and once when the batch is done' }),
        links: z
          .boolean({ error: 'must be true or false' })
          .optional()
          .meta({ description: "true: each completed item's webhook carries its link (MediaLink), valid SIGNED_URL_TTL_SECONDS" }),
      },
      { error: 'must be a JSON object' },
    )
    .refine((body) => !body.links || body.callbackUrl !== undefined, {
      path: ['links'],
      message: 'only goes with a callbackUrl (the links go in its webhooks; GET the batch with ?links=1 for them)',
    })
    .meta({ id: 'BatchRequest' });
}

/**
 * Where an item stands: `pending` until its job ends (`awaiting_reupload` while the job waits for
 * the phone to re-upload the media, counted as pending); `invalid` items never had a job.
 */
export const batchItemStatusSchema = z
  .enum(['pending', 'awaiting_reupload', 'completed', 'failed', 'invalid'])
  .meta({ id: 'BatchItemStatus' });
export type BatchItemStatus = z.infer<typeof batchItemStatusSchema>;

/** One item's state, as the batch routes and the webhooks report it. */
export const batchItemSchemaOut = z
  .object({
    // Checked by clients too: a hostile or broken server must not hand them an id like "../x".
    id: z
      .string()
      .refine((id) => BATCH_ITEM_ID_PATTERN.test(id) || /^#\d+$/.test(id), 'must be an item id, or #<index> for an item whose id was unusable'),
    status: batchItemStatusSchema,
    contentType: contentTypeSchema.optional(),
    jobId: z.string().optional(),
    contentUrl: z.string().optional().meta({ description: 'GET it for the file once completed' }),
    result: z.object({ sha256: z.string(), size: z.number().int(), mimetype: z.string() }).optional(),
    link: mediaLinkSchema
      .optional()
      .meta({ description: 'A completed item\'s link: with ?links=1, or in the webhooks of a batch submitted with "links": true' }),
    error: errorBodySchema.optional(),
  })
  .meta({ id: 'BatchItem' });
export type BatchItem = z.infer<typeof batchItemSchemaOut>;

export const batchCountsSchema = z
  .object({
    pending: z.number().int().meta({ description: 'Items whose job has not ended, those awaiting a re-upload included' }),
    completed: z.number().int(),
    failed: z.number().int(),
    invalid: z.number().int(),
  })
  .meta({ id: 'BatchCounts' });
export type BatchCounts = z.infer<typeof batchCountsSchema>;

/** 202 to a batch, and the batch status route (one page of items). */
export const batchStatusSchema = z
  .object({
    batchId: z.string(),
    total: z.number().int(),
    counts: batchCountsSchema,
    done: z.boolean().meta({ description: 'No item is pending any more' }),
    createdAt: z.iso.datetime(),
    statusUrl: z.string(),
    items: z.array(batchItemSchemaOut),
    /** Offset of the next page, when there is one. */
    nextOffset: z.number().int().optional(),
  })
  .meta({ id: 'BatchStatus' });
export type BatchStatus = z.infer<typeof batchStatusSchema>;

/** Pagination of GET .../media/batch/:batchId. */
export const batchPageQuerySchema = z.object({
  offset: z.coerce.number({ error: 'offset: must be a number' }).int().min(0, 'offset: must be 0 or more').default(0),
  limit: z.coerce
    .number({ error: 'limit: must be a number' })
    .int()
    .min(1, 'limit: must be 1 or more')
    .max(1000, 'limit: must be at most 1000')
    .default(100),
});

/** Where a batch item's file is served. */
export function batchItemContentPath(instanceId: string, batchId: string, itemId: string): string {
  return `${batchPath(instanceId, batchId)}/items/${encodeURIComponent(itemId)}/content`;
}

/** Where a batch's status is served. */
export function batchPath(instanceId: string, batchId: string): string {
  return `/api/v2/instance/${encodeURIComponent(instanceId)}/media/batch/${batchId}`;
}

// ---- Webhooks -----------------------------------------------------------------------------

/** Header carrying `t=<unix seconds>,v1=<hex HMAC-SHA256(WEBHOOK_SECRET, "<t>.<raw body>")>`. */
export const WEBHOOK_SIGNATURE_HEADER = 'X-Wamedia-Signature';

/** What a callback URL receives: one event per finished item, one when the batch is done. */
export const webhookEventSchema = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('batch.item'), batchId: z.string(), instanceId: z.string(), item: batchItemSchemaOut }),
    z.object({ type: z.literal('batch.done'), batchId: z.string(), instanceId: z.string(), counts: batchCountsSchema }),
    z.object({
      type: z.literal('job.finished'),
      jobId: z.string(),
      instanceId: z.string(),
      status: z.enum(['completed', 'failed']),
      result: z.object({ sha256: z.string(), size: z.number().int(), mimetype: z.string() }).optional(),
      error: errorBodySchema.optional(),
    }),
    z.object({
      type: z.literal('media.reupload_requested'),
      jobId: z.string(),
      instanceId: z.string(),
      messageKey: messageKeySchema,
      receipt: mediaRetryReceiptSchema,
      reuploadUrl: z.string().meta({ description: 'POST the re-upload answer here' }),
      expiresAt: z.iso.datetime(),
    }),
  ])
  .meta({ id: 'WebhookEvent' });
export type WebhookEvent = z.infer<typeof webhookEventSchema>;
