import { z } from 'zod';
import { batchItemIdSchema, batchItemSchema, type BatchItemRequest } from './batch-schemas.js';
import { messageKeyId, messageMedia, type MessageMedia } from './message-media.js';
import { callbackUrlSchema, downloadRequestSchema, mediaContentSchema, type DownloadRequest } from './schemas.js';

/**
 * The contract's second form of input: a WhatsApp message instead of a media reference. The
 * message is read by messageMedia, then its media checked with the reference's own schema; a
 * problem is named where it is in the message (`message.message.imageMessage.mediaKey: ...`).
 */

/** What a message holds, validated: the request it comes to, and its key.id. */
interface ValidMessage {
  id: unknown;
  contentType: DownloadRequest['contentType'];
  content: DownloadRequest['content'];
}

const whatsAppMessageSchema = z
  .unknown()
  .transform((value, ctx): ValidMessage => {
    const media = messageMedia(value);
    if ('problem' in media) {
      ctx.addIssue({ code: 'custom', message: media.problem, path: media.path });
      return z.NEVER;
    }
    const content = mediaContentSchema.safeParse(media.content);
    if (!content.success) {
      for (const issue of content.error.issues) {
        ctx.addIssue({ code: 'custom', message: issue.message, path: whereInMessage(issue.path, media.paths) });
      }
      return z.NEVER;
    }
    return { id: media.id, contentType: media.contentType, content: content.data };
  })
  .meta({
    description:
      'A WhatsApp message holding one media: a Baileys WebMessageInfo {key, message}, a bare Message ' +
      '({imageMessage: ...}), or an Evolution API webhook {event, instance, data: {key, message}}. Wrappers ' +
      '(ephemeralMessage, viewOnceMessage, viewOnceMessageV2, viewOnceMessageV2Extension, documentWithCaptionMessage) ' +
      'are looked through, 4 deep at most. The contentType follows the media field (imageMessage, videoMessage, ' +
      'audioMessage, documentMessage, stickerMessage, ptvMessage) and its flags (gifPlayback, ptt); the key ' +
      'travels as content.messageKey',
    type: 'object',
  });

/** A path in the extracted content → the same field in the message. */
function whereInMessage(path: PropertyKey[], paths: MessageMedia['paths']): PropertyKey[] {
  const [field, ...rest] = path;
  if (field === undefined) return paths.media;
  if (field === 'messageKey') return [...paths.key, ...rest];
  return [...paths.media, field, ...rest];
}

/** Body of POST .../media/directly-download holding a message instead of a reference. */
export const messageDownloadRequestSchema = z
  .object(
    {
      message: whatsAppMessageSchema,
      callbackUrl: callbackUrlSchema
        .optional()
        .meta({ description: 'When the answer is 202: POSTed a signed job.finished webhook once the job ends' }),
    },
    { error: 'must be a JSON object' },
  )
  .transform(({ message, callbackUrl }): DownloadRequest => ({ contentType: message.contentType, content: message.content, callbackUrl }))
  .meta({ id: 'MessageDownloadRequest' });

export type MessageDownloadRequestInput = { message: unknown; callbackUrl?: string };

/** A batch item holding a message; its id defaults to the message's key.id. */
export const messageBatchItemSchema = z
  .object(
    {
      id: batchItemIdSchema.optional().meta({ description: "The client's own id; the message's key.id when absent" }),
      message: whatsAppMessageSchema,
    },
    { error: 'must be an object' },
  )
  .transform(({ id, message }, ctx): BatchItemRequest => {
    const itemId = batchItemIdSchema.safeParse(id ?? message.id);
    if (!itemId.success) {
      const problem =
        message.id === undefined
          ? "is required: the item's own, or its message's key.id"
          : `the message's key.id ${itemId.error.issues[0]!.message}: give the item an id of its own`;
      ctx.addIssue({ code: 'custom', message: problem, path: ['id'] });
      return z.NEVER;
    }
    return { id: itemId.data, contentType: message.contentType, content: message.content };
  })
  .meta({ id: 'MessageBatchItemRequest' });

export type MessageBatchItemRequestInput = { id?: string; message: unknown };

/** Body of POST .../media/directly-download, either form: what the API validates with. */
export const downloadBodySchema = eitherForm(downloadRequestSchema, messageDownloadRequestSchema);

/** One batch item, either form: what the API validates each item with. */
export const batchItemBodySchema = eitherForm(batchItemSchema, messageBatchItemSchema);

/** The id a batch item goes by before it is validated: its own, else its message's key.id. */
export function claimedItemId(item: unknown): unknown {
  if (!isMessageForm(item)) return (item as { id?: unknown } | null)?.id;
  return item.id ?? messageKeyId(item.message);
}

/**
 * A body with `message` is a message, any other a reference; both at once is refused rather
 * than guessed at. Dispatching on the field (not a zod union) keeps the problems of the one
 * form the client meant, instead of both forms' at once.
 */
function eitherForm<Reference, Message>(reference: z.ZodType<Reference>, message: z.ZodType<Message>) {
  return z.unknown().transform((body, ctx): Reference | Message => {
    if (isMessageForm(body) && (Object.hasOwn(body, 'contentType') || Object.hasOwn(body, 'content'))) {
      ctx.addIssue({ code: 'custom', message: 'send either a message, or contentType and content, not both', path: ['message'] });
      return z.NEVER;
    }
    const parsed = (isMessageForm(body) ? message : reference).safeParse(body);
    if (parsed.success) return parsed.data;
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
    return z.NEVER;
  });
}

function isMessageForm(body: unknown): body is { id?: unknown; message: unknown } {
  return typeof body === 'object' && body !== null && !Array.isArray(body) && Object.hasOwn(body, 'message');
}
