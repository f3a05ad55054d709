/**
 * What one input line of `wamedia batch` refers to. A line is either the body of the single
 * endpoint (`{id?, contentType, content}`), or a WhatsApp message the way Baileys hands it over
 * (`{key, message}`), bare (`{imageMessage: ...}`) or inside an Evolution API webhook
 * (`{event, instance, data: {key, message}}`). Nothing is validated here: the batch item schema
 * does that, with the API's own messages.
 */

/** A line's media reference, ready to become a batch item once it has an id. */
export interface MediaReference {
  /** The line's own id: `id` of a request body, `key.id` of a message. */
  id: unknown;
  contentType: unknown;
  content: unknown;
}

/** A line that names no media: why. */
export interface NoMediaReference {
  problem: string;
}

type Json = Record<string, unknown>;

/** The message's media field → the contentType (a flag of the message may refine it). */
const mediaFields: Record<string, (media: Json) => string> = {
  imageMessage: () => 'image',
  videoMessage: (media) => (media.gifPlayback === true ? 'gif' : 'video'),
  audioMessage: (media) => (media.ptt === true ? 'ptt' : 'audio'),
  documentMessage: () => 'document',
  stickerMessage: () => 'sticker',
  ptvMessage: () => 'ptv',
};

/** Fields that hold another message in `.message`: disappearing, view-once, captioned documents. */
const wrapperFields = [
  'ephemeralMessage',
  'viewOnceMessage',
  'viewOnceMessageV2',
  'viewOnceMessageV2Extension',
  'documentWithCaptionMessage',
];

/** The fields of a media message that the download needs. */
const contentFields = ['url', 'directPath', 'mediaKey', 'mimetype', 'fileSha256', 'fileEncSha256', 'fileLength'];

/** Wrappers inside wrappers: deep enough for anything WhatsApp sends, bounded for hostile input. */
const MAX_WRAPPER_DEPTH = 4;

export function mediaReference(value: unknown): MediaReference | NoMediaReference {
  if (!isObject(value)) return { problem: 'must be a JSON object' };
  if ('contentType' in value || 'content' in value) {
    return { id: value.id, contentType: value.contentType, content: value.content };
  }
  // Evolution API wraps the Baileys message in the webhook's `data`.
  const envelope = isObject(value.data) && ('message' in value.data || 'key' in value.data) ? value.data : value;
  const message = isObject(envelope.message) ? envelope.message : envelope;
  const id = isObject(envelope.key) ? envelope.key.id : undefined;
  const found = findMedia(message, MAX_WRAPPER_DEPTH);
  if (!found) {
    const fields = Object.keys(message).slice(0, 8).join(', ');
    return {
      problem:
        'no media: expected {contentType, content} or a WhatsApp message with one of ' +
        `${Object.keys(mediaFields).join(', ')} (got ${fields ? `fields ${fields}` : 'an empty object'})`,
    };
  }
  return { id, contentType: mediaFields[found.field]!(found.media), content: pickContent(found.media) };
}

function findMedia(message: Json, depth: number): { field: string; media: Json } | undefined {
  for (const field of Object.keys(mediaFields)) {
    const media = message[field];
    if (isObject(media)) return { field, media };
  }
  if (depth === 0) return undefined;
  for (const field of wrapperFields) {
    const wrapper = message[field];
    if (isObject(wrapper) && isObject(wrapper.message)) {
      const found = findMedia(wrapper.message, depth - 1);
      if (found) return found;
    }
  }
  return undefined;
}

/** The download fields, as given (any byte encoding); absent and null ones left out. */
function pickContent(media: Json): Json {
  const content: Json = {};
  for (const field of contentFields) {
    if (media[field] !== undefined && media[field] !== null) content[field] = media[field];
  }
  return content;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
