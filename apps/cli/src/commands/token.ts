import jwt from 'jsonwebtoken';
import { RedisConnector, connectTokenVersions, loadConfig } from '@wamedia/server';
import { UsageError, parseFlagsAndOne } from '../flags.js';

export const usage = `Usage: wamedia token <instanceId> [--expires-in <duration>]

Prints a bearer token for one instance, signed (HS256) with JWT_SECRET from the environment,
carrying the instance's current token version (read from REDIS_URL, or the cluster of
REDIS_CLUSTER_NODES, under REDIS_PREFIX), and JWT_ISSUER / JWT_AUDIENCE as iss / aud when they
are set.

Options:
  --expires-in <duration>   lifetime, e.g. 3600 (seconds), 30m, 12h, 7d; default 1h
                            (or JWT_MAX_LIFETIME_SECONDS when that is shorter)
  -h, --help                show this help
`;

const DEFAULT_LIFETIME_SECONDS = 3600;

/** `wamedia token`: a JWT with the claims the API checks (instanceId, ver, and iss/aud when configured). */
export async function run(args: string[]): Promise<void> {
  const { values, positional: instanceId } = parseFlagsAndOne(args, { 'expires-in': { type: 'string' } }, 'instanceId');
  const config = loadConfig();
  const maxLifetime = config.jwtMaxLifetimeSeconds;
  const expiresIn =
    values['expires-in'] === undefined
      ? Math.min(DEFAULT_LIFETIME_SECONDS, maxLifetime ?? DEFAULT_LIFETIME_SECONDS)
      : parseDuration(values['expires-in']);
  if (maxLifetime !== undefined && expiresIn > maxLifetime) {
    throw new UsageError(`--expires-in: the API refuses tokens living over ${maxLifetime} s (JWT_MAX_LIFETIME_SECONDS)`);
  }
  const ver = await currentVersion(RedisConnector.fromConfig(config), config.redisPrefix, instanceId);
  const token = jwt.sign({ instanceId, ver }, config.jwtSecret, {
    algorithm: 'HS256',
    expiresIn,
    ...(config.jwtIssuer === undefined ? {} : { issuer: config.jwtIssuer }),
    ...(config.jwtAudience === undefined ? {} : { audience: config.jwtAudience }),
  });
  process.stdout.write(`${token}\n`);
}

/** The instance's token version, so the token is not born revoked. */
async function currentVersion(connector: RedisConnector, prefix: string, instanceId: string): Promise<number> {
  const connection = await connectTokenVersions(connector, prefix).catch((error: unknown) => {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot read the token version of ${instanceId}: ${reason}`, { cause: error });
  });
  try {
    return await connection.versions.current(instanceId);
  } finally {
    await connection.close();
  }
}

/** Seconds, or a number with s/m/h/d. */
function parseDuration(text: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(text.trim());
  if (!match) throw new UsageError(`--expires-in: expected seconds or a number with s, m, h or d (got "${text}")`);
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}
