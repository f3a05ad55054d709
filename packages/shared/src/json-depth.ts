/**
 * How deep a JSON value may nest. A WhatsApp message nests a few levels (a wrapper or two around
 * the media); JSON.parse accepts thousands, and a value that deep makes recursive code (String()
 * of a nested array inside a validation message, JSON.stringify) overflow the stack.
 */
export const MAX_JSON_DEPTH = 32;

/** Whether `value` nests arrays or objects more than `maxDepth` deep; iterative, so any depth is safe. */
export function jsonDepthExceeds(value: unknown, maxDepth = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= maxDepth) return true;
    for (const child of Object.values(current)) stack.push([child, depth + 1]);
  }
  return false;
}
