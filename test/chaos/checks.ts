/**
 * The soak's six end checks (issue 12), run once the load and the faults have stopped and the
 * service is whole again. Each returns the problems it found, as sentences; none is an error of
 * the harness. Waiting for jobs, batches and webhooks to end is polling with generous deadlines:
 * a busy machine may take minutes to drain what ten minutes of faults left queued.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { FakeCdn } from '../support/fake-cdn.js';
import { auditStore, runStaleTempSweep } from '../support/store-audit.js';
import type { WebhookReceiver } from '../support/webhook-receiver.js';
import type { Catalogue, CatalogueMedia } from './catalogue.js';
import type { Fault } from './faults.js';
import { callApi, type SentRequest } from './load.js';
import type { ChaosStack } from './stack.js';

const DRAIN_DEADLINE_MS = 15 * 60_000;
const WEBHOOK_DEADLINE_MS = 3 * 60_000;

export interface Check {
  name: string;
  problems: string[];
  /** What was checked, for the printout. */
  checked: string;
}

export interface SoakRecord {
  chaos: ChaosStack;
  cdn: FakeCdn;
  catalogue: Catalogue;
  receiver: WebhookReceiver;
  sent: SentRequest[];
  faults: Fault[];
}

/** A job accepted with 202, and how it ended. */
interface FollowedJob {
  instance: string;
  jobId: string;
  media: CatalogueMedia;
  end?: { status: 'completed' | 'failed'; statusCode?: number };
}

/** A batch accepted with 202, and its items' ends. */
interface FollowedBatch {
  sent: SentRequest;
  items?: { id: string; status: string; error?: { statusCode: number } }[];
}

export async function runChecks(record: SoakRecord): Promise<Check[]> {
  const jobs = followedJobs(record);
  const batches: FollowedBatch[] = record.sent.filter((s) => s.kind === 'batch' && s.batchId).map((sent) => ({ sent }));
  await drain(record, jobs, batches);
  const checks = [answersCheck(record), jobsCheck(record, jobs), ...(await storeChecks(record)), await webhookCheck(record, batches)];
  checks.push(cdnDownloadsCheck(record, jobs, batches));
  return checks;
}

/** Every job accepted with 202, once per instance and job id (a batch item's is its batch instance's). */
function followedJobs({ sent }: SoakRecord): FollowedJob[] {
  const jobs = new Map<string, FollowedJob>();
  for (const request of sent) {
    for (const { jobId, media } of request.status === 202 ? (request.jobs ?? []) : []) {
      jobs.set(`${request.instance} ${jobId}`, { instance: request.instance, jobId, media });
    }
  }
  return [...jobs.values()];
}

/** Polls the jobs and batches until each has ended, or the deadline passes. */
async function drain({ chaos }: SoakRecord, jobs: FollowedJob[], batches: FollowedBatch[]): Promise<void> {
  const deadline = Date.now() + DRAIN_DEADLINE_MS;
  const get = async (instance: string, path: string) => {
    const slot = chaos.liveApis()[0] ?? chaos.apis[0]!;
    const answer = await callApi(chaos, slot.url, 'GET', path, instance, 30_000).catch(() => undefined);
    return answer?.status === 200 ? (JSON.parse(answer.body.toString('utf8')) as Record<string, any>) : undefined;
  };
  while (Date.now() < deadline) {
    for (const job of jobs.filter((j) => !j.end)) {
      const status = await get(job.instance, `/api/v2/instance/${job.instance}/media/jobs/${job.jobId}`);
      if (status?.status === 'completed' || status?.status === 'failed') job.end = { status: status.status, statusCode: status.error?.statusCode };
    }
    for (const batch of batches.filter((b) => !b.items)) {
      const status = await get(batch.sent.instance, `/api/v2/instance/${batch.sent.instance}/media/batch/${batch.sent.batchId}`);
      if (status?.done) batch.items = status.items;
    }
    if (jobs.every((j) => j.end) && batches.every((b) => b.items)) return;
    await delay(1_000);
  }
}

/** A failure the CDN's behaviour explains: an expired media's 404, or a 502 of a media the CDN failed or a reset cut. */
function explained(media: CatalogueMedia, statusCode: number | undefined, faults: Fault[]): boolean {
  if (statusCode === 404) return media.behaviour === 'expired';
  if (statusCode === 502) return media.behaviour === 'failing' || faults.some((f) => f.cutPaths?.includes(media.pathname));
  return false;
}

/**
 * 1. Every request got an answer of the contract (200 with the right bytes, 202, a 4xx or a 503),
 * none hung, and no process of the service died but by a fault's SIGKILL.
 */
function answersCheck({ chaos, sent, faults }: SoakRecord): Check {
  const problems: string[] = [];
  let cut = 0;
  for (const request of sent) {
    const what = `${request.kind} to ${request.api.name} at ${new Date(request.sentAt).toISOString()}${request.media ? ` (media #${request.media.index}, ${request.media.size} bytes, ${request.media.behaviour})` : ''}`;
    if (request.error === 'hung') problems.push(`${what}: no answer before its deadline`);
    else if (request.error !== undefined) {
      const during = faults.filter((f) => f.at <= request.answeredAt + 1_000 && f.over >= request.sentAt - 1_000);
      // A connection its API's own SIGKILL dropped, or a file response cut mid-body when the S3
      // server went away (its 200 and headers were sent: no 503 can follow), is the fault's doing.
      const excused = during.some((f) => (f.kind === 'api-kill' && f.process === request.api.name) || f.kind === 's3-restart');
      if (excused) cut++;
      else problems.push(`${what}: ${request.error} (faults meanwhile: ${during.map((f) => f.kind).join(', ') || 'none'})`);
    } else {
      const status = request.status!;
      if (status === 200 && request.bytesRight === false) problems.push(`${what}: 200 with the wrong bytes`);
      else if (![200, 202, 503].includes(status) && !(status >= 400 && status < 500)) problems.push(`${what}: ${status} ${request.body ?? ''}`);
    }
  }
  const killed = new Set(faults.flatMap((f) => (f.process ? [f.process] : [])));
  for (const process of chaos.stack.processes) {
    if (!process.running && !killed.has(process.name)) problems.push(`${process.name} died by itself (code ${process.exitCode}, signal ${process.exitSignal}): ${process.stderr.slice(-300)}`);
  }
  return {
    name: 'every request answered 200/202/4xx/503, none hung',
    problems,
    checked: `${sent.length} requests (${cut} cut by an API's SIGKILL or an S3 restart mid-body)`,
  };
}

/** 2. Every job accepted with 202 ended, completed or with a final error the CDN explains. */
function jobsCheck({ faults }: SoakRecord, jobs: FollowedJob[]): Check {
  const problems: string[] = [];
  for (const job of jobs) {
    const what = `job ${job.jobId.slice(0, 12)}… of ${job.instance} (media #${job.media.index}, ${job.media.behaviour})`;
    if (!job.end) problems.push(`${what}: never ended`);
    else if (job.end.status === 'failed' && !explained(job.media, job.end.statusCode, faults)) {
      problems.push(`${what}: failed with ${job.end.statusCode}, which the CDN does not explain`);
    }
  }
  const completed = jobs.filter((j) => j.end?.status === 'completed').length;
  return { name: "every 202 job ended, completed or failed as the CDN's behaviour explains", problems, checked: `${jobs.length} jobs (${completed} completed)` };
}

/** 3 and 4. Every stored object's name is the SHA-256 of its bytes; no temporary once the sweeper ran. */
async function storeChecks({ chaos }: SoakRecord): Promise<Check[]> {
  const swept = await runStaleTempSweep(chaos.stack);
  const audit = await auditStore(chaos.stack);
  return [
    { name: "every stored object's name is the SHA-256 of its bytes", problems: audit.problems, checked: `${audit.blobs.length} objects, ${audit.records} index records` },
    {
      name: 'no temporary object once the sweeper ran',
      problems: audit.temps.map((temp) => `tmp/${temp} left`),
      checked: `${swept} temporaries swept`,
    },
  ];
}

/** 5. Every finished batch item had at least one signed webhook. */
async function webhookCheck({ receiver, faults }: SoakRecord, batches: FollowedBatch[]): Promise<Check> {
  const missing = () => {
    const problems: string[] = [];
    for (const { sent, items } of batches) {
      if (!items) {
        problems.push(`batch ${sent.batchId}: items still pending`);
        continue;
      }
      const signed = new Set(
        receiver.deliveries
          .filter((d) => d.path === sent.callbackPath && d.verified && d.event.type === 'batch.item')
          .map((d) => (d.event.type === 'batch.item' ? d.event.item.id : '')),
      );
      for (const item of items) {
        if (item.status !== 'completed' && item.status !== 'failed') continue;
        if (!signed.has(item.id)) problems.push(`batch ${sent.batchId} item ${item.id}: ${item.status}, no signed webhook`);
        const media = sent.items!.get(item.id)!;
        if (item.status === 'failed' && !explained(media, item.error?.statusCode, faults)) {
          problems.push(`batch ${sent.batchId} item ${item.id} (media #${media.index}, ${media.behaviour}): failed with ${item.error?.statusCode}, which the CDN does not explain`);
        }
      }
    }
    return problems;
  };
  const deadline = Date.now() + WEBHOOK_DEADLINE_MS;
  let problems = missing();
  while (problems.some((p) => p.includes('no signed webhook')) && Date.now() < deadline) {
    await delay(1_000);
    problems = missing();
  }
  const finished = batches.flatMap((b) => b.items ?? []).filter((i) => i.status === 'completed' || i.status === 'failed').length;
  return { name: 'every finished batch item had at least one signed webhook', problems, checked: `${batches.length} batches, ${finished} finished items, ${receiver.deliveries.length} webhooks` };
}

/**
 * 6. A completed media was downloaded whole from the CDN at most once, plus once per fault that
 * struck while its downloads were going on (an attempt a fault interrupted).
 */
function cdnDownloadsCheck({ cdn, sent, faults }: SoakRecord, jobs: FollowedJob[], batches: FollowedBatch[]): Check {
  const completed = new Set<CatalogueMedia>();
  for (const request of sent) if (request.status === 200 && request.media) completed.add(request.media);
  for (const job of jobs) if (job.end?.status === 'completed') completed.add(job.media);
  for (const { sent: batch, items } of batches) {
    for (const item of items ?? []) if (item.status === 'completed') completed.add(batch.items!.get(item.id)!);
  }
  const problems: string[] = [];
  let extra = 0;
  for (const media of completed) {
    const requests = cdn.requests.filter((r) => r.pathname === media.pathname);
    const whole = requests.filter((r) => r.bytesSent >= media.encLength);
    if (whole.length <= 1) continue;
    extra += whole.length - 1;
    const from = requests[0]!.at;
    const to = Math.max(...whole.map((r) => r.closedAt ?? Date.now()));
    const interrupting = faults.filter((f) => f.over >= from && f.at <= to).length;
    if (whole.length > 1 + interrupting) {
      problems.push(`media #${media.index} (${media.size} bytes, ${media.behaviour}): downloaded whole ${whole.length} times, with ${interrupting} faults meanwhile`);
    }
  }
  return {
    name: 'completed media downloaded from the CDN at most once per attempt a fault interrupted',
    problems,
    checked: `${completed.size} completed media, ${extra} repeated whole downloads`,
  };
}
