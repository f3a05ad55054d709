/**
 * A request body as JSON, with every Buffer or Uint8Array as base64 text: a third of the size
 * of JSON.stringify's `{"type":"Buffer","data":[...]}`, and one of the forms the API reads.
 */
export function toJsonBody(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key, serialized: unknown) {
    // `serialized` has been through Buffer#toJSON already; the holder still has the original.
    const original = this[key];
    if (original instanceof Uint8Array) {
      return Buffer.from(original.buffer, original.byteOffset, original.byteLength).toString('base64');
    }
    return serialized;
  });
}
