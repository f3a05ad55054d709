/**
 * Small helpers the end-to-end and fault-injection suites share: a media's job id, following a
 * job through its status route, a worker's health URLs, and timing a call.
 */
import { downloadJobId, mediaLookupKey } from '@wamedia/shared';
import { eventually, type ApiClient } from './api-client.js';
import type { PublishedMedia } from './fake-cdn.js';
import type { ServiceProcess } from './service-process.js';

/** The job id the API gives a media's download (a function of its mediaKey and type). */
export function jobIdOf(media: Pick<PublishedMedia, 'mediaKey' | 'contentType'>): string {
  return downloadJobId(mediaLookupKey(Buffer.from(media.mediaKey, 'base64'), media.contentType));
}

/** The status route of a job. */
export function jobPath(instanceId: string, jobId: string): string {
  return `/api/v2/instance/${encodeURIComponent(instanceId)}/media/jobs/${jobId}`;
}

/** A job as its status route shows it. */
export interface JobStatusBody {
  jobId: string;
  status: string;
  attemptsMade: number;
  result?: { sha256: string; size: number; mimetype: string };
  error?: { statusCode: number; message: string };
}

/**
 * Polls a job's status route until the job is `status`; resolves with the status body. Answers
 * other than 200 (an API still reconnecting) count as "not yet".
 */
export async function jobReaches(
  api: ApiClient,
  instanceId: string,
  jobId: string,
  status: string,
  timeoutMs = 60_000,
): Promise<JobStatusBody> {
  return eventually(
    async () => {
      const response = await api.get(jobPath(instanceId, jobId), instanceId).catch(() => undefined);
      if (response?.status !== 200) return undefined;
      const body = response.json<JobStatusBody>();
      return body.status === status ? body : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `job ${jobId} ${status}` },
  );
}

/**
 * Polls a job's status route until the job is gone (404) or ended (completed or failed): for jobs
 * a test cannot be sure exist, such as those of requests answered 503 whose add may still have
 * reached Redis.
 */
export async function jobSettles(api: ApiClient, instanceId: string, jobId: string, timeoutMs = 60_000): Promise<void> {
  await eventually(
    async () => {
      const response = await api.get(jobPath(instanceId, jobId), instanceId).catch(() => undefined);
      if (response?.status === 404) return true;
      if (response?.status !== 200) return undefined;
      return ['completed', 'failed'].includes(response.json<JobStatusBody>().status) ? true : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `job ${jobId} ended or gone` },
  );
}

/** `http://127.0.0.1:<port><path>` on a worker's health server, from the port it logged when ready. */
export function workerUrl(worker: ServiceProcess, path: '/healthz' | '/readyz' | '/metrics'): string {
  const ready = worker.logsWithMsg('worker ready')[0];
  const port = Number(ready?.healthPort);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${worker.name} logged no usable healthPort: ${JSON.stringify(ready)}`);
  return `http://127.0.0.1:${port}${path}`;
}

/** Runs `call` and resolves with its value and how long it took, in ms. */
export async function timed<T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await call();
  return { value, ms: performance.now() - started };
}
