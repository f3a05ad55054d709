import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { ConfigError, JobDataUnreadableError, errorCatalogue } from '@wamedia/shared';
import { JobSecrets, deriveJobDataKey, parseJobDataKey } from './job-secrets.js';

const context = 'a'.repeat(64);

describe('JobSecrets', () => {
  const mediaKey = randomBytes(32);
  const secrets = new JobSecrets(randomBytes(32));

  it('seals into v1.<key id>.<base64url> and opens back to the same bytes', () => {
    const sealed = secrets.seal(mediaKey, context);
    expect(sealed).toMatch(new RegExp(`^v1\\.${secrets.keyId}\\.[A-Za-z0-9_-]+$`));
    expect(secrets.open(sealed, context)).toEqual(mediaKey);
  });

  it('never shows the secret in any encoding, and seals it differently each time', () => {
    const a = secrets.seal(mediaKey, context);
    const b = secrets.seal(mediaKey, context);
    expect(a).not.toBe(b);
    for (const encoding of ['base64', 'base64url', 'hex'] as const) {
      const clear = mediaKey.toString(encoding).replace(/=+$/, '');
      expect(a).not.toContain(clear);
      expect(Buffer.from(a.split('.')[2]!, 'base64url').toString(encoding)).not.toContain(clear);
    }
  });

  it('names the key mismatch when another key sealed it', () => {
    const other = new JobSecrets(randomBytes(32));
    const sealed = other.seal(mediaKey, context);
    expect(() => secrets.open(sealed, context)).toThrow(JobDataUnreadableError);
    expect(() => secrets.open(sealed, context)).toThrow(
      new RegExp(`sealed with another JOB_DATA_KEY \\(key id ${other.keyId}; this process has ${secrets.keyId}\\)`),
    );
  });

  it('refuses an altered value, another context, and values that are not sealed', () => {
    const sealed = secrets.seal(mediaKey, context);
    const data = Buffer.from(sealed.split('.')[2]!, 'base64url');
    data[20]! ^= 1;
    const altered = `v1.${secrets.keyId}.${data.toString('base64url')}`;
    expect(() => secrets.open(altered, context)).toThrow(/does not authenticate/);
    expect(() => secrets.open(sealed, 'b'.repeat(64))).toThrow(/does not authenticate/);
    expect(() => secrets.open(`v1.${secrets.keyId}.AAAA`, context)).toThrow(/does not authenticate/);
    expect(() => secrets.open(mediaKey.toString('base64'), context)).toThrow(/not sealed in a form/);
    expect(() => secrets.open(`v2.${secrets.keyId}.AAAA`, context)).toThrow(/not sealed in a form/);
  });

  it('is a retryable 500 in the catalogue: another worker, configured right, may succeed', () => {
    expect(errorCatalogue.JOB_DATA_UNREADABLE).toEqual({ status: 500, retryable: true });
  });

  it('wants a 32-byte key', () => {
    expect(() => new JobSecrets(randomBytes(16))).toThrow(RangeError);
  });
});

describe('the job data key', () => {
  const key = randomBytes(32);

  it('reads 64 hex digits and base64 (standard or URL-safe, padded or not)', () => {
    for (const text of [
      key.toString('hex'),
      key.toString('hex').toUpperCase(),
      key.toString('base64'),
      key.toString('base64url'),
      ` ${key.toString('base64')} `,
    ]) {
      expect(parseJobDataKey(text), text).toEqual(key);
    }
  });

  it('refuses anything else', () => {
    for (const text of ['', 'short', key.toString('hex').slice(2), randomBytes(31).toString('base64'), randomBytes(33).toString('hex')]) {
      expect(parseJobDataKey(text), text).toBeUndefined();
    }
  });

  it('is derived from JWT_SECRET with HKDF when JOB_DATA_KEY is unset: stable, and unlike another secret', () => {
    const secret = 'a-jwt-secret-of-some-length';
    expect(deriveJobDataKey(secret)).toHaveLength(32);
    expect(deriveJobDataKey(secret)).toEqual(deriveJobDataKey(secret));
    expect(deriveJobDataKey(secret)).not.toEqual(deriveJobDataKey(`${secret}!`));
    expect(loadConfig({ JWT_SECRET: secret }).jobDataKey).toEqual(deriveJobDataKey(secret));
    expect(loadConfig({ JWT_SECRET: secret, JOB_DATA_KEY: key.toString('hex') }).jobDataKey).toEqual(key);
  });

  it('a bad JOB_DATA_KEY stops the start with a message naming it, without echoing it', () => {
    const bad = 'not-a-key-but-a-secret-value';
    let error: unknown;
    try {
      loadConfig({ JWT_SECRET: 'a-jwt-secret-of-some-length', JOB_DATA_KEY: bad });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual(['JOB_DATA_KEY must be 32 bytes as 64 hex digits or base64']);
    expect((error as ConfigError).message).not.toContain(bad);
  });
});
