/**
 * The `instanceId` claim of a bearer JWT, read without checking the signature (the API does
 * that): so `wamedia batch` needs no --instance when the token says it. Undefined when the
 * token is not a JWT or has no such claim.
 */
export function instanceIdFromToken(token: string): string | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { instanceId?: unknown } | null;
    return typeof claims?.instanceId === 'string' && claims.instanceId !== '' ? claims.instanceId : undefined;
  } catch {
    return undefined;
  }
}
