import { loadConfig } from '@wamedia/server';
import { instanceWebhookSecret } from '@wamedia/shared';
import { parseFlagsAndOne } from '../flags.js';

export const usage = `Usage: wamedia webhook-secret <instanceId>

Prints the secret the instance's webhooks are signed with: derived from WEBHOOK_SECRET in the
environment for this instance alone (HKDF-SHA256), so its receiver can check them
(verifyWebhook in @wamedia/shared) and no other instance's events pass. The instance can also
read it from GET /api/v2/instance/<instanceId>/webhook-secret with its own token.

Options:
  -h, --help   show this help
`;

/** `wamedia webhook-secret`: the CLI twin of GET /api/v2/instance/:instanceId/webhook-secret. */
export async function run(args: string[]): Promise<void> {
  const { positional: instanceId } = parseFlagsAndOne(args, {}, 'instanceId');
  const { webhookSecret } = loadConfig();
  if (!webhookSecret) throw new Error('WEBHOOK_SECRET is not set: webhooks are off, there is no secret to derive');
  process.stdout.write(`${instanceWebhookSecret(webhookSecret, instanceId)}\n`);
}
