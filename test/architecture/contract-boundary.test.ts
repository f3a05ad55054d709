/**
 * The contract package has no server dependencies: a user's app that imports the typed client,
 * or the CLI's offline decrypt/encrypt, must not load the AWS SDK, BullMQ, ioredis, pino or
 * express. Each import runs in a process of its own and the modules it loaded are listed.
 */
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../support/service-process.js';
import { loadedModules, packagesAmong } from '../support/loaded-modules.js';

const serverPackages = /^(@aws-sdk\/.*|bullmq|ioredis|pino|express)$/;

function serverPackagesLoadedBy(urls: string[]): string[] {
  return [...packagesAmong(urls)].filter((name) => serverPackages.test(name)).sort();
}

const entry = (file: string) => pathToFileURL(`${repoRoot}${file}`).href;

describe('the contract boundary', () => {
  it.each([
    ['@wamedia/client', '@wamedia/client'],
    ['@wamedia/shared', '@wamedia/shared'],
    ['the CLI decrypt command', entry('apps/cli/src/commands/decrypt.ts')],
    ['the CLI encrypt command', entry('apps/cli/src/commands/encrypt.ts')],
  ])('importing %s loads no server package', async (_name, specifier) => {
    const urls = await loadedModules(specifier);
    expect(urls.some((url) => url.includes('/packages/shared/src/'))).toBe(true);
    expect(serverPackagesLoadedBy(urls)).toEqual([]);
  });

  it('sees server packages where they are loaded: @wamedia/server loads them (the check can fail)', async () => {
    const loaded = serverPackagesLoadedBy(await loadedModules('@wamedia/server'));
    expect(loaded).toEqual(expect.arrayContaining(['@aws-sdk/client-s3', 'bullmq', 'ioredis', 'pino']));
  });
});
