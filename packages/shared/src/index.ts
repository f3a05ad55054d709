/** The public surface of @wamedia/shared. */
export * from './config.js';
export * from './errors.js';
export * from './host-allow-list.js';
export * from './logger.js';
export * from './queue.js';
export * from './schemas.js';
export * from './media/byte-fields.js';
export * from './media/decrypt-stream.js';
export * from './media/encrypt-stream.js';
export * from './media/media-keys.js';
export * from './media/media-types.js';
export * from './storage/blob-store.js';
export * from './storage/create-blob-store.js';
export * from './storage/media-index.js';
export * from './redis-check.js';
export * from './run-main.js';
