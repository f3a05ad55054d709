import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { encryptMedia } from '@wamedia/shared';
import jwt from 'jsonwebtoken';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli as wamedia } from '../../../test/support/cli-process.js';
import { repoRoot } from '../../../test/support/service-process.js';

const samplePath = path.join(repoRoot, 'test', 'fixtures', 'vectors', 'plain', 'cat.jpeg');

const sha256Base64 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('base64');

describe('wamedia', () => {
  let dir: string;
  let original: Buffer;
  let plainPath: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wamedia-cli-'));
    original = await readFile(samplePath);
    plainPath = path.join(dir, 'cat.jpeg');
    await writeFile(plainPath, original);
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('encrypts, then decrypts and verifies with the printed fields (file and stdio both ways)', async () => {
    const encrypted = await wamedia(['encrypt', '--type', 'image', '--in', plainPath, '--out', '-']);
    expect(encrypted.code).toBe(0);
    const fields = JSON.parse(encrypted.stderr) as Record<string, string | number>;
    expect(fields).toEqual({
      mediaKey: expect.any(String),
      fileSha256: sha256Base64(original),
      fileEncSha256: sha256Base64(encrypted.stdout),
      fileLength: original.length,
    });

    const outPath = path.join(dir, 'decrypted.jpeg');
    const decrypted = await wamedia(
      [
        'decrypt',
        '--type', 'sticker', // same keys as image: the key class is what counts
        '--media-key', Buffer.from(String(fields.mediaKey), 'base64').toString('hex'),
        '--file-sha256', String(fields.fileSha256),
        '--file-enc-sha256', Buffer.from(String(fields.fileEncSha256), 'base64').toString('base64url'),
        '--file-length', String(fields.fileLength),
        '--out', outPath,
      ],
      { stdin: encrypted.stdout },
    );
    expect(decrypted.stderr).toBe('');
    expect(decrypted.code).toBe(0);
    expect((await readFile(outPath)).equals(original)).toBe(true);
  });

  it('fails a corrupted file with one line and leaves no output file behind', async () => {
    const { enc, mediaKey } = encryptMedia(original, { contentType: 'audio' });
    enc[100]! ^= 0xff;
    const encPath = path.join(dir, 'corrupt.enc');
    await writeFile(encPath, enc);
    const before = await readdir(dir);

    const outPath = path.join(dir, 'corrupt.ogg');
    const decrypted = await wamedia([
      'decrypt', '--type', 'audio', '--media-key', mediaKey.toString('base64'), '--in', encPath, '--out', outPath,
    ]);
    expect(decrypted.code).toBe(1);
    expect(decrypted.stderr).toMatch(/^wamedia decrypt: integrity check failed: HMAC mismatch .*\n$/);
    expect(decrypted.stderr.split('\n')).toHaveLength(2);
    expect(await readdir(dir)).toEqual(before);
  });

  it('shows help and exits 0', async () => {
    const [overview, decrypt] = await Promise.all([wamedia(['--help']), wamedia(['decrypt', '--in', 'x', '--help'])]);
    expect(overview.code).toBe(0);
    expect(overview.stdout.toString()).toMatch(/decrypt.*\n.*encrypt/);
    expect(decrypt.code).toBe(0);
    expect(decrypt.stdout.toString()).toMatch(/^Usage: wamedia decrypt/);
  });

  it('rejects unknown commands, unknown flags and bad values with one line and exit 2', async () => {
    const runs = await Promise.all([
      wamedia(['frobnicate']),
      wamedia(['decrypt', '--type', 'image', '--media-key', 'AAAA', '--bogus']),
      wamedia(['decrypt', '--type', 'image', '--media-key', 'AAAA']),
    ]);
    const [command, flag, key] = runs.map(({ code, stderr }) => {
      expect(code).toBe(2);
      expect(stderr.split('\n')).toHaveLength(2);
      return stderr;
    });
    expect(command).toMatch(/unknown command 'frobnicate'/);
    expect(flag).toMatch(/--bogus/);
    expect(key).toMatch(/--media-key: must be 32 bytes, got 3/);
  });

  it('token prints an HS256 JWT for the instance, signed with JWT_SECRET and expiring as asked', async () => {
    const secret = 'a-test-secret-of-enough-length';
    const run = await wamedia(['token', 'shop-42', '--expires-in', '90m'], { env: { ...process.env, JWT_SECRET: secret } });
    expect(run.code).toBe(0);
    const claims = jwt.verify(run.stdout.toString().trim(), secret, { algorithms: ['HS256'] }) as jwt.JwtPayload;
    expect(claims.instanceId).toBe('shop-42');
    expect(claims.exp! - claims.iat!).toBe(90 * 60);
  });

  it('token without JWT_SECRET exits 1 with one line naming the variable', async () => {
    const { JWT_SECRET: _unset, ...env } = process.env;
    const run = await wamedia(['token', 'shop-42'], { env });
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringContaining('JWT_SECRET')]);
  });

  it.each([
    ['token', 'x', '--bogus'],
    ['revoke'],
    ['revoke', 'a', 'b'],
  ])('refuses wrong usage of %s with exit 2 and one line', async (...args) => {
    const run = await wamedia(args, { env: { ...process.env, JWT_SECRET: 'a-test-secret-of-enough-length' } });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(new RegExp(`^wamedia ${args[0]}: `))]);
  });
});
