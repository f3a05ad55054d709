/**
 * Bearer tokens, beyond the basics of auth-and-validation.test.ts: the pinned algorithm (none,
 * another HMAC, RS256 and HS/RS confusion refused), exp and nbf with the clock skew, iss and aud
 * when configured, the maximum lifetime, and revocation of one instance's tokens at once (the
 * `wamedia revoke` command and the admin route), with `wamedia token` minting the current version.
 *
 * Three API-only stacks (no worker: a request that passes auth on an unknown job answers 404):
 * `plain` with the defaults and ADMIN_TOKEN, `strict` with JWT_ISSUER, JWT_AUDIENCE,
 * JWT_MAX_LIFETIME_SECONDS and a 5 s skew, and `fragile` on a Redis of its own that a test stops.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ApiClient, type ApiResponse } from '../support/api-client.js';
import { useCdnStack } from '../support/cdn-stack.js';
import { runCli as wamedia } from '../support/cli-process.js';
import { expectError } from '../support/expectations.js';
import type { Stack } from '../support/stack.js';
import type { TokenOptions } from '../support/tokens.js';

const INSTANCE = 'tenant-a';
const OTHER = 'tenant-b';
const ADMIN_TOKEN = `admin-${randomBytes(18).toString('base64url')}`;
const ISSUER = 'https://issuer.example';
const AUDIENCE = 'wamedia-e2e';
const MAX_LIFETIME = 600;
const STRICT_SKEW = 5;

// API processes only; the CDN (one, shared) is not asked by these tests.
const plain = useCdnStack({ workers: 0, env: { ADMIN_TOKEN } });
const strict = useCdnStack({
  cdnOf: plain,
  workers: 0,
  env: {
    JWT_ISSUER: ISSUER,
    JWT_AUDIENCE: AUDIENCE,
    JWT_MAX_LIFETIME_SECONDS: String(MAX_LIFETIME),
    JWT_CLOCK_SKEW_SECONDS: String(STRICT_SKEW),
  },
});
const fragile = useCdnStack({ cdnOf: plain, workers: 0, privateRedis: true, env: { JWT_ALLOW_NO_EXP: 'true' } });

const now = () => Math.floor(Date.now() / 1000);

/**
 * A request on `instanceId`'s job route with `token`: 404 (unknown job) means the token was
 * accepted; 401/403 that it was refused before anything else ran.
 */
function probe(stack: Stack, token: string | null, instanceId = INSTANCE): Promise<ApiResponse> {
  return new ApiClient(stack).get(`/api/v2/instance/${instanceId}/media/jobs/dl-${'0'.repeat(64)}`, instanceId, { token });
}

async function expectAccepted(stack: Stack, token: string, instanceId = INSTANCE): Promise<void> {
  expectError(await probe(stack, token, instanceId), 404, /not found/);
}

/**
 * A token the strict stack accepts (iss, aud, and an exp 5 min after iat) unless `options` say
 * otherwise: `claims` replace those (undefined removes one), `expiresInSeconds` sets the exp.
 */
function strictToken(instanceId = INSTANCE, options: TokenOptions = {}): string {
  const exp = options.expiresInSeconds === undefined ? now() + 300 : undefined;
  return strict.stack.token(instanceId, { ...options, claims: { iss: ISSUER, aud: AUDIENCE, exp, ...options.claims } });
}

/** A JWT with any header, HMAC-SHA256-signed with `secret` whatever the header says. */
function hmacSigned(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string): string {
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

/** `wamedia token <instanceId>` for a stack; fails the test unless it exits 0. */
async function cliToken(stack: Stack, instanceId: string, ...flags: string[]): Promise<string> {
  const run = await wamedia(['token', instanceId, ...flags], { env: stack.env });
  expect(run, run.stderr).toMatchObject({ code: 0 });
  return run.stdout.toString().trim();
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('the algorithm is pinned to HS256', () => {
  it('accepts an HS256 token signed with JWT_SECRET', async () => {
    await expectAccepted(plain.stack, plain.stack.token(INSTANCE));
  });

  it.each([
    ['an unsigned token (alg none)', () => plain.stack.token(INSTANCE, { alg: 'none' })],
    ['an unsigned token (alg None, any case)', () => `${Buffer.from('{"alg":"None","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ instanceId: INSTANCE })).toString('base64url')}.`],
    ['another HMAC (HS384) with the right secret', () => plain.stack.token(INSTANCE, { alg: 'HS384' })],
    ['an RS256 token (a real RSA signature)', () => plain.stack.token(INSTANCE, { alg: 'RS256' })],
    ['HS/RS confusion: alg RS256, HMAC-signed with JWT_SECRET', () => hmacSigned({ alg: 'RS256', typ: 'JWT' }, { instanceId: INSTANCE, iat: now() }, plain.stack.jwtSecret)],
    ['alg ES256, HMAC-signed with JWT_SECRET', () => hmacSigned({ alg: 'ES256', typ: 'JWT' }, { instanceId: INSTANCE, iat: now() }, plain.stack.jwtSecret)],
  ])('refuses %s with 401', async (_, token) => {
    expectError(await probe(plain.stack, token()), 401, /must be signed with HS256/);
  });

  it('refuses an HS256 token signed with another secret', async () => {
    expectError(await probe(plain.stack, plain.stack.token(INSTANCE, { secret: 'another-secret-of-32-characters!' })), 401, /^the token is invalid$/);
  });
});

describe('exp and nbf, with JWT_CLOCK_SKEW_SECONDS (default 30 s)', () => {
  // Claims made when the test runs, not when the file loads: a loaded machine may start it minutes later.
  it.each([
    ['nbf 10 s ahead (within the skew)', () => ({ nbf: now() + 10 })],
    ['exp 10 s ago (within the skew)', () => ({ exp: now() - 10 })],
    ['nbf a minute ago and exp in a minute', () => ({ nbf: now() - 60, exp: now() + 60 })],
  ])('accepts %s', async (_, claims) => {
    await expectAccepted(plain.stack, plain.stack.token(INSTANCE, { claims: claims() }));
  });

  it('refuses a token whose nbf is beyond the skew (2 min ahead)', async () => {
    expectError(await probe(plain.stack, plain.stack.token(INSTANCE, { claims: { nbf: now() + 120 } })), 401, /not valid yet \(nbf\)/);
  });

  it('refuses a token expired beyond the skew (2 min ago)', async () => {
    expectError(await probe(plain.stack, plain.stack.token(INSTANCE, { claims: { exp: now() - 120 } })), 401, /expired/);
  });

  it('uses the configured skew: nbf 20 s ahead is fine with 30 s, refused with 5 s', async () => {
    await expectAccepted(plain.stack, plain.stack.token(INSTANCE, { claims: { nbf: now() + 20 } }));
    expectError(await probe(strict.stack, strictToken(INSTANCE, { claims: { nbf: now() + 20 } })), 401, /not valid yet/);
    expectError(await probe(strict.stack, strictToken(INSTANCE, { claims: { exp: now() - 20 } })), 401, /expired/);
  });
});

describe('iss and aud, checked when JWT_ISSUER and JWT_AUDIENCE are set', () => {
  it('accepts a token with the configured iss and aud (aud alone or in a list)', async () => {
    await expectAccepted(strict.stack, strictToken());
    await expectAccepted(strict.stack, strictToken(INSTANCE, { claims: { aud: ['another-api', AUDIENCE] } }));
  });

  it.each([
    ['another iss', { iss: 'https://evil.example' }, /issuer \(iss\)/],
    ['no iss', { iss: undefined }, /issuer \(iss\)/],
    ['another aud', { aud: 'another-api' }, /audience|aud/],
    ['no aud', { aud: undefined }, /\(aud\)/],
    ['a list of other auds', { aud: ['a', 'b'] }, /\(aud\)/],
  ])('refuses a token with %s', async (_, claims, message) => {
    expectError(await probe(strict.stack, strictToken(INSTANCE, { claims })), 401, message);
  });

  it('does not check iss and aud when they are not configured', async () => {
    await expectAccepted(plain.stack, plain.stack.token(INSTANCE, { claims: { iss: 'whoever', aud: 'whatever' } }));
  });
});

describe('JWT_MAX_LIFETIME_SECONDS', () => {
  it('accepts a token living exactly the maximum', async () => {
    await expectAccepted(strict.stack, strictToken(INSTANCE, { expiresInSeconds: MAX_LIFETIME }));
  });

  it('refuses a token without exp, unless JWT_ALLOW_NO_EXP (and no maximum lifetime)', async () => {
    expectError(await probe(strict.stack, strictToken(INSTANCE, { claims: { exp: undefined } })), 401, /must expire/);
    expectError(await probe(plain.stack, plain.stack.token(INSTANCE, { expiresInSeconds: null })), 401, /must expire: it has no exp/);
    await expectAccepted(fragile.stack, fragile.stack.token(INSTANCE, { expiresInSeconds: null }));
  });

  it('refuses a token whose exp - iat exceeds the maximum', async () => {
    expectError(await probe(strict.stack, strictToken(INSTANCE, { expiresInSeconds: MAX_LIFETIME + 1 })), 401, /lives too long/);
  });

  it('refuses a long-lived token that hides behind a made-up iat (or has none)', async () => {
    const exp = now() + 10 * MAX_LIFETIME;
    expectError(await probe(strict.stack, strictToken(INSTANCE, { claims: { iat: exp - 60, exp } })), 401, /lives too long/);
    expectError(await probe(strict.stack, strictToken(INSTANCE, { claims: { iat: undefined, exp } })), 401, /lives too long/);
  });

  it('wamedia token mints tokens the strict stack accepts, and refuses a longer --expires-in', async () => {
    const token = await cliToken(strict.stack, INSTANCE);
    expect(claimsOf(token)).toMatchObject({ instanceId: INSTANCE, ver: 0, iss: ISSUER, aud: AUDIENCE });
    const { iat, exp } = claimsOf(token) as { iat: number; exp: number };
    expect(exp - iat).toBe(MAX_LIFETIME);
    await expectAccepted(strict.stack, token);
    const tooLong = await wamedia(['token', INSTANCE, '--expires-in', '1h'], { env: strict.stack.env });
    expect(tooLong.code).toBe(2);
    expect(tooLong.stderr.trim().split('\n')).toEqual([expect.stringMatching(/JWT_MAX_LIFETIME_SECONDS/)]);
  });
});

describe('revocation: a token version per instance', () => {
  const revokeRoute = (instanceId: string) => `/admin/instances/${instanceId}/revoke-tokens`;
  const revokeByRoute = (instanceId: string, authorization = `Bearer ${ADMIN_TOKEN}`) =>
    plain.api.call('POST', revokeRoute(instanceId), { authorization });

  it('refuses a token with a malformed ver claim', async () => {
    for (const ver of ['1', -1, 1.5]) {
      expectError(await probe(plain.stack, plain.stack.token(INSTANCE, { claims: { ver } })), 401, /ver claim/);
    }
  });

  it('the admin route needs ADMIN_TOKEN', async () => {
    const client = plain.api;
    expectError(await client.call('POST', revokeRoute('tenant-x'), {}), 401, /ADMIN_TOKEN/);
    expectError(await revokeByRoute('tenant-x', `Bearer ${ADMIN_TOKEN}x`), 401, /ADMIN_TOKEN/);
    // A tenant's own JWT is no admin token.
    expectError(await revokeByRoute('tenant-x', `Bearer ${plain.stack.token('tenant-x')}`), 401, /ADMIN_TOKEN/);
    expect(await (await plain.stack.redis()).command('GET', `${plain.stack.prefix}:token-version:tenant-x`)).toBeNull();
    // Without ADMIN_TOKEN there is no such route.
    expectError(await strict.api.call('POST', revokeRoute('tenant-x'), { authorization: `Bearer ${ADMIN_TOKEN}` }), 404);
  });

  it('revokes through the admin route: old tokens 401, tokens minted afterwards work, other instances unaffected', async () => {
    const instance = 'tenant-route';
    const old = plain.stack.token(instance);
    const minted = await cliToken(plain.stack, instance);
    const others = [plain.stack.token(OTHER), plain.stack.token(`${instance}-2`)];
    await expectAccepted(plain.stack, old, instance);
    await expectAccepted(plain.stack, minted, instance);

    const answer = await revokeByRoute(instance);
    expect(answer.status, answer.body.toString()).toBe(200);
    expect(answer.json()).toEqual({ instanceId: instance, tokenVersion: 1 });
    expect(await (await plain.stack.redis()).command('GET', `${plain.stack.prefix}:token-version:${instance}`)).toBe('1');

    expectError(await probe(plain.stack, old, instance), 401, /revoked/);
    expectError(await probe(plain.stack, minted, instance), 401, /revoked/);
    const fresh = await cliToken(plain.stack, instance);
    expect(claimsOf(fresh).ver).toBe(1);
    await expectAccepted(plain.stack, fresh, instance);
    await expectAccepted(plain.stack, others[0]!, OTHER);
    await expectAccepted(plain.stack, others[1]!, `${instance}-2`);

    // Again: the version goes on, and the token of version 1 is revoked in turn.
    expect((await revokeByRoute(instance)).json()).toEqual({ instanceId: instance, tokenVersion: 2 });
    expectError(await probe(plain.stack, fresh, instance), 401, /revoked/);
    await expectAccepted(plain.stack, await cliToken(plain.stack, instance), instance);
  });

  it('revokes with `wamedia revoke`: old tokens 401, `wamedia token` then mints working ones, other instances unaffected', async () => {
    const instance = 'tenant-cli';
    const old = await cliToken(plain.stack, instance);
    const other = await cliToken(plain.stack, OTHER);
    expect(claimsOf(old).ver).toBe(0);
    await expectAccepted(plain.stack, old, instance);

    const run = await wamedia(['revoke', instance], { env: plain.stack.env });
    expect(run, run.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(run.stdout.toString())).toEqual({ instanceId: instance, tokenVersion: 1 });

    expectError(await probe(plain.stack, old, instance), 401, /revoked/);
    expectError(await probe(plain.stack, plain.stack.token(instance), instance), 401, /revoked/);
    const fresh = await cliToken(plain.stack, instance);
    expect(claimsOf(fresh).ver).toBe(1);
    await expectAccepted(plain.stack, fresh, instance);
    await expectAccepted(plain.stack, other, OTHER);
  });

  it('checks the revocation on every instance route, downloads and batches included', async () => {
    const instance = 'tenant-routes';
    const old = plain.stack.token(instance);
    expect((await revokeByRoute(instance)).status).toBe(200);
    const client = plain.api;
    const body = JSON.stringify({ contentType: 'document', content: {} });
    for (const path of ['media/directly-download', 'media/batch']) {
      expectError(await client.call('POST', `/api/v2/instance/${instance}/${path}`, { token: old, body }), 401, /revoked/);
    }
  });

  it('wamedia token and wamedia revoke say in one line when Redis cannot be reached', async () => {
    const env = { ...plain.stack.env, REDIS_URL: 'redis://127.0.0.1:1' };
    for (const args of [['token', INSTANCE], ['revoke', INSTANCE]]) {
      const run = await wamedia(args, { env });
      expect(run.code, run.stderr).toBe(1);
      expect(run.stdout.toString()).toBe('');
      expect(run.stderr.trim().split('\n')).toEqual([expect.stringMatching(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1 \(REDIS_URL\)/)]);
    }
  });

  it('fails closed: while Redis is down a token cannot be checked, and the answer is 503', async () => {
    const token = fragile.stack.token(INSTANCE);
    await expectAccepted(fragile.stack, token);
    await fragile.redis.stop();
    try {
      const started = Date.now();
      expectError(await probe(fragile.stack, token), 503);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await fragile.redis.restart();
    }
  });
});
