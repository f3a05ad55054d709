import type { ContentType } from './media/media-types.js';

/**
 * The media a WhatsApp message carries: the one reading of a message that the API, `wamedia
 * batch` and the typed client share. A message comes the way the libraries hand it over: a
 * Baileys `WebMessageInfo` (`{key, message}`), a bare `Message` (`{imageMessage: ...}`) or an
 * Evolution API webhook (`{event, instance, data: {key, message}}`), with its wrappers
 * (disappearing, view-once, captioned documents) looked through. Nothing is validated here: the
 * schemas do that (message-schemas.ts), with the API's own messages.
 */

/** What a message comes to: a download request, its fields as the message gives them. */
export interface MessageMedia {
  /** The message's `key.id`, when it has one: a batch item's default id. */
  id: unknown;
  contentType: ContentType;
  /** The media's download fields (any byte encoding), and the message's `key` as `messageKey` (see carriedKey). */
  content: Record<string, unknown>;
  /** Where the media and the key are in the message, so that a problem with a field names it there. */
  paths: { media: string[]; key: string[] };
}

/** A message that names no media, or hides it too deep: why, and where in the message. */
export interface NoMessageMedia {
  /** The message's `key.id`, when it has one. */
  id: unknown;
  problem: string;
  path: string[];
}

type Json = Record<string, unknown>;

/** The message's media field → the contentType (a flag of the media may refine it). */
const mediaFields: Record<string, (media: Json) => ContentType> = {
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

/** The fields of a message key that travel with the request (for the media-retry relay). */
const keyFields = ['id', 'remoteJid', 'fromMe', 'participant'];

/**
 * Wrappers inside wrappers: deeper than anything WhatsApp sends (an ephemeral view-once is two),
 * and a bound on what a hostile message makes the search visit (at most 5^4 wrapped messages).
 */
export const MAX_WRAPPER_DEPTH = 4;

/** Field names quoted in a "no media" problem: enough to see what the message is, bounded for hostile ones. */
const LISTED_FIELDS = 8;
const LISTED_FIELD_LENGTH = 40;

/** The media of `value`, a WhatsApp message in any of the shapes above; or why there is none. */
export function messageMedia(value: unknown): MessageMedia | NoMessageMedia {
  if (!isObject(value)) return { id: undefined, problem: 'must be a WhatsApp message (a JSON object)', path: [] };
  const envelope = messageEnvelope(value);
  const id = isObject(envelope.key) ? envelope.key.id : undefined;
  const found = findMedia(envelope.message, envelope.messagePath, MAX_WRAPPER_DEPTH);
  if (!found) return { id, problem: noMediaProblem(envelope.message), path: envelope.messagePath };
  if ('problem' in found) return { id, ...found };
  const content = pickFields(found.media, contentFields);
  const messageKey = carriedKey(envelope.key);
  if (messageKey !== undefined) content.messageKey = messageKey;
  return {
    id,
    contentType: mediaFields[found.field]!(found.media),
    content,
    paths: { media: found.path, key: envelope.keyPath },
  };
}

/** The `key.id` of a message in any of the shapes above, without looking for its media. */
export function messageKeyId(value: unknown): unknown {
  if (!isObject(value)) return undefined;
  const { key } = messageEnvelope(value);
  return isObject(key) ? key.id : undefined;
}

/** Where the message and its key are: at the top, or inside an Evolution API webhook's `data`. */
function messageEnvelope(value: Json) {
  const inData = isObject(value.data) && (Object.hasOwn(value.data, 'message') || Object.hasOwn(value.data, 'key'));
  const envelope = inData ? (value.data as Json) : value;
  const base = inData ? ['data'] : [];
  // A WebMessageInfo holds the Message in `message`; a bare Message is one itself.
  const wrapped = isObject(envelope.message);
  return {
    message: wrapped ? (envelope.message as Json) : envelope,
    messagePath: wrapped ? [...base, 'message'] : base,
    key: envelope.key,
    keyPath: [...base, 'key'],
  };
}

/**
 * The key to carry as `messageKey`: one that names its chat (`remoteJid`), which the media-retry
 * relay needs; a key without one (hand-made, an id only) stays behind, the media downloads all
 * the same. A key that is not an object is carried as it is, for the schema to refuse.
 */
function carriedKey(key: unknown): unknown {
  if (!isObject(key)) return key === null ? undefined : key;
  const chat = own(key, 'remoteJid');
  if (chat === undefined || chat === null) return undefined;
  const carried = pickFields(key, keyFields);
  // Some bridges write an empty participant for chats that have none.
  if (carried.participant === '') delete carried.participant;
  return carried;
}

type Found = { field: string; media: Json; path: string[] };

/** The first media field of `message` or of a message it wraps, `depth` wrappers deep at most. */
function findMedia(message: Json, path: string[], depth: number): Found | Omit<NoMessageMedia, 'id'> | undefined {
  for (const field of Object.keys(mediaFields)) {
    const media = own(message, field);
    if (isObject(media)) return { field, media, path: [...path, field] };
  }
  for (const field of wrapperFields) {
    const wrapper = own(message, field);
    if (!isObject(wrapper) || !isObject(wrapper.message)) continue;
    const inner = [...path, field, 'message'];
    if (depth === 0) {
      return { problem: `wrappers nested more than ${MAX_WRAPPER_DEPTH} deep (${wrapperFields.join(', ')})`, path: inner };
    }
    const found = findMedia(wrapper.message, inner, depth - 1);
    if (found) return found;
  }
  return undefined;
}

function noMediaProblem(message: Json): string {
  const fields = Object.keys(message);
  const listed = fields.slice(0, LISTED_FIELDS).map((field) => JSON.stringify(truncate(field)));
  const found = fields.length === 0 ? 'no fields' : `fields ${listed.join(', ')}${fields.length > LISTED_FIELDS ? ', ...' : ''}`;
  return `no media: expected one of ${Object.keys(mediaFields).join(', ')}, or a wrapper of one (${wrapperFields.join(', ')}); found ${found}`;
}

/** `fields` of `source` as given; absent and null ones (protobuf JSON writes absent ones so) left out. */
function pickFields(source: Json, fields: string[]): Json {
  const picked: Json = {};
  for (const field of fields) {
    const value = own(source, field);
    if (value !== undefined && value !== null) picked[field] = value;
  }
  return picked;
}

/** An own property only: a message's `constructor` or `__proto__` is never read from a prototype. */
function own(source: Json, field: string): unknown {
  return Object.hasOwn(source, field) ? source[field] : undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function truncate(text: string): string {
  return text.length > LISTED_FIELD_LENGTH ? `${text.slice(0, LISTED_FIELD_LENGTH - 3)}...` : text;
}
