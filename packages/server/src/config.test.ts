import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

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
