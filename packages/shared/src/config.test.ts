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
