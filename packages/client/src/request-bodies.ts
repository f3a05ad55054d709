import {
  jsonDepthExceeds,
  messageBatchItemSchema,
  messageDownloadRequestSchema,
  type BatchItemRequestInput,
  type DownloadRequestInput,
  type MessageBatchItemRequestInput,
  type MessageDownloadRequestInput,
} from '@wamedia/shared';

/**
 * What the client sends for a request. A WhatsApp message is reduced to the request it comes to
 * (read by the contract's messageMedia, through the schemas the API validates with), so its
 * thumbnails and captions don't travel and a batch of messages stays well under the API's body
 * limit. A message that holds no valid media goes as it is: the API answers it with its 400 (or
 * marks the batch item invalid), naming each problem where it is in the message; so does one
 * nested too deep to be read safely (see MAX_JSON_DEPTH).
 */

/** The body of POST .../directly-download for `request`. */
export function downloadBody(request: DownloadRequestInput | MessageDownloadRequestInput): unknown {
  if (!('message' in request) || jsonDepthExceeds(request)) return request;
  const parsed = messageDownloadRequestSchema.safeParse(request);
  return parsed.success ? parsed.data : request;
}

/** A batch item as sent: a message item becomes its reference, with its id (its own, else key.id). */
export function batchItemBody(item: BatchItemRequestInput | MessageBatchItemRequestInput): unknown {
  if (!('message' in item) || jsonDepthExceeds(item)) return item;
  const parsed = messageBatchItemSchema.safeParse(item);
  return parsed.success ? parsed.data : item;
}
