import { describe, expect, it } from 'vitest';
import { runCli as wamedia } from '../../../../test/support/cli-process.js';

/** Wrong usage of `wamedia download`, refused before anything is read or sent (exit status 2). */
describe('wamedia download usage', () => {
  const env = { ...process.env, WAMEDIA_URL: 'http://127.0.0.1:9', WAMEDIA_TOKEN: 'a.eyJpbnN0YW5jZUlkIjoiYSJ9.b' };

  it.each([
    [['ref.json', '--response', 'zip'], /--response: must be one of file, url, base64 \(got "zip"\)/],
    [['ref.json', '--response', 'base64', '--ttl', '60'], /--ttl: only with --response url/],
    [['ref.json', '--response', 'url', '--out', 'x'], /--out: only with --response file/],
    [['ref.json'], /missing --out/],
    [['ref.json', '--response', 'url', '--ttl', '0'], /--ttl: must be a whole number from 1 to 604800/],
    [['--response', 'url'], /give exactly one reference file/],
  ])('refuses %j', async (args, message) => {
    const run = await wamedia(['download', ...args], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('is listed, with its help', async () => {
    expect((await wamedia(['--help'])).stdout.toString()).toMatch(/download\s+download one media through the API/);
    const help = await wamedia(['download', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout.toString()).toMatch(/--response <mode>/);
  });
});
