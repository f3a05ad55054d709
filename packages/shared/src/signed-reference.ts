/**
 * A CDN reference (a url, or a directPath with its query) without its signature: WhatsApp signs
 * the path with `oh=` (the signature) and `oe=` (its expiry, hex seconds). Both are secrets of
 * the message: once a job has ended, Redis keeps the reference without them.
 */

const SIGNED_PARAMETERS = ['oh', 'oe'];

/** `reference` with its oh= and oe= query parameters removed, everything else kept as it was. */
export function withoutSignature(reference: string): string {
  const queryAt = reference.indexOf('?');
  if (queryAt < 0) return reference;
  const hashAt = reference.indexOf('#', queryAt);
  const query = reference.slice(queryAt + 1, hashAt < 0 ? undefined : hashAt);
  const kept = query.split('&').filter((pair) => !SIGNED_PARAMETERS.includes(decodeName(pair.split('=', 1)[0]!)));
  const rest = hashAt < 0 ? '' : reference.slice(hashAt);
  return `${reference.slice(0, queryAt)}${kept.length ? `?${kept.join('&')}` : ''}${rest}`;
}

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' ')).toLowerCase();
  } catch {
    return name.toLowerCase();
  }
}
