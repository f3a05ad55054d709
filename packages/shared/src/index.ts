/**
 * The public surface of @wamedia/shared: the contract both sides of the wire share. It depends
 * on Node's own modules and zod only, so a client that imports it loads no server code.
 */
export * from './errors.js';
export * from './jobs.js';
export * from './schemas.js';
export * from './batch-schemas.js';
export * from './message-media.js';
export * from './message-schemas.js';
export * from './reupload-schemas.js';
export * from './delivery-schemas.js';
export * from './webhook-signature.js';
export * from './json-depth.js';
export * from './media/byte-fields.js';
export * from './media/decrypt-stream.js';
export * from './media/encrypt-stream.js';
export * from './media/media-keys.js';
export * from './media/media-types.js';
export * from './signed-reference.js';
export * from './media/plain-verify-stream.js';
export * from './media/hints.js';
