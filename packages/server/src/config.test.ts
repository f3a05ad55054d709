import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { deriveLinkKey } from './links/file-link-signature.js';

describe('instance limits in the configuration', () => {
  const base = { JWT_SECRET: 'a-jwt-secret-of-some-length' };

  it('default to 100 jobs in flight and 6000 requests per minute; 0 turns a limit off', () => {
    expect(loadConfig(base)).toMatchObject({ instanceMaxJobsInFlight: 100, instanceRequestsPerMinute: 6000 });
    expect(loadConfig({ ...base, INSTANCE_MAX_JOBS_IN_FLIGHT: '0', INSTANCE_REQUESTS_PER_MINUTE: '0' })).toMatchObject({
      instanceMaxJobsInFlight: 0,
      instanceRequestsPerMinute: 0,
    });
  });

  it('refuse negative or fractional values, naming each', () => {
    expect(() => loadConfig({ ...base, INSTANCE_MAX_JOBS_IN_FLIGHT: '-1', INSTANCE_REQUESTS_PER_MINUTE: '1.5' })).toThrow(
      /INSTANCE_MAX_JOBS_IN_FLIGHT.*INSTANCE_REQUESTS_PER_MINUTE/,
    );
  });
});

describe('loadConfig', () => {
  it('gives the defaults of the design when only JWT_SECRET is set', () => {
    expect(loadConfig({ JWT_SECRET: 'a-jwt-secret-of-some-length' })).toMatchObject({
      port: 8083,
      host: '0.0.0.0',
      redisUrl: 'redis://127.0.0.1:6379',
      storage: { kind: 'fs', dir: './data/media' },
      cdnBaseUrl: 'https://mmg.whatsapp.net',
      allowedHosts: ['mmg.whatsapp.net', '*.whatsapp.net', '*.cdn.whatsapp.net'],
      maxMediaBytes: 2_147_483_648,
      logLevel: 'info',
    });
  });

  it('names every bad variable in one error, dependent ones included', () => {
    let problems: string[] = [];
    try {
      loadConfig({ PORT: 'abc', STORAGE: 's3', JOB_ATTEMPTS: '-1', REDIS_URL: 'http://nope' });
    } catch (error) {
      problems = (error as { problems: string[] }).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^PORT /),
        expect.stringMatching(/^JOB_ATTEMPTS /),
        expect.stringMatching(/^REDIS_URL /),
        expect.stringMatching(/^JWT_SECRET /),
        'S3_BUCKET is required when STORAGE=s3',
        'S3_ACCESS_KEY_ID is required when STORAGE=s3',
        'S3_SECRET_ACCESS_KEY is required when STORAGE=s3',
      ]),
    );
  });

  it('treats an empty value as unset, as compose files write them', () => {
    expect(loadConfig({ JWT_SECRET: 'a-jwt-secret-of-some-length', ADMIN_TOKEN: '', PORT: '' })).toMatchObject({
      port: 8083,
      adminToken: undefined,
    });
  });
});

describe('links and base64 in the configuration', () => {
  const base = { JWT_SECRET: 'a-jwt-secret-of-some-length' };

  it('default to links of an hour, signed with a key derived from JWT_SECRET, and base64 up to 16 MiB', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({ signedUrlTtlSeconds: 3600, publicBaseUrl: undefined, base64MaxBytes: 16 * 1024 * 1024 });
    expect(config.signedUrlKey).toEqual(deriveLinkKey(base.JWT_SECRET));
    // Not the job data key: one key per purpose.
    expect(config.signedUrlKey).not.toEqual(config.jobDataKey);
  });

  it('take SIGNED_URL_SECRET as the key, PUBLIC_BASE_URL without its trailing slash, S3_PUBLIC_ENDPOINT for presigning', () => {
    const config = loadConfig({
      ...base,
      SIGNED_URL_SECRET: 'links-secret-of-16-chars',
      PUBLIC_BASE_URL: 'https://media.example.com/wamedia/',
      STORAGE: 's3',
      S3_BUCKET: 'b',
      S3_ACCESS_KEY_ID: 'k',
      S3_SECRET_ACCESS_KEY: 's',
      S3_ENDPOINT: 'http://minio:9000',
      S3_PUBLIC_ENDPOINT: 'https://s3.example.com',
    });
    expect(config.signedUrlKey).toEqual(Buffer.from('links-secret-of-16-chars'));
    expect(config.publicBaseUrl).toBe('https://media.example.com/wamedia');
    expect(config.storage).toMatchObject({ endpoint: 'http://minio:9000', publicEndpoint: 'https://s3.example.com' });
  });

  it('refuse a short secret, a lifetime beyond S3\'s 7 days, a base URL that is not http(s) and base64 beyond 256 MiB, naming each', () => {
    let problems: string[] = [];
    try {
      loadConfig({
        ...base,
        SIGNED_URL_SECRET: 'short',
        SIGNED_URL_TTL_SECONDS: '604801',
        PUBLIC_BASE_URL: 'ftp://x',
        BASE64_MAX_BYTES: String(256 * 1024 * 1024 + 1),
      });
    } catch (error) {
      problems = (error as { problems: string[] }).problems;
    }
    expect(problems).toEqual([
      expect.stringMatching(/^SIGNED_URL_SECRET must be at least 16/),
      expect.stringMatching(/^SIGNED_URL_TTL_SECONDS must be at most 604800/),
      expect.stringMatching(/^PUBLIC_BASE_URL must be an http\(s\) URL/),
      expect.stringMatching(/^BASE64_MAX_BYTES must be at most/),
    ]);
    expect(loadConfig({ ...base, SIGNED_URL_TTL_SECONDS: '604800' }).signedUrlTtlSeconds).toBe(604_800);
    expect(() => loadConfig({ ...base, PUBLIC_BASE_URL: 'https://media.example.com/?x=1' })).toThrow(/PUBLIC_BASE_URL must have no query/);
  });
});

describe('Redis Cluster in the configuration', () => {
  const base = { JWT_SECRET: 'a-jwt-secret-of-some-length' };
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadConfig({ ...base, ...env });
    } catch (error) {
      return (error as { problems: string[] }).problems;
    }
    return [];
  };

  it('keeps one Redis and the prefix "wamedia" when REDIS_CLUSTER_NODES is unset: nothing changes for existing deployments', () => {
    expect(loadConfig(base)).toMatchObject({ redisUrl: 'redis://127.0.0.1:6379', redisCluster: undefined, redisPrefix: 'wamedia' });
  });

  it('reads host:port and [ipv6]:port nodes and the password, with the prefix "{wamedia}" by default', () => {
    const config = loadConfig({
      ...base,
      REDIS_CLUSTER_NODES: 'redis-0.redis:6379, 10.0.0.7:7001,[fd00::1]:7002',
      REDIS_CLUSTER_PASSWORD: 'cluster-pass',
    });
    expect(config.redisCluster).toEqual({
      nodes: [
        { host: 'redis-0.redis', port: 6379 },
        { host: '10.0.0.7', port: 7001 },
        { host: 'fd00::1', port: 7002 },
      ],
      password: 'cluster-pass',
    });
    expect(config.redisPrefix).toBe('{wamedia}');
  });

  it('refuses nodes that are not host:port, naming each', () => {
    const [problem, ...others] = problemsOf({ REDIS_CLUSTER_NODES: 'redis-0:6379,redis-1,fd00::1:7000,redis-2:70000' });
    expect(others).toEqual([]);
    expect(problem).toMatch(/^REDIS_CLUSTER_NODES must be host:port entries/);
    expect(problem).toContain('"redis-1", "fd00::1:7000", "redis-2:70000"');
    expect(problem).not.toContain('"redis-0:6379"');
    expect(problemsOf({ REDIS_CLUSTER_NODES: ' , ' })).toEqual([expect.stringMatching(/^REDIS_CLUSTER_NODES must name at least one node/)]);
  });

  it('refuses a prefix without a hash tag on a cluster, saying why, and takes one with a tag', () => {
    for (const prefix of ['wamedia', 'wa{}media', 'wamedia}{x']) {
      expect(problemsOf({ REDIS_CLUSTER_NODES: 'redis-0:6379', REDIS_PREFIX: prefix })).toEqual([
        expect.stringMatching(new RegExp(`^REDIS_PREFIX "${prefix.replace(/[{}]/g, '\\$&')}" has no hash tag.*one slot`)),
      ]);
    }
    expect(loadConfig({ ...base, REDIS_CLUSTER_NODES: 'redis-0:6379', REDIS_PREFIX: 'prod-{wamedia-eu}' }).redisPrefix).toBe('prod-{wamedia-eu}');
    // On one Redis, any prefix goes, with or without braces.
    expect(loadConfig({ ...base, REDIS_PREFIX: '{wamedia}' }).redisPrefix).toBe('{wamedia}');
  });
});
