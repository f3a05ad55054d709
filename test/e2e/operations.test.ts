/**
 * What operators rely on: liveness and readiness (API and workers), Prometheus metrics, the queue
 * dashboard behind ADMIN_TOKEN, the OpenAPI document (held against every route and status the API
 * really answers) with its docs page, and the logs: one line per request with its id, the id
 * followed into the workers, and no secret (mediaKey, token, CDN signature) in any output.
 *
 * Two stacks: the main one (s3rver store, two workers, ADMIN_TOKEN set) and a bare API without
 * a dashboard on a redis-server of its own, which the tests stop and start again. The describes
 * run in order: the search for secrets in the logs covers everything before it, and the last
 * describe takes the main stack's store away for good.
 */
import { randomBytes } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { AWAITING_JOB_STATES, ApiFileLinks, DEMAND_JOB_STATES, FileLinkSignature, QUEUE_DEMAND_METRIC, QUEUE_JOBS_METRIC } from '@wamedia/server';
import { DOWNLOAD_QUEUE, WEBHOOK_QUEUE, contentTypes, type ContentType, type MediaLink } from '@wamedia/shared';
import { ApiClient, downloadBody, eventually, type ApiResponse, type ErrorBody } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { expectBytes, expectError } from '../support/expectations.js';
import { type PublishedMedia } from '../support/fake-cdn.js';
import { gate } from '../support/gate.js';
import { Metrics } from '../support/prometheus.js';
import type { LogLine, ServiceProcess } from '../support/service-process.js';

const INSTANCE = 'instance-ops';
const OTHER_INSTANCE = 'instance-other';
const ADMIN_TOKEN = `admin-${randomBytes(18).toString('base64url')}`;
const MAX_WAIT_MS = 120_000;
const MAX_MEDIA_BYTES = 1024 * 1024;
const DOWNLOAD_ROUTE = '/api/v2/instance/:instanceId/media/directly-download';
const downloadPath = (instanceId: string) => `/api/v2/instance/${instanceId}/media/directly-download`;
const SIGNED_URL_SECRET = `links-${randomBytes(12).toString('hex')}`;
/** Between the coverage scenario's cached media (5 000 bytes) and its slow one (8 000). */
const BASE64_MAX_BYTES = 6_000;

/** s3rver store (in this process: a test takes it away), two workers, ADMIN_TOKEN. */
const suite = useCdnStack({
  storage: 's3',
  s3: 'in-process',
  workers: 2,
  env: {
    ADMIN_TOKEN,
    WEBHOOK_SECRET: 'webhook-secret-of-the-operations-test',
    MAX_WAIT_MS: String(MAX_WAIT_MS),
    MAX_MEDIA_BYTES: String(MAX_MEDIA_BYTES),
    JOB_ATTEMPTS: '3',
    SIGNED_URL_SECRET,
    BASE64_MAX_BYTES: String(BASE64_MAX_BYTES),
  },
});
/**
 * An API only, without ADMIN_TOKEN, on a Redis of its own that the tests stop and start again.
 * One request a minute per instance: the coverage scenario's 429 comes from here.
 */
const bare = useCdnStack({ cdnOf: suite, workers: 0, privateRedis: true, env: { INSTANCE_REQUESTS_PER_MINUTE: '1' } });

/** Every media published and every mediaKey sent: none of them may show up in any output. */
const published: PublishedMedia[] = [];
const otherMediaKeys: Buffer[] = [];
/** Every link answered or requested: their signatures may not show up in any output either. */
const links: string[] = [];

/**
 * Answers of the probe routes (/healthz, /readyz, /metrics): app.ts leaves them out of the
 * request log, so the OpenAPI coverage test takes their statuses from here.
 */
const probeAnswers: { method: string; path: string; status: number }[] = [];

function publish(size: number, contentType: ContentType = 'document'): PublishedMedia {
  const media = suite.cdn.publish(randomBytes(size), contentType);
  published.push(media);
  return media;
}

function aWrongMediaKey(): string {
  const key = randomBytes(32);
  otherMediaKeys.push(key);
  return key.toString('base64');
}

/** GET a probe route of an API, remembering the answer for the OpenAPI coverage test. */
async function probe(client: ApiClient, path: '/healthz' | '/readyz' | '/metrics'): Promise<ApiResponse> {
  const response = await client.call('GET', path, {});
  probeAnswers.push({ method: 'GET', path, status: response.status });
  return response;
}

/** `http://127.0.0.1:<port>` of a worker's health server, from the port it logged when ready. */
function healthOrigin(worker: ServiceProcess): string {
  const ready = worker.logsWithMsg('worker ready')[0];
  const port = Number(ready?.healthPort);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`${worker.name} logged no usable healthPort: ${JSON.stringify(ready)}`);
  return `http://127.0.0.1:${port}`;
}

async function getJson(url: string): Promise<{ status: number; type: string | null; body: any }> {
  const response = await fetch(url);
  return { status: response.status, type: response.headers.get('content-type'), body: await response.json() };
}

function expectErrorBody(body: unknown, status: number, pattern: RegExp): void {
  expect(body).toEqual({ message: [expect.stringMatching(pattern)], error: STATUS_CODES[status], statusCode: status });
}

/** The request line of one request, a line with `req` and `res`: waits for it (logs arrive after the answer). */
async function requestLine(service: ServiceProcess, requestId: string): Promise<RequestLine> {
  const test = (line: LogLine) => isRequestLine(line) && line.req.id === requestId;
  return (await service.waitForLog(test, 5_000, `the request line of ${requestId}`)) as RequestLine;
}

type RequestLine = LogLine & { req: { id: string; method: string; url: string }; res: { statusCode: number } };

function isRequestLine(line: LogLine): line is RequestLine {
  const { req, res } = line as Partial<RequestLine>;
  return typeof req?.method === 'string' && typeof req.url === 'string' && typeof res?.statusCode === 'number';
}

describe('health and readiness', () => {
  it('the API answers /healthz 200, and /readyz 200 while Redis and the store answer', async () => {
    const health = await probe(suite.api, '/healthz');
    expect(health.status).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await probe(suite.api, '/readyz');
    expect(ready.status, ready.body.toString()).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
  });

  it('each worker serves /healthz and /readyz on the port it logged in "worker ready"', async () => {
    const origins = suite.stack.workers.map(healthOrigin);
    expect(new Set(origins).size).toBe(suite.stack.workers.length);
    for (const origin of origins) {
      expect(await getJson(`${origin}/healthz`)).toEqual({ status: 200, type: 'application/json', body: { status: 'ok' } });
      expect(await getJson(`${origin}/readyz`)).toEqual({ status: 200, type: 'application/json', body: { status: 'ready' } });
      const unknown = await getJson(`${origin}/nothing-here`);
      expect(unknown.status).toBe(404);
      expectErrorBody(unknown.body, 404, /Cannot GET \/nothing-here/);
    }
  });

  it('the API answers /readyz 503 naming Redis while its Redis is down, and 200 once it is back; /healthz stays 200', async () => {
    expect((await probe(bare.api, '/readyz')).status).toBe(200);
    const { readyz, healthz } = await whileRedisIsDown(async () => ({
      readyz: await probe(bare.api, '/readyz'),
      healthz: await probe(bare.api, '/healthz'),
    }));
    expectError(readyz, 503, /^redis: unreachable$/);
    expect(healthz.status).toBe(200);
    expect((await probe(bare.api, '/readyz')).status).toBe(200);
  });
});

/**
 * Stops the bare stack's Redis, waits until its API's /readyz says so, runs `during`, then
 * starts Redis again and waits until /readyz is 200 again.
 */
async function whileRedisIsDown<T>(during: () => Promise<T>): Promise<T> {
  await bare.redis.stop();
  try {
    await eventually(async () => ((await probe(bare.api, '/readyz')).status === 503 ? true : undefined), {
      timeoutMs: 8_000,
      what: '/readyz answering 503',
    });
    return await during();
  } finally {
    await bare.redis.restart();
    await eventually(async () => ((await probe(bare.api, '/readyz')).status === 200 ? true : undefined), {
      timeoutMs: 10_000,
      what: '/readyz answering 200 again',
    });
  }
}

describe('metrics', () => {
  /** The API's and the workers' scrapes: before the first download, after it, and after its repeat. */
  const scrapes: { api: Metrics; workers: Metrics[] }[] = [];
  let media: PublishedMedia;

  async function scrapeAll() {
    const apiMetrics = Metrics.parse((await probe(suite.api, '/metrics')).body.toString('utf8'));
    const workers = await Promise.all(suite.stack.workers.map((worker) => Metrics.scrape(`${healthOrigin(worker)}/metrics`)));
    scrapes.push({ api: apiMetrics, workers });
  }

  /** A worker family summed over every worker, `after` minus `before` (scrape indexes). */
  function workerDelta(name: string, labels: Record<string, string>, before: number, after: number): number {
    const total = (i: number) => scrapes[i]!.workers.reduce((sum, metrics) => sum + metrics.sum(name, labels), 0);
    return total(after) - total(before);
  }

  beforeAll(async () => {
    media = publish(33_333, 'image');
    const body = downloadBody(media, { mimetype: 'image/jpeg' });
    await scrapeAll();
    expectBytes(await suite.api.download(INSTANCE, body), media.sha256, media.fileLength);
    await scrapeAll();
    expectBytes(await suite.api.download(INSTANCE, body), media.sha256, media.fileLength);
    await scrapeAll();
  });

  it('the API counts the first download as a cache miss and its repeat as a hit', () => {
    const [before, first, repeat] = scrapes.map((s) => s.api);
    const lookups = (m: Metrics, result: string) => m!.sum('wamedia_cache_lookups_total', { result });
    expect(lookups(first!, 'miss') - lookups(before!, 'miss')).toBe(1);
    expect(lookups(first!, 'hit') - lookups(before!, 'hit')).toBe(0);
    expect(lookups(repeat!, 'hit') - lookups(first!, 'hit')).toBe(1);
    expect(lookups(repeat!, 'miss') - lookups(first!, 'miss')).toBe(0);
  });

  it('the API times requests by route pattern and status, never by the concrete path', () => {
    const [before, , repeat] = scrapes.map((s) => s.api);
    const labels = { method: 'POST', route: DOWNLOAD_ROUTE, status: '200' };
    const count = (m: Metrics) => m.sum('wamedia_http_request_duration_seconds_count', labels);
    expect(count(repeat!) - count(before!), repeat!.text).toBe(2);
    expect(repeat!.has('wamedia_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' })).toBe(true);
    expect(repeat!.has('wamedia_http_request_duration_seconds_sum', labels)).toBe(true);
    const routes = new Set(repeat!.find('wamedia_http_request_duration_seconds_count').map((s) => s.labels.route));
    expect([...routes].filter((route) => route?.includes(INSTANCE))).toEqual([]);
  });

  it('the API exports the queue depth (bullmq_job_count) and the waiting requests', () => {
    const latest = scrapes.at(-1)!.api;
    expect(latest.find('bullmq_job_count').length, latest.text).toBeGreaterThan(0);
    expect(latest.has('bullmq_job_count', { state: 'waiting' })).toBe(true);
    expect(latest.has('bullmq_job_count', { state: 'completed' })).toBe(true);
    expect(latest.find('wamedia_waiting_requests')).toEqual([{ name: 'wamedia_waiting_requests', labels: {}, value: 0 }]);
  });

  it(`the API exports ${QUEUE_JOBS_METRIC} and ${QUEUE_DEMAND_METRIC} of the download queue and, with WEBHOOK_SECRET, of the webhook queue`, () => {
    const latest = scrapes.at(-1)!.api;
    for (const queue of [DOWNLOAD_QUEUE, WEBHOOK_QUEUE]) {
      const states = latest.find(QUEUE_JOBS_METRIC, { queue }).map((sample) => sample.labels.state);
      expect(states.sort(), latest.text).toEqual([...AWAITING_JOB_STATES].sort());
      const demand = DEMAND_JOB_STATES.reduce((sum, state) => sum + latest.sum(QUEUE_JOBS_METRIC, { queue, state }), 0);
      expect(latest.find(QUEUE_DEMAND_METRIC, { queue }).map((sample) => sample.value)).toEqual([demand]);
    }
  });

  it('the workers count the completed job, its .enc bytes, and time the CDN and the decrypt pass', () => {
    expect(workerDelta('wamedia_jobs_total', { outcome: 'completed' }, 0, 1)).toBe(1);
    expect(workerDelta('wamedia_jobs_total', { outcome: 'failed' }, 0, 1)).toBe(0);
    expect(workerDelta('wamedia_downloaded_bytes_total', {}, 0, 1)).toBe(media.enc.length);
    expect(workerDelta('wamedia_download_decrypt_seconds_count', {}, 0, 1)).toBe(1);
    expect(workerDelta('wamedia_cdn_response_seconds_count', {}, 0, 1)).toBe(1);
    for (const metrics of scrapes.at(-1)!.workers) {
      expect(metrics.has('wamedia_download_decrypt_seconds_bucket', { le: '+Inf' })).toBe(true);
      expect(metrics.has('wamedia_cdn_response_seconds_bucket', { le: '+Inf' })).toBe(true);
    }
  });

  it('the workers do no work for a cache hit', () => {
    expect(workerDelta('wamedia_jobs_total', {}, 1, 2)).toBe(0);
    expect(workerDelta('wamedia_downloaded_bytes_total', {}, 1, 2)).toBe(0);
  });
});

describe('the queue dashboard at /admin/queues', () => {
  const basic = (password: string) => `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
  const dashboard = (client: ApiClient, authorization?: string) =>
    client.call('GET', '/admin/queues', authorization === undefined ? {} : { authorization });

  it('answers 401 with a Basic challenge without credentials', async () => {
    const response = await dashboard(suite.api);
    expectError(response, 401, /ADMIN_TOKEN/);
    expect(response.header('www-authenticate')).toMatch(/^Basic realm=/);
  });

  it.each([
    ['a wrong bearer token', () => `Bearer ${ADMIN_TOKEN}x`],
    ['a wrong Basic password', () => basic(`${ADMIN_TOKEN.slice(0, -1)}!`)],
    ['a JWT of an instance', () => `Bearer ${suite.stack.token(INSTANCE)}`],
  ])('answers 401 to %s', async (_, authorization) => {
    const response = await dashboard(suite.api, authorization());
    expectError(response, 401);
    expect(response.header('www-authenticate')).toMatch(/^Basic /);
  });

  it.each([
    ['Basic auth with the token as password', () => basic(ADMIN_TOKEN)],
    ['the token as a bearer token', () => `Bearer ${ADMIN_TOKEN}`],
  ])('serves the dashboard HTML to %s', async (_, authorization) => {
    const response = await dashboard(suite.api, authorization());
    expect(response.status, response.body.toString().slice(0, 300)).toBe(200);
    expect(response.header('content-type')).toMatch(/^text\/html/);
    expect(response.body.toString()).toMatch(/<html/i);
  });

  it('is not there (404) when ADMIN_TOKEN is not set', async () => {
    expectError(await dashboard(bare.api), 404);
    expectError(await dashboard(bare.api, `Bearer ${ADMIN_TOKEN}`), 404);
  });
});

describe('the OpenAPI document', () => {
  let document: OpenApiDocument;

  beforeAll(async () => {
    const response = await suite.api.call('GET', '/openapi.json', {});
    expect(response.status).toBe(200);
    expect(response.header('content-type')).toMatch(/^application\/json/);
    document = response.json();
  });

  it('is an OpenAPI 3.1 document of the API', () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toMatchObject({ title: 'wamedia', version: expect.any(String) });
    expect(Object.keys(document.paths)).toContain('/api/v2/instance/{instanceId}/media/directly-download');
  });

  it('has its schemas from the zod schemas the API validates with', () => {
    const schemas = document.components.schemas as Record<string, any>;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['DownloadRequest', 'ErrorBody', 'JobAccepted', 'JobStatus']));
    const contentType = schemas.DownloadRequest.properties.contentType;
    expect([...contentType.enum].sort()).toEqual([...contentTypes].sort());
    expect(schemas.DownloadRequest.required).toEqual(expect.arrayContaining(['contentType', 'content']));
    expect(schemas.ErrorBody.required).toEqual(expect.arrayContaining(['message', 'error', 'statusCode']));
    expect(schemas.ErrorBody.properties.message).toMatchObject({ type: 'array', items: { type: 'string' } });
    // A WhatsApp message is the other form of the download body and of a batch item.
    expect(schemas.MessageDownloadRequest.required).toEqual(['message']);
    expect(schemas.MessageBatchItemRequest.required).toEqual(['message']);
    const body = (document.paths['/api/v2/instance/{instanceId}/media/directly-download']!.post as any).requestBody.content['application/json'].schema;
    expect(body.anyOf).toEqual([{ $ref: '#/components/schemas/DownloadRequest' }, { $ref: '#/components/schemas/MessageDownloadRequest' }]);
    expect(schemas.BatchRequest.properties.items.items.anyOf).toHaveLength(2);
    expect(schemas.MessageKey.required).toEqual(['id', 'remoteJid', 'fromMe']);
    // The timeout query follows the configuration: MAX_WAIT_MS is its maximum.
    const download = document.paths['/api/v2/instance/{instanceId}/media/directly-download']!.post!;
    const timeout = download.parameters!.find((p: any) => p.name === 'timeout');
    expect(timeout.schema).toMatchObject({ type: 'integer', minimum: 0, maximum: MAX_WAIT_MS });
  });

  it('is shown at /docs by Swagger UI, whose assets are served', async () => {
    const page = await suite.api.call('GET', '/docs', {});
    expect(page.status).toBe(200);
    expect(page.header('content-type')).toMatch(/^text\/html/);
    const html = page.body.toString();
    expect(html).toContain("url: '/openapi.json'");
    const assets = [...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets.map((asset) => asset.split('/').at(-1)).sort()).toEqual(['swagger-ui-bundle.js', 'swagger-ui.css']);
    for (const asset of assets) {
      const response = await suite.api.call('GET', asset, {});
      expect(response.status, asset).toBe(200);
      expect(response.header('content-type'), asset).toMatch(asset.endsWith('.css') ? /^text\/css/ : /javascript/);
      expect(response.body.length, asset).toBeGreaterThan(1_000);
    }
  });

  /**
   * Every (method, route, status) the API answered in this file, read from its request log (and
   * the probes' answers), must be in the document; and every documented operation must have been
   * answered. The scenario below makes each status every route can produce, short of the 5xx of
   * a failing CDN or store (documented, and tested in cdn-failures.test.ts). A new route needs
   * its lines here, or the last assertion fails.
   */
  it('documents every route and status the API answers, and only routes it serves', async () => {
    const scenario = new Scenario();
    const cached = publish(5_000);
    const cachedBody = downloadBody(cached);
    const size = cached.fileLength;

    // directly-download
    await scenario.expect(200, 'a download', (headers) => suite.api.download(INSTANCE, cachedBody, { headers }));
    await scenario.expect(206, 'a Range', (headers) => suite.api.download(INSTANCE, cachedBody, { headers: { ...headers, range: 'bytes=0-9' } }));
    await scenario.expect(304, 'If-None-Match', (headers) =>
      suite.api.download(INSTANCE, cachedBody, { headers: { ...headers, 'if-none-match': `"${cached.sha256}"` } }),
    );
    await scenario.expect(416, 'an unsatisfiable Range', (headers) =>
      suite.api.download(INSTANCE, cachedBody, { headers: { ...headers, range: `bytes=${size}-` } }),
    );
    await scenario.expect(400, 'an invalid body', (headers) => suite.api.download(INSTANCE, { contentType: 'nope', content: {} }, { headers }));
    await scenario.expect(400, 'an invalid timeout', (headers) => suite.api.download(INSTANCE, cachedBody, { headers, timeout: 'soon' }));
    await scenario.expect(401, 'no token', (headers) => suite.api.download(INSTANCE, cachedBody, { headers, token: null }));
    await scenario.expect(403, "another instance's token", (headers) =>
      suite.api.download(INSTANCE, cachedBody, { headers, token: suite.stack.token(OTHER_INSTANCE) }),
    );
    const expired = publish(1_000);
    suite.cdn.setBehaviour(expired.directPathname, { kind: 'status', status: 404 });
    suite.cdn.setBehaviour(expired.urlPathname, { kind: 'status', status: 404 });
    await scenario.expect(404, 'media gone from the CDN', (headers) => suite.api.download(INSTANCE, downloadBody(expired), { headers }));
    await scenario.expect(413, 'a media over MAX_MEDIA_BYTES', (headers) =>
      suite.api.download(INSTANCE, downloadBody(publish(1_000), { content: { fileLength: MAX_MEDIA_BYTES + 1 } }), { headers }),
    );
    await scenario.expect(422, 'a wrong mediaKey', (headers) =>
      suite.api.download(INSTANCE, downloadBody(cached, { content: { mediaKey: aWrongMediaKey() } }), { headers }),
    );
    const answeredLink = await scenario.expect(200, 'a link', (headers) =>
      suite.api.call('POST', `${downloadPath(INSTANCE)}?response=url&ttl=60`, { instanceId: INSTANCE, headers, body: JSON.stringify(cachedBody) }),
    );
    links.push(answeredLink.json<MediaLink>().url);
    await scenario.expect(200, 'base64', (headers) =>
      suite.api.call('POST', `${downloadPath(INSTANCE)}?response=base64`, { instanceId: INSTANCE, headers, body: JSON.stringify(cachedBody) }),
    );
    await scenario.expect(400, 'an invalid response mode', (headers) =>
      suite.api.call('POST', `${downloadPath(INSTANCE)}?response=zip`, { instanceId: INSTANCE, headers, body: JSON.stringify(cachedBody) }),
    );

    // A job, followed through its routes.
    const slow = publish(8_000);
    // Served once the test has seen it running (a delay could run out first on a loaded machine).
    const slowSeen = gate();
    suite.cdn.setBehaviour(slow.directPathname, { kind: 'serve', headersAfter: slowSeen.opened });
    const accepted = await scenario.expect(202, 'timeout=0', (headers) => suite.api.download(INSTANCE, downloadBody(slow), { headers, timeout: 0 }));
    const { statusUrl, contentUrl } = accepted.json<{ statusUrl: string; contentUrl: string }>();
    await scenario.expect(202, 'content of a running job', (headers) => suite.api.get(contentUrl, INSTANCE, { headers }));
    await scenario.expect(200, 'status of a running job', (headers) => suite.api.get(statusUrl, INSTANCE, { headers }));
    slowSeen.open();
    await eventually(async () => ((await suite.api.get(statusUrl, INSTANCE)).json().status === 'completed' ? true : undefined), {
      what: 'the job completing',
    });
    await scenario.expect(200, 'content of a completed job', (headers) => suite.api.get(contentUrl, INSTANCE, { headers }));
    await scenario.expect(206, 'a Range of job content', (headers) => suite.api.get(contentUrl, INSTANCE, { headers: { ...headers, range: 'bytes=5-' } }));
    await scenario.expect(304, 'If-None-Match on job content', (headers) =>
      suite.api.get(contentUrl, INSTANCE, { headers: { ...headers, 'if-none-match': `"${slow.sha256}"` } }),
    );
    await scenario.expect(416, 'an unsatisfiable Range of job content', (headers) =>
      suite.api.get(contentUrl, INSTANCE, { headers: { ...headers, range: 'bytes=99999-' } }),
    );
    // A media retry: a job waiting for the phone's re-upload, answered.
    const gone = publish(1_000);
    suite.cdn.setBehaviour(gone.directPathname, { kind: 'status', status: 410 });
    suite.cdn.setBehaviour(gone.urlPathname, { kind: 'status', status: 410 });
    const messageKey = { id: `3EB0${randomBytes(8).toString('hex')}`, remoteJid: '5511999999999@s.whatsapp.net', fromMe: false };
    const waiting = await suite.api.download(INSTANCE, downloadBody(gone, { content: { messageKey } }), { timeout: 0 });
    const goneStatusUrl = waiting.json<{ statusUrl: string }>().statusUrl;
    const reuploadUrl = `${goneStatusUrl}/reupload`;
    await eventually(async () => ((await suite.api.get(goneStatusUrl, INSTANCE)).json().status === 'awaiting_reupload' ? true : undefined), {
      what: 'the job awaiting a re-upload',
    });
    const reupload = (body: unknown, options: { token?: string | null; url?: string } = {}) => (headers: Record<string, string>) =>
      suite.api.call('POST', options.url ?? reuploadUrl, { instanceId: INSTANCE, headers, body: JSON.stringify(body), token: options.token });
    const undecryptable = { notification: { ciphertext: randomBytes(40).toString('base64'), iv: randomBytes(12).toString('base64') } };
    await scenario.expect(400, 'a re-upload answer of the wrong shape', reupload({}));
    await scenario.expect(401, 'a re-upload answer without token', reupload({ directPath: '/v/x' }, { token: null }));
    await scenario.expect(403, "a re-upload answer with another instance's token", reupload({ directPath: '/v/x' }, { token: suite.stack.token(OTHER_INSTANCE) }));
    await scenario.expect(404, 'a re-upload answer for an unknown job', reupload({ directPath: '/v/x' }, { url: `/api/v2/instance/${INSTANCE}/media/jobs/dl-${'0'.repeat(64)}/reupload` }));
    await scenario.expect(422, 'a notification that does not decrypt', reupload(undecryptable));
    await scenario.expect(202, 'a re-upload answer', reupload({ directPath: '/v/t62.7118-24/not-there.enc' }));
    await scenario.expect(409, 'a second re-upload answer', reupload({ directPath: '/v/x' }));

    await scenario.expect(200, 'a link to job content', (headers) => suite.api.get(`${contentUrl}?response=url`, INSTANCE, { headers }));
    await scenario.expect(413, 'job content too large for base64', (headers) =>
      suite.api.get(`${contentUrl}?response=base64`, INSTANCE, { headers }),
    );
    await scenario.expect(400, 'job content with a ttl but no link', (headers) => suite.api.get(`${contentUrl}?ttl=5`, INSTANCE, { headers }));
    // A batch: a ready item, a slow one and an invalid one, followed through its routes.
    const batches = `/api/v2/instance/${INSTANCE}/media/batch`;
    const submit = (body: unknown) => (headers: Record<string, string>) =>
      suite.api.call('POST', batches, { instanceId: INSTANCE, headers, body: JSON.stringify(body) });
    const slowItem = publish(6_000);
    const slowItemSeen = gate();
    suite.cdn.setBehaviour(slowItem.directPathname, { kind: 'serve', headersAfter: slowItemSeen.opened });
    const items = [
      { id: 'ready', ...downloadBody(cached) },
      { id: 'slow', ...downloadBody(slowItem) },
      { id: 'bad', contentType: 'nope', content: {} },
    ];
    const batch = (await scenario.expect(202, 'a batch', submit({ items }))).json<{ batchId: string; statusUrl: string }>();
    const item = (id: string) => `${batch.statusUrl}/items/${id}/content`;
    await scenario.expect(202, 'a pending batch item', (headers) => suite.api.get(item('slow'), INSTANCE, { headers }));
    slowItemSeen.open();
    await scenario.expect(400, 'an invalid batch item', (headers) => suite.api.get(item('bad'), INSTANCE, { headers }));
    await scenario.expect(404, 'an unknown batch item', (headers) => suite.api.get(item('none'), INSTANCE, { headers }));
    await scenario.expect(400, 'an empty batch', submit({ items: [] }));
    await scenario.expect(401, 'a batch without token', (headers) =>
      suite.api.call('POST', batches, { headers, token: null, body: JSON.stringify({ items }) }),
    );
    await scenario.expect(403, "a batch with another instance's token", (headers) =>
      suite.api.call('POST', batches, { headers, token: suite.stack.token(OTHER_INSTANCE), body: JSON.stringify({ items }) }),
    );
    await scenario.expect(200, 'a batch status', (headers) => suite.api.get(batch.statusUrl, INSTANCE, { headers }));
    await scenario.expect(400, 'a batch status page out of range', (headers) => suite.api.get(`${batch.statusUrl}?limit=0`, INSTANCE, { headers }));
    await scenario.expect(404, 'an unknown batch', (headers) => suite.api.get(`${batches}/${crypto.randomUUID()}`, INSTANCE, { headers }));
    await eventually(async () => ((await suite.api.get(batch.statusUrl, INSTANCE)).json().done === true ? true : undefined), {
      what: 'the batch finishing',
    });
    await scenario.expect(200, 'a completed batch item', (headers) => suite.api.get(item('slow'), INSTANCE, { headers }));
    await scenario.expect(206, 'a Range of a batch item', (headers) => suite.api.get(item('ready'), INSTANCE, { headers: { ...headers, range: 'bytes=1-2' } }));
    await scenario.expect(304, 'If-None-Match on a batch item', (headers) =>
      suite.api.get(item('ready'), INSTANCE, { headers: { ...headers, 'if-none-match': `"${cached.sha256}"` } }),
    );
    await scenario.expect(200, 'a link to a batch item', (headers) => suite.api.get(`${item('slow')}?response=url`, INSTANCE, { headers }));
    const linked = await scenario.expect(200, 'a batch status with links', (headers) => suite.api.get(`${batch.statusUrl}?links=1`, INSTANCE, { headers }));
    links.push(...linked.json<{ items: { link?: MediaLink }[] }>().items.flatMap((entry) => (entry.link ? [entry.link.url] : [])));

    // A link the API signs (folder storage), made here with its key: the route serves from any store.
    const fileLinks = new ApiFileLinks(new FileLinkSignature(Buffer.from(SIGNED_URL_SECRET)));
    const fileLink = await fileLinks.link(
      { sha256: cached.sha256, size, mimetype: 'application/pdf', fileName: 'document-x.pdf' },
      { ttlSeconds: 60, origin: '' },
    );
    const missingLink = await fileLinks.link({ sha256: 'f'.repeat(64), size: 1, mimetype: 'text/plain', fileName: 'x.txt' }, { ttlSeconds: 60, origin: '' });
    links.push(fileLink.url, missingLink.url);
    const getLink = (url: string, headers: Record<string, string>) => suite.api.call('GET', url, { headers });
    await scenario.expect(200, 'a signed link', (headers) => getLink(fileLink.url, headers));
    await scenario.expect(206, 'a Range of a signed link', (headers) => getLink(fileLink.url, { ...headers, range: 'bytes=0-9' }));
    await scenario.expect(304, 'If-None-Match on a signed link', (headers) =>
      getLink(fileLink.url, { ...headers, 'if-none-match': `"${cached.sha256}"` }),
    );
    await scenario.expect(416, 'an unsatisfiable Range of a signed link', (headers) => getLink(fileLink.url, { ...headers, range: `bytes=${size}-` }));
    await scenario.expect(403, 'a tampered signed link', (headers) => getLink(fileLink.url.replace('document-x.pdf', 'document-y.pdf'), headers));
    await scenario.expect(404, 'a signed link to a file not stored', (headers) => getLink(missingLink.url, headers));

    const unknownJob = `/api/v2/instance/${INSTANCE}/media/jobs/dl-${'0'.repeat(64)}`;
    await scenario.expect(404, 'an unknown job', (headers) => suite.api.get(unknownJob, INSTANCE, { headers }));
    await scenario.expect(404, 'the content of an unknown job', (headers) => suite.api.get(`${unknownJob}/content`, INSTANCE, { headers }));
    await scenario.expect(401, 'a job without token', (headers) => suite.api.get(statusUrl, INSTANCE, { headers, token: null }));
    await scenario.expect(403, "a job with another instance's token", (headers) =>
      suite.api.get(contentUrl, INSTANCE, { headers, token: suite.stack.token(OTHER_INSTANCE) }),
    );
    // Per-instance limits: the bare API allows one request a minute per instance.
    await scenario.expect(404, 'a job within the request limit', (headers) => bare.api.get(unknownJob, INSTANCE, { headers }), bare.stack.api);
    const limited = await scenario.expect(429, 'a job past the request limit', (headers) => bare.api.get(unknownJob, INSTANCE, { headers }), bare.stack.api);
    expect(limited.header('retry-after')).toMatch(/^\d+$/);

    // The instance's webhook secret.
    const webhookSecret = `/api/v2/instance/${INSTANCE}/webhook-secret`;
    await scenario.expect(200, 'the webhook secret', (headers) => suite.api.get(webhookSecret, INSTANCE, { headers }));
    await scenario.expect(401, 'the webhook secret without token', (headers) => suite.api.get(webhookSecret, INSTANCE, { headers, token: null }));
    await scenario.expect(403, "the webhook secret with another instance's token", (headers) =>
      suite.api.get(webhookSecret, INSTANCE, { headers, token: suite.stack.token(OTHER_INSTANCE) }),
    );
    // An instance of its own on the bare API, whose one request a minute the job above needs.
    await scenario.expect(404, 'the webhook secret without WEBHOOK_SECRET', (headers) =>
      bare.api.get('/api/v2/instance/instance-no-hooks/webhook-secret', 'instance-no-hooks', { headers }), bare.stack.api,
    );

    // Operations and documentation.
    await scenario.expect(200, 'the document', (headers) => suite.api.call('GET', '/openapi.json', { headers }));
    await scenario.expect(200, 'the docs page', (headers) => suite.api.call('GET', '/docs', { headers }));
    await scenario.expect(401, 'the dashboard without credentials', (headers) => suite.api.call('GET', '/admin/queues', { headers }));
    await scenario.expect(200, 'the dashboard', (headers) =>
      suite.api.call('GET', '/admin/queues', { headers, authorization: `Bearer ${ADMIN_TOKEN}` }),
    );
    await scenario.expect(404, 'the dashboard without ADMIN_TOKEN', (headers) => bare.api.call('GET', '/admin/queues', { headers }), bare.stack.api);
    // Token revocation (an instance of its own: the others' tokens must keep working).
    const revokeTokens = '/admin/instances/instance-revoked/revoke-tokens';
    const revokedToken = suite.stack.token('instance-revoked');
    await scenario.expect(200, 'revoking the tokens of an instance', (headers) =>
      suite.api.call('POST', revokeTokens, { headers, authorization: `Bearer ${ADMIN_TOKEN}` }),
    );
    await scenario.expect(401, 'revoking tokens without credentials', (headers) => suite.api.call('POST', revokeTokens, { headers }));
    await scenario.expect(
      404,
      'revoking tokens without ADMIN_TOKEN',
      (headers) => bare.api.call('POST', revokeTokens, { headers, authorization: `Bearer ${ADMIN_TOKEN}` }),
      bare.stack.api,
    );
    await scenario.expect(401, 'a revoked token', (headers) =>
      suite.api.download('instance-revoked', cachedBody, { headers, token: revokedToken }),
    );
    // The probes, which the request log leaves out: probe() records their answers.
    for (const path of ['/healthz', '/readyz', '/metrics'] as const) expect((await probe(suite.api, path)).status).toBe(200);
    expect((await whileRedisIsDown(() => probe(bare.api, '/readyz'))).status).toBe(503);

    // Each scenario request is in the log with the status it was answered.
    for (const { requestId, status, service } of scenario.sent) {
      expect((await requestLine(service, requestId)).res.statusCode, requestId).toBe(status);
    }

    const answered = [...suite.stack.apis, ...bare.stack.apis].flatMap((service) =>
      service.logs.filter(isRequestLine).map((line) => ({ method: line.req.method, url: line.req.url, status: line.res.statusCode })),
    );
    const observed = new Map<string, { method: string; path: string; status: number; url: string }>();
    const unmapped: string[] = [];
    for (const { method, url, status } of answered) {
      const path = templateOf(document, url.split('?')[0]!);
      if (path === undefined) {
        if (!isPageAsset(url)) unmapped.push(`${method} ${url} → ${status}`);
        continue;
      }
      observed.set(`${method} ${path} ${status}`, { method, path, status, url });
    }
    for (const { method, path, status } of probeAnswers) observed.set(`${method} ${path} ${status}`, { method, path, status, url: path });

    // Every URL answered is a documented route (or an asset of a documented page).
    expect(unmapped).toEqual([]);
    // Every status answered on a route is documented for it.
    const undocumented = [...observed.values()]
      .filter(({ method, path, status }) => !(String(status) in (document.paths[path]?.[method.toLowerCase()]?.responses ?? {})))
      .map(({ method, path, status, url }) => `${method} ${path} → ${status} (e.g. ${url})`);
    expect(undocumented).toEqual([]);
    // Every documented operation was answered at least once: nothing documented that the API lacks.
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).filter((key) => HTTP_METHODS.has(key)).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const answeredOperations = new Set([...observed.values()].map(({ method, path }) => `${method} ${path}`));
    expect(operations.filter((operation) => !answeredOperations.has(operation))).toEqual([]);
  });
});

describe('logs', () => {
  const requestId = `ops-${randomBytes(6).toString('hex')}`;
  /** A token of its own (a unique claim), searched for in every output. */
  let token: string;
  let media: PublishedMedia;
  let response: ApiResponse;

  beforeAll(async () => {
    token = suite.stack.token(INSTANCE, { claims: { jti: randomBytes(8).toString('hex') } });
    media = publish(45_000, 'video');
    // Both references fail once: the first attempt fails (and is logged), the second one succeeds.
    suite.cdn.failTimes(media.directPathname, 1, 500);
    suite.cdn.failTimes(media.urlPathname, 1, 500);
    response = await suite.api.download(INSTANCE, downloadBody(media, { mimetype: 'video/mp4' }), {
      token,
      headers: { 'x-request-id': requestId },
    });
    expectBytes(response, media.sha256, media.fileLength);
    expect(suite.cdn.countMedia(media)).toBe(3);
  });

  it('echoes a client X-Request-Id and logs the request once, as one JSON line with that id', async () => {
    expect(response.header('x-request-id')).toBe(requestId);
    const line = await requestLine(suite.stack.api, requestId);
    expect(line).toMatchObject({
      req: { id: requestId, method: 'POST', url: `/api/v2/instance/${INSTANCE}/media/directly-download` },
      res: { statusCode: 200 },
      responseTime: expect.any(Number),
    });
    expect(suite.stack.api.logs.filter((l) => isRequestLine(l) && l.req.id === requestId)).toHaveLength(1);
  });

  it('gives every other request an id of its own, in the header and in its one log line', async () => {
    const answers = [
      await suite.api.call('GET', '/openapi.json', {}),
      await suite.api.download(INSTANCE, { contentType: 'nope', content: {} }),
      // Not a sane id (spaces, too long): replaced, not echoed into the logs.
      await suite.api.call('GET', '/docs', { headers: { 'x-request-id': `not sane ${'x'.repeat(80)}` } }),
    ];
    const ids = answers.map((answer) => answer.header('x-request-id')!);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(new Set(ids).size).toBe(ids.length);
    for (const [i, id] of ids.entries()) {
      expect((await requestLine(suite.stack.api, id)).res.statusCode).toBe(answers[i]!.status);
      expect(suite.stack.api.logs.filter((l) => isRequestLine(l) && l.req.id === id)).toHaveLength(1);
    }
  });

  it("carries the request id into the workers' lines about its job: the failed attempt and the stored media", () => {
    const lines = suite.stack.workers.flatMap((worker) => worker.logs.filter((line) => line.requestId === requestId));
    const failed = lines.find((line) => line.msg === 'attempt failed');
    const stored = lines.find((line) => line.msg === 'media stored');
    expect(failed, JSON.stringify(lines)).toMatchObject({ jobId: expect.stringMatching(/^dl-/), reason: expect.stringMatching(/HTTP 500/) });
    expect(stored, JSON.stringify(lines)).toMatchObject({ jobId: failed!.jobId, sha256: media.sha256, size: media.fileLength, attempt: 2 });
  });

  it('leaks no mediaKey, token or CDN signature into any output of any process', async () => {
    // The last lines of the request above are written after its answer.
    await requestLine(suite.stack.api, requestId);
    const secrets: [string, string][] = [];
    const mediaKeys = [...published.map((m) => Buffer.from(m.mediaKey, 'base64')), ...otherMediaKeys];
    for (const key of mediaKeys) {
      secrets.push(
        ['mediaKey (base64)', key.toString('base64').replace(/=+$/, '')],
        ['mediaKey (base64url)', key.toString('base64url')],
        ['mediaKey (hex)', key.toString('hex')],
        ['mediaKey (HEX)', key.toString('hex').toUpperCase()],
      );
    }
    for (const m of published) {
      for (const reference of [m.directPath, m.url]) {
        const query = new URL(reference, suite.cdn.origin).searchParams;
        // The fake CDN's references carry a signed query, as WhatsApp's do.
        expect(query.get('oh'), reference).toMatch(/^01_[\w-]{16,}$/);
        expect(query.get('oe'), reference).toMatch(/^[0-9A-F]{8}$/);
        secrets.push(['oh= signature', query.get('oh')!], ['oe= expiry', query.get('oe')!]);
      }
    }
    secrets.push(['bearer token', token], ['bearer token signature', token.split('.')[2]!], ['ADMIN_TOKEN', ADMIN_TOKEN]);
    // The links of the coverage scenario: presigned S3 URLs answered, and API links requested.
    expect(links.length).toBeGreaterThan(3);
    for (const link of links) {
      const query = new URL(link, 'http://any').searchParams;
      const signature = query.get('sig') ?? query.get('X-Amz-Signature');
      expect(signature, link).toMatch(/^[\w-]{40,}$/);
      secrets.push(['link signature', signature!]);
    }
    secrets.push(['SIGNED_URL_SECRET', SIGNED_URL_SECRET]);

    const outputs = [...suite.stack.processes, ...bare.stack.processes].map((service) => ({
      name: service.name,
      text: `${service.stdoutLines.join('\n')}\n${service.stderr}`,
    }));
    // The search runs over the real output: the request's id is in the API's and a worker's.
    expect(outputs.find((output) => output.name === suite.stack.api.name)!.text).toContain(requestId);
    expect(outputs.filter((output) => output.name.startsWith('worker') && output.text.includes(requestId))).not.toEqual([]);
    const leaks: string[] = [];
    for (const { name, text } of outputs) {
      for (const [what, secret] of secrets) if (text.includes(secret)) leaks.push(`${what} in the output of ${name}`);
      // No JWT at all, whoever it belongs to, and no raw Authorization value.
      if (/eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/.test(text)) leaks.push(`a JWT in the output of ${name}`);
      if (/Bearer\s+[\w.-]{8,}/i.test(text) || /Basic\s+[A-Za-z0-9+/]{8,}/.test(text)) leaks.push(`an Authorization value in ${name}`);
    }
    expect([...new Set(leaks)]).toEqual([]);
  });
});

describe('when the store goes away', () => {
  it('the API and every worker answer /readyz 503 naming the store, and /healthz 200', async () => {
    await suite.stack.s3rver().close();
    const down = await eventually(
      async () => {
        const response = await probe(suite.api, '/readyz');
        return response.status === 503 ? response : undefined;
      },
      { timeoutMs: 8_000, what: "the API's /readyz answering 503" },
    );
    expectError(down, 503, /^storage: unreachable$/);
    expect((await probe(suite.api, '/healthz')).status).toBe(200);
    for (const origin of suite.stack.workers.map(healthOrigin)) {
      const ready = await getJson(`${origin}/readyz`);
      expect(ready.status).toBe(503);
      expectErrorBody(ready.body, 503, /^storage: unreachable$/);
      expect((await getJson(`${origin}/healthz`)).status).toBe(200);
    }
  });
});

// ---- OpenAPI coverage helpers ----------------------------------------------------------------

interface OpenApiDocument {
  openapi: string;
  info: Record<string, unknown>;
  paths: Record<string, Record<string, { responses?: Record<string, unknown>; parameters?: any[] } | undefined>>;
  components: { schemas: Record<string, unknown> };
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

/**
 * Files a documented page loads, not API routes: Swagger UI's assets under /docs/assets/ and
 * Bull Board's own UI and JSON API under /admin/queues/ (behind the same admin check).
 */
function isPageAsset(url: string): boolean {
  return url.startsWith('/docs/assets/') || url.startsWith('/admin/queues/');
}

/** The document's path template that `pathname` is an instance of (`{param}` matches one segment). */
function templateOf(document: OpenApiDocument, pathname: string): string | undefined {
  return Object.keys(document.paths).find((template) => {
    const pattern = template.split(/\{[^}]+\}/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[^/]+');
    return new RegExp(`^${pattern}$`).test(pathname);
  });
}

/** Requests that must be answered with a given status, each with an X-Request-Id to find its log line. */
class Scenario {
  readonly sent: { requestId: string; status: number; service: ServiceProcess }[] = [];
  private readonly prefix = `cov-${randomBytes(4).toString('hex')}`;

  /** Sends a request with `send` (given the headers to add) and asserts its status; `service` is the API that logs it. */
  async expect(
    status: number,
    what: string,
    send: (headers: Record<string, string>) => Promise<ApiResponse>,
    service: ServiceProcess = suite.stack.api,
  ): Promise<ApiResponse> {
    const requestId = `${this.prefix}-${this.sent.length}`;
    const response = await send({ 'x-request-id': requestId });
    expect(response.status, `${what}: ${response.body.toString('utf8').slice(0, 300)}`).toBe(status);
    if (status >= 400) expect(response.json<ErrorBody>().statusCode, what).toBe(status);
    this.sent.push({ requestId, status, service });
    return response;
  }
}
