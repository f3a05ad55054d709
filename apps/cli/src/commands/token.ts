import { parseArgs } from 'node:util';
import jwt from 'jsonwebtoken';
import { loadConfig } from '@wamedia/shared';
import { UsageError } from '../flags.js';

export const usage = `Usage: wamedia token <instanceId> [--expires-in <duration>]

Prints a bearer token for one instance, signed (HS256) with JWT_SECRET from the environment.

Options:
  --expires-in <duration>   lifetime, e.g. 3600 (seconds), 30m, 12h, 7d; default 1h
  -h, --help                show this help
`;

/** `wamedia token`: a JWT with the instanceId claim the API checks. */
export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: { 'expires-in': { type: 'string', default: '1h' } },
    allowPositionals: true,
    strict: true,
  });
  const [instanceId, ...extra] = positionals;
  if (!instanceId || extra.length > 0) throw new UsageError('give exactly one instanceId');
  const expiresIn = parseDuration(values['expires-in']);
  const { jwtSecret } = loadConfig();
  process.stdout.write(`${jwt.sign({ instanceId }, jwtSecret, { algorithm: 'HS256', expiresIn })}\n`);
}

/** Seconds, or a number with s/m/h/d. */
function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) throw new UsageError(`--expires-in: expected seconds or a number with s, m, h or d (got "${text}")`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
