/**
 * The public surface of @wamedia/server: the adapters the API and the workers share
 * (configuration, logging, Redis, the stores, batch records, limits, secrets, the SSRF guard,
 * the media retry).
 * Clients never import it: the wire contract is @wamedia/shared.
 */
export * from './config.js';
export * from './logger.js';
export * from './node-flags.js';
export * from './run-main.js';
export * from './run-service.js';
export * from './processes/api-processes.js';
export * from './health-checks.js';
export * from './metrics/queue-depth-metrics.js';
export * from './job-secrets.js';
export * from './jobs-in-flight.js';
export * from './job-services.js';
export * from './media-retry/retry-messages.js';
export * from './media-retry/retry-crypto.js';
export * from './reupload/reupload-store.js';
export * from './token-versions.js';
export * from './token-version-cache.js';
export * from './redis/connection-options.js';
export * from './redis/redis-check.js';
export * from './redis/redis-connector.js';
export * from './ssrf/private-addresses.js';
export * from './ssrf/host-allow-list.js';
export * from './ssrf/callback-policy.js';
export * from './storage/blob-store.js';
export * from './storage/create-blob-store.js';
export * from './storage/fs-store.js';
export * from './storage/s3-store.js';
export * from './storage/media-index.js';
export * from './links/media-links.js';
export * from './links/file-link-signature.js';
export * from './links/api-file-links.js';
export * from './links/s3-presigned-links.js';
export * from './links/create-media-links.js';
export * from './batch/batch-store.js';
export * from './batch/job-subscriptions.js';
export * from './batch/job-end-notifier.js';
export * from './batch/webhook-outbox.js';
export * from './batch/reupload-notifier.js';
export * from './batch/job-followers.js';
