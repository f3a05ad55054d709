import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from './json-depth.js';

/** `depth` arrays or objects around null. */
const nested = (depth: number, open: '[' | '{') =>
  JSON.parse(open === '[' ? `${'['.repeat(depth)}null${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}null${'}'.repeat(depth)}`);

describe('jsonDepthExceeds', () => {
  it.each(['[', '{'] as const)('allows %s nested MAX_JSON_DEPTH deep, and refuses one more', (open) => {
    expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH, open))).toBe(false);
    expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH + 1, open))).toBe(true);
  });

  it('reads a value far deeper than the stack allows, and scalars', () => {
    expect(jsonDepthExceeds(nested(200_000, '['))).toBe(true);
    expect(jsonDepthExceeds('text')).toBe(false);
    expect(jsonDepthExceeds(null)).toBe(false);
  });
});
