import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';

/**
 * Webhook signatures: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * The timestamp is signed with the body so a receiver can refuse an old message replayed.
 * Each instance's events are signed with its own secret (instanceWebhookSecret), so one tenant's
 * receiver cannot forge, or accept, another tenant's events.
 */

/** HKDF info of the per-instance webhook secret; a new version changes every instance's secret. */
const INSTANCE_SECRET_INFO = 'wamedia/webhook-secret/v1';

/**
 * The secret that signs (and verifies) the webhooks of one instance: HKDF-SHA256 of WEBHOOK_SECRET
 * with the instanceId as salt, 32 bytes as 64 hex digits. The instance reads it with its own
 * token (GET /api/v2/instance/:instanceId/webhook-secret) or from `wamedia webhook-secret`.
 */
export function instanceWebhookSecret(webhookSecret: string, instanceId: string): string {
  return Buffer.from(hkdfSync('sha256', webhookSecret, instanceId, INSTANCE_SECRET_INFO, 32)).toString('hex');
}

/** The signature header value for `body` sent at `timestamp` (unix seconds). */
export function signWebhook(secret: string, body: string, timestamp = Math.floor(Date.now() / 1000)): string {
  return `t=${timestamp},v1=${hmac(secret, timestamp, body)}`;
}

export interface VerifyWebhookOptions {
  /** Oldest accepted signature, in seconds; default 300. */
  toleranceSeconds?: number;
  /** For tests: the receiver's clock, unix seconds. */
  now?: number;
}

/** Whether `header` signs `body` with `secret`, recently enough; for receivers (and tests). */
export function verifyWebhook(secret: string, body: string, header: string, options: VerifyWebhookOptions = {}): boolean {
  const fields = new Map(header.split(',').map((part) => part.trim().split('=', 2) as [string, string]));
  const timestamp = Number(fields.get('t'));
  const signature = fields.get('v1');
  const now = options.now ?? Math.floor(Date.now() / 1000);
  if (signature === undefined || !Number.isInteger(timestamp)) return false;
  if (Math.abs(now - timestamp) > (options.toleranceSeconds ?? 300)) return false;
  const given = Buffer.from(signature, 'hex');
  const expected = Buffer.from(hmac(secret, timestamp, body), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function hmac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}
