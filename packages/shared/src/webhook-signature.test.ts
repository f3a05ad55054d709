import { describe, expect, it } from 'vitest';
import { instanceWebhookSecret, signWebhook, verifyWebhook } from './webhook-signature.js';

const SECRET = 'webhook-secret-for-tests-0123456789';
const BODY = '{"type":"batch.done"}';
const T = 1_700_000_000;

describe('verifyWebhook', () => {
  it('accepts its own signature within the tolerance, either side of the clock', () => {
    const header = signWebhook(SECRET, BODY, T);
    for (const now of [T, T + 299, T - 299, T + 300, T - 300]) expect(verifyWebhook(SECRET, BODY, header, { now })).toBe(true);
    expect(verifyWebhook(SECRET, BODY, header, { now: T + 60, toleranceSeconds: 60 })).toBe(true);
  });

  it("signs at the current unix second and verifies against the receiver's clock by default", () => {
    const before = Math.floor(Date.now() / 1000);
    const header = signWebhook(SECRET, BODY);
    const after = Math.floor(Date.now() / 1000);
    const signedAt = Number(/^t=(\d+),v1=[0-9a-f]{64}$/.exec(header)?.[1]);
    expect(signedAt).toBeGreaterThanOrEqual(before);
    expect(signedAt).toBeLessThanOrEqual(after);
    expect(verifyWebhook(SECRET, BODY, header)).toBe(true);
    expect(verifyWebhook(SECRET, BODY, signWebhook(SECRET, BODY, before - 301))).toBe(false);
  });

  it('refuses a signature older (or newer) than the tolerance: a replay', () => {
    const header = signWebhook(SECRET, BODY, T);
    expect(verifyWebhook(SECRET, BODY, header, { now: T + 301 })).toBe(false);
    expect(verifyWebhook(SECRET, BODY, header, { now: T + 86_400 })).toBe(false);
    expect(verifyWebhook(SECRET, BODY, header, { now: T - 301 })).toBe(false);
    expect(verifyWebhook(SECRET, BODY, header, { now: T + 61, toleranceSeconds: 60 })).toBe(false);
  });

  it('refuses another body, another secret, a changed timestamp and malformed headers', () => {
    const header = signWebhook(SECRET, BODY, T);
    expect(verifyWebhook(SECRET, `${BODY} `, header, { now: T })).toBe(false);
    expect(verifyWebhook(`${SECRET}x`, BODY, header, { now: T })).toBe(false);
    expect(verifyWebhook(SECRET, BODY, header.replace(`t=${T}`, `t=${T + 1}`), { now: T })).toBe(false);
    for (const bad of ['', 'v1=00', `t=${T}`, `t=x,v1=${'0'.repeat(64)}`, `t=${T},v1=`, `t=${T},v2=${header.slice(-64)}`]) {
      expect(verifyWebhook(SECRET, BODY, bad, { now: T })).toBe(false);
    }
    // The signature alone, with spaces after the comma, still verifies: a truncated one does not.
    expect(verifyWebhook(SECRET, BODY, header.replace(',', ', '), { now: T })).toBe(true);
    expect(verifyWebhook(SECRET, BODY, header.slice(0, -2), { now: T })).toBe(false);
  });
});

describe('instanceWebhookSecret', () => {
  it("derives one stable secret per instance, none verifying another instance's events", () => {
    const a = instanceWebhookSecret(SECRET, 'instance-a');
    // HKDF-SHA256(WEBHOOK_SECRET, salt instanceId, info "wamedia/webhook-secret/v1"), as docs/http-contract.md says.
    expect(a).toBe('0cfc4c8f3e7575006f231cdab9c55d7fcb4c72b1ae59ec0e7d9ac20df8988f45');
    expect(instanceWebhookSecret(SECRET, 'instance-a')).toBe(a);
    const b = instanceWebhookSecret(SECRET, 'instance-b');
    expect(b).not.toBe(a);
    expect(instanceWebhookSecret(`${SECRET}x`, 'instance-a')).not.toBe(a);
    const header = signWebhook(a, BODY, T);
    expect(verifyWebhook(a, BODY, header, { now: T })).toBe(true);
    expect(verifyWebhook(b, BODY, header, { now: T })).toBe(false);
    expect(verifyWebhook(SECRET, BODY, header, { now: T })).toBe(false);
  });
});
