import { STATUS_CODES } from 'node:http';
import { z } from 'zod';
import {
  batchCountsSchema,
  batchItemSchema,
  batchItemSchemaOut,
  batchItemStatusSchema,
  batchRequestSchema,
  batchStatusSchema,
  downloadRequestSchema,
  messageBatchItemSchema,
  messageDownloadRequestSchema,
  webhookEventSchema,
  errorBodySchema,
  jobAcceptedSchema,
  jobStateSchema,
  jobStatusSchema,
  mediaRetryNotificationSchema,
  mediaRetryReceiptSchema,
  messageKeySchema,
  reuploadAcceptedSchema,
  reuploadAnswerSchema,
  reuploadRequestedSchema,
  mediaBase64Schema,
  mediaLinkSchema,
  responseModes,
  timeoutQuerySchema,
} from '@wamedia/shared';

/**
 * The OpenAPI 3.1 document. Every schema in it is generated from the zod schemas the API
 * validates with and answers by (OpenAPI 3.1 speaks JSON Schema 2020-12, zod's own output);
 * only the list of operations and their statuses is declared here.
 */

type Responses = Record<string, object>;

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });
const json = (id: string) => ({ 'application/json': { schema: ref(id) } });
/** A media reference, or a WhatsApp message holding one: the two forms of the download body. */
const downloadBody = { 'application/json': { schema: { anyOf: [ref('DownloadRequest'), ref('MessageDownloadRequest')] } } };
const error = (status: number, description?: string) => ({
  [status]: { description: description ?? STATUS_CODES[status], content: json('ErrorBody') },
});
const errors = (...statuses: number[]) => Object.assign({}, ...statuses.map((status) => error(status))) as Responses;

const mediaHeaders = {
  ETag: { description: 'The SHA-256 of the file, quoted', schema: { type: 'string' } },
  'Content-Length': { schema: { type: 'integer' } },
  'Accept-Ranges': { schema: { type: 'string', const: 'bytes' } },
  'Content-Disposition': { description: 'attachment, with a filename and extension', schema: { type: 'string' } },
};

const fileBody = { '*/*': { schema: { type: 'string', contentMediaType: 'application/octet-stream' } } };

/** 200/206/304/416: the file, as a signed link's route streams it. */
const fileResponses: Responses = {
  200: {
    description: 'The verified file, with the Content-Type and file name the link was signed with',
    headers: mediaHeaders,
    content: fileBody,
  },
  206: { description: 'The requested byte range (Range: bytes=...)', headers: mediaHeaders },
  304: { description: 'If-None-Match holds the ETag: the client has the file' },
  ...error(416, 'The Range selects no byte of the file'),
};

/** The routes that answer a media as the `response` query asks: the file, its link, or base64 JSON. */
const mediaResponses: Responses = {
  ...fileResponses,
  200: {
    description:
      'response=file (the default): the verified file; Content-Type is the request mimetype or the default of the contentType. ' +
      'response=url: a link to it that expires (MediaLink). response=base64: the file as base64 inside JSON (MediaBase64)',
    headers: mediaHeaders,
    content: {
      ...fileBody,
      'application/json': {
        schema: { oneOf: [{ $ref: '#/components/schemas/MediaLink' }, { $ref: '#/components/schemas/MediaBase64' }] },
      },
    },
  },
};

/** 413 also answers response=base64 for a media over BASE64_MAX_BYTES. */
const jobFailures = errors(404, 413, 422, 500, 502, 503);
const auth = errors(401, 403);
/** Every instance route counts against INSTANCE_REQUESTS_PER_MINUTE; those that add jobs also against INSTANCE_MAX_JOBS_IN_FLIGHT. */
const limited = (what: string) => ({
  429: {
    description: `Past a limit of the instance: ${what}. Retry-After says how many seconds to wait`,
    headers: { 'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } } },
    content: json('ErrorBody'),
  },
});
const requestLimit = limited('INSTANCE_REQUESTS_PER_MINUTE');
const jobLimits = limited('INSTANCE_REQUESTS_PER_MINUTE, or INSTANCE_MAX_JOBS_IN_FLIGHT when the request needs a new job');

const instanceId = { name: 'instanceId', in: 'path', required: true, schema: { type: 'string' } };
const jobId = { name: 'jobId', in: 'path', required: true, schema: { type: 'string' } };
const batchId = { name: 'batchId', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } };
const rangeHeaders = [
  { name: 'Range', in: 'header', required: false, schema: { type: 'string', examples: ['bytes=0-1023'] } },
  { name: 'If-None-Match', in: 'header', required: false, schema: { type: 'string' } },
];

/** The answer of the revoke-tokens route. */
const tokensRevokedSchema = {
  type: 'object',
  properties: {
    instanceId: { type: 'string' },
    tokenVersion: { type: 'integer', minimum: 1, description: 'The new token version of the instance' },
  },
  required: ['instanceId', 'tokenVersion'],
  additionalProperties: false,
};

/** The answer of the webhook-secret route. */
const webhookSecretSchema = {
  type: 'object',
  properties: {
    secret: { type: 'string', pattern: '^[0-9a-f]{64}$', description: "The key of this instance's webhook signatures (verifyWebhook)" },
  },
  required: ['secret'],
  additionalProperties: false,
};

/** The `response` and `ttl` queries of the routes that answer a media. */
function deliveryParameters(maxLinkTtlSeconds: number, base64MaxBytes: number) {
  return [
    {
      name: 'response',
      in: 'query',
      required: false,
      description:
        'file: the bytes (Range and If-None-Match apply); url: 200 JSON with a link to the file that needs no token and expires ' +
        `(a presigned S3 URL, or one the API signs); base64: 200 JSON with the file as base64, for media up to ${base64MaxBytes} bytes ` +
        '(BASE64_MAX_BYTES; larger is 413)',
      schema: { type: 'string', enum: [...responseModes], default: 'file' },
    },
    {
      name: 'ttl',
      in: 'query',
      required: false,
      description: `With response=url: how long the link holds, in seconds (default and maximum SIGNED_URL_TTL_SECONDS)`,
      schema: { type: 'integer', minimum: 1, maximum: maxLinkTtlSeconds },
    },
  ];
}

function operations(options: { maxWaitMs: number; maxLinkTtlSeconds: number; base64MaxBytes: number }) {
  const timeout = z.toJSONSchema(timeoutQuerySchema(options.maxWaitMs), { io: 'input', target: 'draft-2020-12' });
  const delivery = deliveryParameters(options.maxLinkTtlSeconds, options.base64MaxBytes);
  return {
    '/api/v2/instance/{instanceId}/media/directly-download': {
      post: {
        summary: 'Download, decrypt and verify a WhatsApp media; wait for it up to `timeout`',
        security: [{ bearer: [] }],
        parameters: [instanceId, { name: 'timeout', in: 'query', required: false, schema: timeout }, ...delivery, ...rangeHeaders],
        requestBody: { required: true, content: downloadBody },
        responses: {
          ...mediaResponses,
          202: {
            description: 'The timeout ran out first; follow the job (its contentUrl asks for the same response mode)',
            content: json('JobAccepted'),
          },
          ...error(
            400,
            'Invalid input or query (one message per problem; for a message, named where it is in the message: no media, ' +
              'wrappers nested too deep, a bad field), or a url outside MEDIA_ALLOWED_HOSTS',
          ),
          ...auth,
          ...jobFailures,
          ...jobLimits,
        },
      },
    },
    '/api/v2/instance/{instanceId}/media/jobs/{jobId}': {
      get: {
        summary: "The status of one of this instance's jobs",
        security: [{ bearer: [] }],
        parameters: [instanceId, jobId],
        responses: { 200: { description: 'The job', content: json('JobStatus') }, ...auth, ...errors(404, 500, 503), ...requestLimit },
      },
    },
    '/api/v2/instance/{instanceId}/media/jobs/{jobId}/content': {
      get: {
        summary: "The file of one of this instance's jobs (or its link, or base64)",
        security: [{ bearer: [] }],
        parameters: [instanceId, jobId, ...delivery, ...rangeHeaders],
        responses: {
          ...mediaResponses,
          202: { description: 'The job has not finished yet', content: json('JobAccepted') },
          ...error(400, 'An invalid response or ttl query'),
          ...auth,
          ...jobFailures,
          ...requestLimit,
        },
      },
    },
    '/api/v2/instance/{instanceId}/webhook-secret': {
      get: {
        summary: "The secret this instance's webhooks are signed with, derived from WEBHOOK_SECRET (404 while that is unset)",
        security: [{ bearer: [] }],
        parameters: [instanceId],
        responses: {
          200: { description: 'The secret', content: { 'application/json': { schema: webhookSecretSchema } } },
          ...auth,
          ...errors(404),
          ...requestLimit,
        },
      },
    },
    '/api/v2/instance/{instanceId}/media/jobs/{jobId}/reupload': {
      post: {
        summary:
          "The phone's answer to a job's re-upload request: the new directPath, or the encrypted MediaRetryNotification " +
          "of Baileys' messages.media-update event; the job goes on from it",
        security: [{ bearer: [] }],
        parameters: [instanceId, jobId],
        requestBody: { required: true, content: json('ReuploadAnswer') },
        responses: {
          202: { description: 'Taken: the job goes on (a waiting client gets the file, or the failure the phone answered)', content: json('ReuploadAccepted') },
          ...error(400, 'The body is not exactly one of directPath and notification, or a field has the wrong shape or size'),
          ...auth,
          ...error(404, "No such job for this instance (never made, expired, or another instance's)"),
          ...error(409, 'The job is not awaiting a re-upload (it never was, was answered already, or ended)'),
          ...error(422, "The notification does not decrypt with the job's mediaKey and message id; the job goes on waiting"),
          ...errors(500, 503),
          ...requestLimit,
        },
      },
    },
    '/api/v2/instance/{instanceId}/media/batch': {
      post: {
        summary: 'Hand over many media references at once; each item is validated and followed on its own',
        security: [{ bearer: [] }],
        parameters: [instanceId],
        requestBody: { required: true, content: json('BatchRequest') },
        responses: {
          202: { description: 'Accepted: every item with its status (invalid ones with their 400 messages)', content: json('BatchStatus') },
          ...error(400, 'The envelope is invalid (not an object, no items, too many), or the callbackUrl is refused'),
          ...auth,
          ...errors(500, 503),
          ...limited('INSTANCE_REQUESTS_PER_MINUTE, or INSTANCE_MAX_JOBS_IN_FLIGHT for batch jobs when the batch needs new jobs'),
        },
      },
    },
    '/api/v2/instance/{instanceId}/media/batch/{batchId}': {
      get: {
        summary: 'Counts by state and one page of items',
        security: [{ bearer: [] }],
        parameters: [
          instanceId,
          batchId,
          { name: 'offset', in: 'query', required: false, schema: { type: 'integer', minimum: 0, default: 0 } },
          { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          {
            name: 'links',
            in: 'query',
            required: false,
            description: 'links=1: each completed item carries its link (MediaLink)',
            schema: { type: 'string', enum: ['1', '0', 'true', 'false'] },
          },
          {
            name: 'ttl',
            in: 'query',
            required: false,
            description: 'With links=1: how long the links hold, in seconds (default and maximum SIGNED_URL_TTL_SECONDS)',
            schema: { type: 'integer', minimum: 1, maximum: options.maxLinkTtlSeconds },
          },
        ],
        responses: {
          200: { description: 'The batch', content: json('BatchStatus') },
          ...error(400, 'A bad offset, limit, links or ttl query'),
          ...auth,
          ...errors(404, 500, 503),
          ...requestLimit,
        },
      },
    },
    '/api/v2/instance/{instanceId}/media/batch/{batchId}/items/{itemId}/content': {
      get: {
        summary: "The file of one batch item (by the client's own id), or its link, or base64",
        security: [{ bearer: [] }],
        parameters: [
          instanceId,
          batchId,
          { name: 'itemId', in: 'path', required: true, schema: { type: 'string' } },
          ...delivery,
          ...rangeHeaders,
        ],
        responses: {
          ...mediaResponses,
          202: { description: 'The item is still pending', content: json('JobAccepted') },
          ...error(400, 'The item was invalid, or an invalid response or ttl query'),
          ...auth,
          ...jobFailures,
          ...requestLimit,
        },
      },
    },
    '/media/files/{sha256}': {
      get: {
        summary:
          'The file of a link the API signed (response=url with folder storage); no token: the signature is the authority',
        parameters: [
          { name: 'sha256', in: 'path', required: true, schema: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
          { name: 'exp', in: 'query', required: true, description: 'Expiry, unix seconds', schema: { type: 'integer' } },
          { name: 'name', in: 'query', required: true, description: 'The file name it is served under', schema: { type: 'string' } },
          { name: 'type', in: 'query', required: true, description: 'The Content-Type it is served with', schema: { type: 'string' } },
          {
            name: 'sig',
            in: 'query',
            required: true,
            description: 'base64url HMAC-SHA256 (SIGNED_URL_SECRET) over the sha256, exp, name and type',
            schema: { type: 'string' },
          },
          ...rangeHeaders,
        ],
        responses: {
          ...fileResponses,
          ...error(403, 'The link is missing a parameter, malformed, tampered with or expired; nothing is said about the file'),
          ...error(404, 'The store no longer holds the file'),
          ...errors(500, 503),
        },
      },
    },
    '/healthz': { get: { summary: 'Liveness', responses: { 200: { description: 'The process is up' } } } },
    '/readyz': {
      get: {
        summary: 'Readiness: Redis and the store answer',
        responses: { 200: { description: 'Ready' }, ...error(503, 'Redis or the store does not answer') },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        responses: { 200: { description: 'Exposition text', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1' } } } },
    '/docs': { get: { summary: 'Interactive API documentation', responses: { 200: { description: 'HTML' } } } },
    '/admin/queues': {
      get: {
        summary: 'Queue dashboard (Bull Board); only when ADMIN_TOKEN is set',
        security: [{ admin: [] }],
        responses: {
          200: { description: 'HTML' },
          ...error(401, 'ADMIN_TOKEN missing or wrong'),
          ...error(404, 'No dashboard: ADMIN_TOKEN is not set'),
        },
      },
    },
    '/admin/instances/{instanceId}/revoke-tokens': {
      post: {
        summary:
          "Revoke every token of an instance made so far: bumps its token version (tokens carry it as `ver`); only when ADMIN_TOKEN is set",
        security: [{ admin: [] }],
        parameters: [instanceId],
        responses: {
          200: {
            description: 'Revoked: tokens with a lower `ver` are refused from now on; new ones must carry `tokenVersion`',
            content: { 'application/json': { schema: tokensRevokedSchema } },
          },
          ...error(401, 'ADMIN_TOKEN missing or wrong'),
          ...error(404, 'No admin routes: ADMIN_TOKEN is not set'),
          ...errors(500, 503),
        },
      },
    },
  };
}


/** The document served at /openapi.json. */
export function buildOpenApiDocument(options: {
  maxWaitMs: number;
  maxBatchItems: number;
  /** SIGNED_URL_TTL_SECONDS: the most a `ttl` query may ask for. */
  maxLinkTtlSeconds: number;
  /** BASE64_MAX_BYTES. */
  base64MaxBytes: number;
  version: string;
}) {
  const registry = z.registry<{ id: string }>();
  const components = [
    downloadRequestSchema,
    messageDownloadRequestSchema,
    errorBodySchema,
    jobAcceptedSchema,
    jobStatusSchema,
    batchRequestSchema(options.maxBatchItems),
    batchItemSchema,
    messageBatchItemSchema,
    batchStatusSchema,
    batchItemSchemaOut,
    batchItemStatusSchema,
    batchCountsSchema,
    jobStateSchema,
    webhookEventSchema,
    messageKeySchema,
    mediaRetryReceiptSchema,
    reuploadRequestedSchema,
    reuploadAnswerSchema,
    mediaRetryNotificationSchema,
    reuploadAcceptedSchema,
    mediaLinkSchema,
    mediaBase64Schema,
  ];
  for (const schema of components) {
    registry.add(schema, { id: z.globalRegistry.get(schema)!.id! });
  }
  const { schemas } = z.toJSONSchema(registry, {
    io: 'input',
    target: 'draft-2020-12',
    uri: (id) => `#/components/schemas/${id}`,
  });
  return {
    openapi: '3.1.0',
    info: {
      title: 'wamedia',
      version: options.version,
      description:
        'Downloads WhatsApp media from its CDN, decrypts and verifies it, and serves it: as the file, as a link ' +
        'that expires, or as base64 JSON (the response query). ' +
        'Errors are {message: string[], error, statusCode}.',
    },
    paths: operations(options),
    components: {
      schemas: stripSchemaKeywords(schemas),
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT (HS256, claims instanceId and ver; exp, nbf, iss, aud as configured)',
        },
        admin: { type: 'http', scheme: 'basic', description: 'Password: ADMIN_TOKEN (a bearer token works too)' },
      },
    },
  };
}

/** Components may not carry their own $schema/$id; OpenAPI sets the dialect once. */
function stripSchemaKeywords(schemas: Record<string, object>): Record<string, object> {
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema as Record<string, unknown>;
      return [id, rest];
    }),
  );
}
