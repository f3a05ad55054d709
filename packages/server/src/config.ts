import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError, DEFAULT_LINK_TTL_SECONDS, MAX_LINK_TTL_SECONDS } from '@wamedia/shared';
import { deriveJobDataKey, parseJobDataKey } from './job-secrets.js';
import { deriveLinkKey } from './links/file-link-signature.js';

/**
 * Every setting wamedia reads, parsed once from the environment at start-up.
 * Nothing else in the code reads process.env.
 */

const MiB = 1024 * 1024;

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const wholeNumber = z.coerce.number({ error: 'must be a number' }).int('must be a whole number');
const port = wholeNumber.min(0, 'must be a port (0-65535)').max(65535, 'must be a port (0-65535)');
const positiveInt = wholeNumber.positive('must be more than 0');
/** A limit: a positive whole number, or 0 for none. */
const limit = wholeNumber.min(0, 'must be 0 (no limit) or more');

const hostList = z
  .string()
  .transform((v) => v.split(',').map((h) => h.trim()).filter(Boolean))
  .pipe(z.array(z.string()).min(1, 'must name at least one host'));

/** One `host:port` or `[ipv6]:port` of REDIS_CLUSTER_NODES. */
const CLUSTER_NODE = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/;

/** A node of a Redis Cluster the services first connect to (they learn the others from it). */
export interface RedisNode {
  host: string;
  port: number;
}

function parseClusterNode(entry: string): RedisNode | undefined {
  const match = CLUSTER_NODE.exec(entry);
  if (!match) return undefined;
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: match[1] ?? match[2]!, port };
}

const clusterNodeList = z
  .string()
  .transform((value, context) => {
    const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
    const bad = entries.filter((entry) => !parseClusterNode(entry));
    if (entries.length === 0 || bad.length > 0) {
      context.addIssue({
        code: 'custom',
        message:
          entries.length === 0
            ? 'must name at least one node as host:port'
            : `must be host:port entries separated by commas ([ipv6]:port for IPv6, port 1-65535); not ${bad.map((entry) => `"${entry}"`).join(', ')}`,
      });
      return z.NEVER;
    }
    return entries.map((entry) => parseClusterNode(entry)!);
  });

const envSchema = z
  .object({
    PORT: port.default(8083),
    HOST: z.string().min(1).default('0.0.0.0'),
    REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
    /** Nodes of a Redis Cluster (`host:port,host:port`, `[ipv6]:port`); when set, REDIS_URL is not used. */
    REDIS_CLUSTER_NODES: clusterNodeList.optional(),
    /** Password of the Redis Cluster's nodes (AUTH), when they require one. */
    REDIS_CLUSTER_PASSWORD: z.string().min(1).optional(),
    /** Data folder of the redis-server `pnpm start` runs when no Redis answers (scripts/start.ts). */
    REDIS_DATA_DIR: z.string().min(1).default('./data/redis'),
    /**
     * Prefix of every Redis key wamedia writes (BullMQ queues and its own keys); unset, `wamedia`
     * on one Redis and `{wamedia}` on a cluster (see {@link hashTagProblem}).
     */
    REDIS_PREFIX: z.string().regex(/^[\w.{}-]+$/, 'letters, digits, "_", ".", "-", "{" and "}" only').optional(),
    STORAGE: z.enum(['fs', 's3']).default('fs'),
    STORAGE_DIR: z.string().min(1).default('./data/media'),
    S3_ENDPOINT: z.url().optional(),
    S3_REGION: z.string().min(1).default('us-east-1'),
    S3_BUCKET: z.string().min(1).optional(),
    S3_ACCESS_KEY_ID: z.string().min(1).optional(),
    S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    S3_FORCE_PATH_STYLE: boolean.default(false),
    /** The S3 endpoint presigned links name, when clients reach S3 elsewhere than the services do. */
    S3_PUBLIC_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
    JWT_SECRET: z.string({ error: 'is required' }).min(16, 'must be at least 16 characters'),
    /** Leeway on a token's exp and nbf, in seconds: clocks of issuers and APIs drift apart. */
    JWT_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(600).default(30),
    /** When set, a token's `iss` must equal it. */
    JWT_ISSUER: z.string().min(1).optional(),
    /** When set, a token's `aud` must be (or contain) it. */
    JWT_AUDIENCE: z.string().min(1).optional(),
    /** When set, tokens must have an exp, at most this many seconds after their iat (and from now). */
    JWT_MAX_LIFETIME_SECONDS: positiveInt.optional(),
    /** Accept tokens without an exp (they never expire: only a revocation ends them). Off by default. */
    JWT_ALLOW_NO_EXP: boolean.default(false),
    MEDIA_CDN_BASE_URL: z.url({ protocol: /^https?$/ }).default('https://mmg.whatsapp.net'),
    MEDIA_ALLOWED_HOSTS: hostList.default(['mmg.whatsapp.net', '*.whatsapp.net', '*.cdn.whatsapp.net']),
    MAX_MEDIA_BYTES: positiveInt.default(2 * 1024 * MiB),
    WORKER_CONCURRENCY: positiveInt.max(256).default(8),
    /** Worker processes `pnpm start` runs; unset, one per core; 0 runs the API alone. */
    WORKER_PROCESSES: wholeNumber.min(0, 'must be 0 (the API alone) or more').max(64).optional(),
    /** API processes `pnpm start` runs, sharing one port; unset, one per core. */
    API_PROCESSES: positiveInt.max(64).optional(),
    /** Upper bound of the `timeout` query, in ms. */
    MAX_WAIT_MS: positiveInt.default(600_000),
    /** Connect timeout of one CDN request, in ms. */
    CDN_CONNECT_TIMEOUT_MS: positiveInt.default(10_000),
    /** Longest silence allowed while reading a CDN response (headers or body), in ms. */
    CDN_IDLE_TIMEOUT_MS: positiveInt.default(30_000),
    /** Longest one CDN download may take in all (requests, redirects, body), in ms. */
    CDN_TOTAL_TIMEOUT_MS: positiveInt.default(1_800_000),
    /** Attempts of one download job (the first one included) before it fails with 502. */
    JOB_ATTEMPTS: positiveInt.max(20).default(4),
    /** First retry delay of a failed download, in ms; doubles on each attempt. */
    JOB_BACKOFF_MS: positiveInt.default(1_000),
    /** How long finished jobs stay queryable through the job routes, in seconds. */
    JOB_RETENTION_SECONDS: positiveInt.default(24 * 3600),
    /** A failed job is reused for identical requests this long, then a new attempt starts, in ms. */
    FAILED_JOB_REUSE_MS: z.coerce.number().int().min(0).default(10_000),
    /**
     * How long a job whose media expired on the CDN waits for the phone's re-upload, in ms (only
     * jobs whose request named the message's key). At most a day: the caller's session asks at once.
     */
    REUPLOAD_WAIT_MS: positiveInt.max(86_400_000, 'must be at most 86400000 (a day)').default(600_000),
    /** Stall detection: a job whose worker stops renewing its lock for this long (ms) is given to another worker. */
    JOB_LOCK_MS: positiveInt.min(1_000).default(30_000),
    /**
     * How often a download job may stall (its worker died, its lock expired) and still be given to
     * another worker; one more stall and BullMQ fails it. Above BullMQ's 1: a rolling restart or a
     * crashing host may take a job's worker away more than once.
     */
    JOB_MAX_STALLS: positiveInt.max(100).default(5),
    /** How long in-flight work may go on after SIGTERM, in ms (API responses; worker jobs before hand-back). */
    SHUTDOWN_GRACE_MS: positiveInt.default(20_000),
    /** Port of a worker's /healthz, /readyz and /metrics; 0 picks a free one. */
    WORKER_HEALTH_PORT: port.default(8084),
    /** Token of the queue dashboard at /admin/queues; the dashboard is off when unset. */
    ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Most items one batch may hold. */
    BATCH_MAX_ITEMS: positiveInt.max(100_000).default(1_000),
    /** Secret of the webhook signatures; callback URLs are refused while it is unset. */
    WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Hosts a callback URL may name (same forms as MEDIA_ALLOWED_HOSTS); `*` = any public host. */
    WEBHOOK_ALLOWED_HOSTS: hostList.default(['*']),
    /** Attempts of one webhook delivery before it is given up. */
    WEBHOOK_ATTEMPTS: positiveInt.max(30).default(8),
    /** Timeout of one webhook POST, in ms. */
    WEBHOOK_TIMEOUT_MS: positiveInt.default(10_000),
    /** Jobs one instance may have created and not yet ended (single requests; batch items apart); 0 = no limit. */
    INSTANCE_MAX_JOBS_IN_FLIGHT: limit.default(100),
    /**
     * Requests one instance may make per minute on its routes; 0 = no limit. 100 a second: jobs in
     * flight already bound the expensive part, and `wamedia batch` fetches files 8 at a time.
     */
    INSTANCE_REQUESTS_PER_MINUTE: limit.default(6_000),
    /** Key sealing the mediaKey in Redis job data: 32 bytes, as 64 hex digits or base64; derived from JWT_SECRET when unset. */
    JOB_DATA_KEY: z
      .string()
      .refine((value) => parseJobDataKey(value) !== undefined, 'must be 32 bytes as 64 hex digits or base64')
      .optional(),
    /** Key of the links the API signs (folder storage); derived from JWT_SECRET when unset. */
    SIGNED_URL_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    /** Lifetime of a link, in seconds; a client may ask for less. At most S3's own ceiling (7 days). */
    SIGNED_URL_TTL_SECONDS: positiveInt
      .max(MAX_LINK_TTL_SECONDS, `must be at most ${MAX_LINK_TTL_SECONDS} (7 days, the longest S3 presigns)`)
      .default(DEFAULT_LINK_TTL_SECONDS),
    /**
     * Where clients reach the API (scheme, host, any path prefix): the origin of the links it signs.
     * Unset, a link names the host the request was sent to.
     */
    PUBLIC_BASE_URL: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .refine((url) => !/[?#]/.test(url), 'must have no query or fragment: links add their own')
      .optional(),
    /**
     * Largest media answered as base64 JSON. At most 256 MiB: its base64 (341 MiB of text) is still
     * a string a JavaScript client can hold and parse (V8 caps strings at about 512 MiB).
     */
    BASE64_MAX_BYTES: positiveInt.max(256 * MiB, `must be at most ${256 * MiB} (256 MiB)`).default(16 * MiB),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  });

/** Settings that depend on another one; checked apart so they are reported with every other problem. */
function dependentProblems(env: Record<string, string>): string[] {
  const storage =
    env.STORAGE === 's3'
      ? ['S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'].filter((key) => !env[key]).map((key) => `${key} is required when STORAGE=s3`)
      : [];
  const prefix = env.REDIS_CLUSTER_NODES && env.REDIS_PREFIX ? hashTagProblem(env.REDIS_PREFIX) : undefined;
  return prefix ? [...storage, prefix] : storage;
}

/** REDIS_PREFIX on a cluster unless set. */
export const CLUSTER_PREFIX = '{wamedia}';

/**
 * Why `prefix` cannot serve on a Redis Cluster, if it cannot. A cluster puts each key in a slot
 * by its hash tag (the text between its first "{" and the next "}", when not empty), and BullMQ's
 * scripts and wamedia's own touch several keys at once, which must all be in one slot: every key
 * starts with the prefix, so the prefix must carry the hash tag.
 */
export function hashTagProblem(prefix: string): string | undefined {
  const open = prefix.indexOf('{');
  const close = open < 0 ? -1 : prefix.indexOf('}', open + 1);
  if (close > open + 1) return undefined;
  return (
    `REDIS_PREFIX "${prefix}" has no hash tag, which a Redis Cluster (REDIS_CLUSTER_NODES) needs: ` +
    `put its name in braces (e.g. "{${prefix.replace(/[{}]/g, '') || 'wamedia'}}", the default on a cluster) so that every key wamedia and its queues write is in one slot`
  );
}

type Env = z.infer<typeof envSchema>;

/** Every variable wamedia reads (test harnesses clear them so no setting leaks in). */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as (keyof Env)[];

export interface S3Settings {
  endpoint: string | undefined;
  /** S3_PUBLIC_ENDPOINT: the endpoint presigned links name; `endpoint` when undefined. */
  publicEndpoint: string | undefined;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  forcePathStyle: boolean;
}

export type StorageSettings = { kind: 'fs'; dir: string } | ({ kind: 's3' } & S3Settings);

/** The validated configuration of one wamedia process. */
export interface Config {
  port: number;
  host: string;
  /** REDIS_URL: the one Redis, unless {@link redisCluster} is set. */
  redisUrl: string;
  /** REDIS_CLUSTER_NODES and REDIS_CLUSTER_PASSWORD: the Redis Cluster, when set (REDIS_URL is then unused). */
  redisCluster: { nodes: RedisNode[]; password: string | undefined } | undefined;
  /** REDIS_PREFIX, or its default: `wamedia` on one Redis, `{wamedia}` on a cluster. */
  redisPrefix: string;
  redisDataDir: string;
  storage: StorageSettings;
  jwtSecret: string;
  /** JWT_CLOCK_SKEW_SECONDS. */
  jwtClockSkewSeconds: number;
  /** JWT_ISSUER; iss is not checked when undefined. */
  jwtIssuer: string | undefined;
  /** JWT_AUDIENCE; aud is not checked when undefined. */
  jwtAudience: string | undefined;
  /** JWT_MAX_LIFETIME_SECONDS; no limit when undefined. */
  jwtMaxLifetimeSeconds: number | undefined;
  /** JWT_ALLOW_NO_EXP: tokens without an exp are accepted (when no maximum lifetime is set). */
  jwtAllowNoExp: boolean;
  cdnBaseUrl: string;
  allowedHosts: string[];
  maxMediaBytes: number;
  workerConcurrency: number;
  /** WORKER_PROCESSES, or the number of cores. */
  workerProcesses: number;
  /** API_PROCESSES, or the number of cores. */
  apiProcesses: number;
  maxWaitMs: number;
  cdnConnectTimeoutMs: number;
  cdnIdleTimeoutMs: number;
  /** CDN_TOTAL_TIMEOUT_MS. */
  cdnTotalTimeoutMs: number;
  jobAttempts: number;
  jobBackoffMs: number;
  jobRetentionSeconds: number;
  failedJobReuseMs: number;
  /** REUPLOAD_WAIT_MS. */
  reuploadWaitMs: number;
  jobLockMs: number;
  /** JOB_MAX_STALLS. */
  jobMaxStalls: number;
  shutdownGraceMs: number;
  workerHealthPort: number;
  adminToken: string | undefined;
  batchMaxItems: number;
  webhookSecret: string | undefined;
  webhookAllowedHosts: string[];
  webhookAttempts: number;
  webhookTimeoutMs: number;
  /** INSTANCE_MAX_JOBS_IN_FLIGHT; 0 = no limit. */
  instanceMaxJobsInFlight: number;
  /** INSTANCE_REQUESTS_PER_MINUTE; 0 = no limit. */
  instanceRequestsPerMinute: number;
  /** The AES-256-GCM key of the sealed mediaKey in job data: JOB_DATA_KEY, or derived from JWT_SECRET. */
  jobDataKey: Buffer;
  /** The HMAC key of the links the API signs: SIGNED_URL_SECRET, or derived from JWT_SECRET. */
  signedUrlKey: Buffer;
  /** SIGNED_URL_TTL_SECONDS: the lifetime of a link, and the longest a client may ask for. */
  signedUrlTtlSeconds: number;
  /** PUBLIC_BASE_URL without a trailing "/"; links name the request's host when undefined. */
  publicBaseUrl: string | undefined;
  /** BASE64_MAX_BYTES. */
  base64MaxBytes: number;
  logLevel: Env['LOG_LEVEL'];
}

/**
 * Parses and validates the environment.
 * @throws ConfigError naming every bad variable at once.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const given = withoutEmptyValues(env);
  const parsed = envSchema.safeParse(given);
  const problems = [
    ...(parsed.error?.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`) ?? []),
    ...dependentProblems(given),
  ];
  if (!parsed.success || problems.length > 0) throw new ConfigError(problems);
  const e = parsed.data;
  return {
    port: e.PORT,
    host: e.HOST,
    redisUrl: e.REDIS_URL,
    redisCluster: e.REDIS_CLUSTER_NODES ? { nodes: e.REDIS_CLUSTER_NODES, password: e.REDIS_CLUSTER_PASSWORD } : undefined,
    redisPrefix: e.REDIS_PREFIX ?? (e.REDIS_CLUSTER_NODES ? CLUSTER_PREFIX : 'wamedia'),
    redisDataDir: e.REDIS_DATA_DIR,
    storage:
      e.STORAGE === 's3'
        ? {
            kind: 's3',
            endpoint: e.S3_ENDPOINT,
            publicEndpoint: e.S3_PUBLIC_ENDPOINT,
            region: e.S3_REGION,
            bucket: e.S3_BUCKET!,
            accessKeyId: e.S3_ACCESS_KEY_ID!,
            secretAccessKey: e.S3_SECRET_ACCESS_KEY!,
            forcePathStyle: e.S3_FORCE_PATH_STYLE,
          }
        : { kind: 'fs', dir: e.STORAGE_DIR },
    jwtSecret: e.JWT_SECRET,
    jwtClockSkewSeconds: e.JWT_CLOCK_SKEW_SECONDS,
    jwtIssuer: e.JWT_ISSUER,
    jwtAudience: e.JWT_AUDIENCE,
    jwtMaxLifetimeSeconds: e.JWT_MAX_LIFETIME_SECONDS,
    jwtAllowNoExp: e.JWT_ALLOW_NO_EXP,
    cdnBaseUrl: e.MEDIA_CDN_BASE_URL,
    allowedHosts: e.MEDIA_ALLOWED_HOSTS,
    maxMediaBytes: e.MAX_MEDIA_BYTES,
    workerConcurrency: e.WORKER_CONCURRENCY,
    workerProcesses: e.WORKER_PROCESSES ?? availableParallelism(),
    apiProcesses: e.API_PROCESSES ?? availableParallelism(),
    maxWaitMs: e.MAX_WAIT_MS,
    cdnConnectTimeoutMs: e.CDN_CONNECT_TIMEOUT_MS,
    cdnIdleTimeoutMs: e.CDN_IDLE_TIMEOUT_MS,
    cdnTotalTimeoutMs: e.CDN_TOTAL_TIMEOUT_MS,
    jobAttempts: e.JOB_ATTEMPTS,
    jobBackoffMs: e.JOB_BACKOFF_MS,
    jobRetentionSeconds: e.JOB_RETENTION_SECONDS,
    failedJobReuseMs: e.FAILED_JOB_REUSE_MS,
    reuploadWaitMs: e.REUPLOAD_WAIT_MS,
    jobLockMs: e.JOB_LOCK_MS,
    jobMaxStalls: e.JOB_MAX_STALLS,
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    workerHealthPort: e.WORKER_HEALTH_PORT,
    adminToken: e.ADMIN_TOKEN,
    batchMaxItems: e.BATCH_MAX_ITEMS,
    webhookSecret: e.WEBHOOK_SECRET,
    webhookAllowedHosts: e.WEBHOOK_ALLOWED_HOSTS,
    webhookAttempts: e.WEBHOOK_ATTEMPTS,
    webhookTimeoutMs: e.WEBHOOK_TIMEOUT_MS,
    instanceMaxJobsInFlight: e.INSTANCE_MAX_JOBS_IN_FLIGHT,
    instanceRequestsPerMinute: e.INSTANCE_REQUESTS_PER_MINUTE,
    jobDataKey: e.JOB_DATA_KEY ? parseJobDataKey(e.JOB_DATA_KEY)! : deriveJobDataKey(e.JWT_SECRET),
    signedUrlKey: e.SIGNED_URL_SECRET ? Buffer.from(e.SIGNED_URL_SECRET, 'utf8') : deriveLinkKey(e.JWT_SECRET),
    signedUrlTtlSeconds: e.SIGNED_URL_TTL_SECONDS,
    publicBaseUrl: e.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    base64MaxBytes: e.BASE64_MAX_BYTES,
    logLevel: e.LOG_LEVEL,
  };
}

/** `FOO=` in a compose file means "unset", not "the empty string". */
function withoutEmptyValues(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter((entry): entry is [string, string] => !!entry[1]));
}
