import protobuf from 'protobufjs/light.js';

/**
 * The two protobuf messages of a media retry, as WhatsApp defines them: the receipt that asks the
 * phone for a re-upload, and the phone's answer. Declared here as a small descriptor (no .proto
 * file, no generated code); protobufjs does the wire format.
 */

/** How the phone's re-upload went (MediaRetryNotification.ResultType). */
export const retryResults = ['GENERAL_ERROR', 'SUCCESS', 'NOT_FOUND', 'DECRYPTION_ERROR'] as const;
export type RetryResult = (typeof retryResults)[number];

/** The phone's answer to a retry receipt, decrypted. */
export interface RetryNotification {
  /** The id of the message the media belongs to. */
  stanzaId?: string;
  /** Where the re-uploaded media is, with SUCCESS. */
  directPath?: string;
  result: RetryResult;
}

const root = protobuf.Root.fromJSON({
  nested: {
    ServerErrorReceipt: { fields: { stanzaId: { type: 'string', id: 1 } } },
    MediaRetryNotification: {
      fields: {
        stanzaId: { type: 'string', id: 1 },
        directPath: { type: 'string', id: 2 },
        result: { type: 'ResultType', id: 3 },
      },
      nested: {
        ResultType: { values: Object.fromEntries(retryResults.map((name, value) => [name, value])) },
      },
    },
  },
});
// Looked up once: protobufjs builds each type's encoder and decoder on first use and keeps them.
const ServerErrorReceipt = root.lookupType('ServerErrorReceipt');
const MediaRetryNotification = root.lookupType('MediaRetryNotification');

/** ServerErrorReceipt {stanzaId = 1}: the plaintext of a retry receipt. */
export function encodeServerErrorReceipt(stanzaId: string): Uint8Array {
  return ServerErrorReceipt.encode(ServerErrorReceipt.create({ stanzaId })).finish();
}

/** The stanzaId of a ServerErrorReceipt. @throws when the bytes are not one. */
export function decodeServerErrorReceipt(bytes: Uint8Array): string | undefined {
  const { stanzaId } = ServerErrorReceipt.toObject(ServerErrorReceipt.decode(bytes)) as { stanzaId?: string };
  return stanzaId;
}

/** A MediaRetryNotification as the phone encodes it. */
export function encodeMediaRetryNotification(notification: RetryNotification): Uint8Array {
  const message = { ...notification, result: retryResults.indexOf(notification.result) };
  return MediaRetryNotification.encode(MediaRetryNotification.create(message)).finish();
}

/**
 * Reads a MediaRetryNotification. An absent result is GENERAL_ERROR (the enum's zero value), and so
 * is a value this code does not know.
 * @throws when the bytes are not a protobuf message.
 */
export function decodeMediaRetryNotification(bytes: Uint8Array): RetryNotification {
  const message = MediaRetryNotification.toObject(MediaRetryNotification.decode(bytes)) as {
    stanzaId?: string;
    directPath?: string;
    result?: number;
  };
  return {
    stanzaId: message.stanzaId,
    directPath: message.directPath,
    result: retryResults[message.result ?? 0] ?? 'GENERAL_ERROR',
  };
}
