/**
 * The switch between the container path and the local one (WAMEDIA_TEST_CONTAINERS), without a
 * Docker engine: the container path itself runs in `pnpm test:containers`.
 */
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TestProject } from 'vitest/node';
import { DEFAULT_REDIS_IMAGE, DEFAULT_S3_IMAGE, containerMode } from '../support/containers.js';
import setup from '../support/global-containers.js';

describe('WAMEDIA_TEST_CONTAINERS', () => {
  it.each([
    [undefined, 'auto'],
    ['auto', 'auto'],
    ['1', 'required'],
    ['0', 'never'],
  ] as const)('%j means %s', (value, mode) => {
    expect(containerMode(value === undefined ? {} : { WAMEDIA_TEST_CONTAINERS: value })).toBe(mode);
  });

  it.each(['yes', 'true', ''])('refuses %j, naming the variable and its values', (value) => {
    expect(() => containerMode({ WAMEDIA_TEST_CONTAINERS: value })).toThrow(/WAMEDIA_TEST_CONTAINERS must be auto, 1 or 0/);
  });
});

describe('the global set-up with WAMEDIA_TEST_CONTAINERS=0', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('hands the suites no containers, starts none, and says once that the run is local', async () => {
    vi.stubEnv('WAMEDIA_TEST_CONTAINERS', '0');
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    const provided: [string, unknown][] = [];
    const project = { provide: (key: string, value: unknown) => provided.push([key, value]) } as unknown as TestProject;

    const teardown = await setup(project);

    expect(teardown).toBeUndefined();
    expect(provided).toEqual([['testContainers', null]]);
    expect(written).toEqual(['test infrastructure: local redis-server and in-process s3rver (WAMEDIA_TEST_CONTAINERS=0)\n']);
  });
});

describe('the default images', () => {
  const compose = readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8');
  const composeImage = (name: string) => new RegExp(`^\\s+image: (${name}:\\S+)$`, 'm').exec(compose)?.[1];

  it('are the Redis and MinIO that docker-compose.yml runs', () => {
    expect(DEFAULT_REDIS_IMAGE).toBe(composeImage('redis'));
    expect(DEFAULT_S3_IMAGE).toBe(composeImage('minio/minio'));
  });
});
