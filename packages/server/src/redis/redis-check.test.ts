import { describe, expect, it } from 'vitest';
import { isRedisUnavailable } from './redis-check.js';

describe('isRedisUnavailable', () => {
  it.each([
    'Stream isn\'t writeable and enableOfflineQueue options is false',
    'Connection is closed.',
    'LOADING Redis is loading the dataset in memory',
    'CLUSTERDOWN The cluster is down',
    'CLUSTERDOWN Hash slot not served',
    "Cluster isn't ready and enableOfflineQueue options is false",
    'None of startup nodes is available',
    'Failed to refresh slots cache.',
    'Too many Cluster redirections. Last error: Error: Connection is closed.',
  ])('takes "%s" for Redis (or the cluster) being away: a 503', (message) => {
    expect(isRedisUnavailable(new Error(message))).toBe(true);
  });

  it('takes ioredis\'s gave-up errors by name, on one Redis and on a cluster', () => {
    expect(isRedisUnavailable(Object.assign(new Error('x'), { name: 'MaxRetriesPerRequestError' }))).toBe(true);
    expect(isRedisUnavailable(Object.assign(new Error('x'), { name: 'ClusterAllFailedError' }))).toBe(true);
  });

  it('takes a MULTI discarded because a down cluster refused its commands for an outage, and only that', () => {
    const discarded = (...previous: string[]) =>
      Object.assign(new Error('EXECABORT Transaction discarded because of previous errors.'), { previousErrors: previous.map((m) => new Error(m)) });
    expect(isRedisUnavailable(discarded('CLUSTERDOWN The cluster is down', 'CLUSTERDOWN The cluster is down'))).toBe(true);
    expect(isRedisUnavailable(discarded("ERR wrong number of arguments for 'sadd' command"))).toBe(false);
    expect(isRedisUnavailable(new Error('EXECABORT Transaction discarded because of previous errors.'))).toBe(false);
  });

  it.each([
    'CROSSSLOT Keys in request don\'t hash to the same slot',
    'ERR Error running script',
    'WRONGTYPE Operation against a key holding the wrong kind of value',
  ])('leaves "%s" what it is: a bug, not an outage', (message) => {
    expect(isRedisUnavailable(new Error(message))).toBe(false);
  });
});
