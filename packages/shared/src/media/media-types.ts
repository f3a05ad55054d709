/**
 * The WhatsApp message types wamedia accepts, and what each implies.
 *
 * The HKDF info string depends on the message type, never on the mimetype: a sticker is
 * encrypted with the image keys whatever its mimetype says.
 */

/** The `<X>` of the HKDF info string "WhatsApp <X> Keys". */
export type MediaKeyClass =
  | 'Image'
  | 'Video'
  | 'Audio'
  | 'Document'
  | 'History'
  | 'App State'
  | 'Image Thumbnail'
  | 'Video Thumbnail'
  | 'Document Thumbnail'
  | 'Link Thumbnail'
  | 'Payment Background'
  | 'Sticker Pack';

interface MediaTypeInfo {
  keyClass: MediaKeyClass;
  /** Content-Type served when the request gives no mimetype. */
  defaultMimetype: string;
}

const mediaTypes = {
  image: { keyClass: 'Image', defaultMimetype: 'image/jpeg' },
  sticker: { keyClass: 'Image', defaultMimetype: 'image/webp' },
  product: { keyClass: 'Image', defaultMimetype: 'image/jpeg' },
  'biz-cover-photo': { keyClass: 'Image', defaultMimetype: 'image/jpeg' },
  video: { keyClass: 'Video', defaultMimetype: 'video/mp4' },
  gif: { keyClass: 'Video', defaultMimetype: 'video/mp4' },
  ptv: { keyClass: 'Video', defaultMimetype: 'video/mp4' },
  audio: { keyClass: 'Audio', defaultMimetype: 'audio/ogg' },
  ptt: { keyClass: 'Audio', defaultMimetype: 'audio/ogg' },
  document: { keyClass: 'Document', defaultMimetype: 'application/octet-stream' },
  history: { keyClass: 'History', defaultMimetype: 'application/octet-stream' },
  'md-msg-hist': { keyClass: 'History', defaultMimetype: 'application/octet-stream' },
  'app-state': { keyClass: 'App State', defaultMimetype: 'application/octet-stream' },
  'md-app-state': { keyClass: 'App State', defaultMimetype: 'application/octet-stream' },
  'thumbnail-image': { keyClass: 'Image Thumbnail', defaultMimetype: 'image/jpeg' },
  'thumbnail-video': { keyClass: 'Video Thumbnail', defaultMimetype: 'image/jpeg' },
  'thumbnail-document': { keyClass: 'Document Thumbnail', defaultMimetype: 'image/jpeg' },
  'thumbnail-link': { keyClass: 'Link Thumbnail', defaultMimetype: 'image/jpeg' },
  'payment-bg-image': { keyClass: 'Payment Background', defaultMimetype: 'image/jpeg' },
  'sticker-pack': { keyClass: 'Sticker Pack', defaultMimetype: 'application/zip' },
} as const satisfies Record<string, MediaTypeInfo>;

export type ContentType = keyof typeof mediaTypes;

/** Every accepted contentType, aliases included. */
export const contentTypes = Object.keys(mediaTypes) as [ContentType, ...ContentType[]];

/** The HKDF info string for a contentType, e.g. "WhatsApp Image Keys". */
export function hkdfInfo(contentType: ContentType): string {
  return `WhatsApp ${mediaTypes[contentType].keyClass} Keys`;
}

/** The key class of a contentType; two types of one class decrypt the same files. */
export function keyClass(contentType: ContentType): MediaKeyClass {
  return mediaTypes[contentType].keyClass;
}

export function defaultMimetype(contentType: ContentType): string {
  return mediaTypes[contentType].defaultMimetype;
}

const extensions: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'video/3gpp': '3gp',
  'video/quicktime': 'mov',
  'audio/ogg': 'ogg',
  'audio/mpeg': 'mp3',
  'audio/mp4': 'm4a',
  'audio/aac': 'aac',
  'audio/amr': 'amr',
  'application/pdf': 'pdf',
  'application/zip': 'zip',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'application/vnd.openxmlformats-officedocument.presentationml.presentation': 'pptx',
  'text/plain': 'txt',
  'text/csv': 'csv',
};

/** A file extension for a mimetype (parameters such as "; codecs=opus" ignored); "bin" when unknown. */
export function extensionFor(mimetype: string): string {
  const essence = mimetype.split(';')[0]!.trim().toLowerCase();
  return extensions[essence] ?? 'bin';
}

/**
 * The name a media is served under (Content-Disposition, links, base64 answers):
 * `<contentType>-<first 16 hex digits of its SHA-256>.<extension of its mimetype>`, e.g.
 * `image-0a1b2c3d4e5f6071.jpg`. Made of ASCII letters, digits, "-" and "." only, so it needs no
 * quoting rules of its own anywhere it goes.
 */
export function mediaFileName(contentType: ContentType, sha256: string, mimetype: string): string {
  return `${contentType}-${sha256.slice(0, 16)}.${extensionFor(mimetype)}`;
}
