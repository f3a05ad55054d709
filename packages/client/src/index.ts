/** The public surface of @wamedia/client: a typed client of the wamedia HTTP API. */
export {
  WamediaClient,
  type AsBase64,
  type AsFile,
  type AsLink,
  type BatchItemContentOptions,
  type BatchPageOptions,
  type DownloadOptions,
  type RequestOptions,
  type ResponseOptions,
  type SubmitBatchOptions,
  type WamediaClientOptions,
} from './wamedia-client.js';
export { WamediaApiError } from './wamedia-api-error.js';
export type { DownloadedMedia } from './downloaded-media.js';
export type { BatchResultsOptions } from './batch-results.js';
export type {
  BatchItem,
  BatchItemRequestInput,
  BatchStatus,
  DownloadRequestInput,
  ErrorBody,
  JobAccepted,
  JobStatus,
  MediaBase64,
  MediaLink,
  MessageBatchItemRequestInput,
  MessageDownloadRequestInput,
} from '@wamedia/shared';
