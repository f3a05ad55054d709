import { describe, expect, it } from 'vitest';
import { CdnUnavailableError } from '@wamedia/shared';
import { AttemptFailedError } from './job-failure.js';
import { retryDelay } from './retry-delay.js';
import { WebhookUnavailableError } from './webhook-sender.js';

describe('retryDelay', () => {
  const webhooks = { baseMs: 1_000, maxMs: 300_000 };
  const downloads = { baseMs: 1_000, maxMs: 60_000 };

  it('doubles from the base and stops at the cap', () => {
    expect([1, 2, 3, 4].map((n) => retryDelay(n, undefined, webhooks))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelay(12, undefined, webhooks)).toBe(300_000);
    expect(retryDelay(12, undefined, downloads)).toBe(60_000);
  });

  it("waits at least a webhook receiver's Retry-After, within the cap", () => {
    const asked = (ms: number) => new WebhookUnavailableError('429', { status: 429, retryAfterMs: ms });
    expect(retryDelay(1, asked(30_000), webhooks)).toBe(30_000);
    expect(retryDelay(1, asked(3_600_000), webhooks)).toBe(300_000);
    expect(retryDelay(5, asked(100), webhooks)).toBe(16_000);
  });

  it("waits at least the CDN's Retry-After, within the cap", () => {
    const asked = (ms: number) => new AttemptFailedError(new CdnUnavailableError('503', { retryAfterMs: ms }));
    expect(retryDelay(1, asked(30_000), downloads)).toBe(30_000);
    expect(retryDelay(1, asked(3_600_000), downloads)).toBe(60_000);
    expect(retryDelay(5, asked(100), downloads)).toBe(16_000);
  });

  it('ignores errors that carry no Retry-After', () => {
    expect(retryDelay(2, new Error('boom'), downloads)).toBe(2_000);
  });
});
