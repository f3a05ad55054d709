import { describe, expect, it } from 'vitest';
import { LengthMismatchError, Sha256MismatchError } from '../errors.js';
import { hintMismatch } from './hints.js';

describe('hintMismatch', () => {
  const stored = { sha256: 'ab'.repeat(32), size: 1234 };

  it('finds nothing wrong with no hints, or hints that agree', () => {
    expect(hintMismatch({}, stored)).toBeUndefined();
    expect(hintMismatch({ sha256: stored.sha256, size: stored.size }, stored)).toBeUndefined();
  });

  it('names a wrong sha256 first, then a wrong length with both lengths', () => {
    expect(hintMismatch({ sha256: 'cd'.repeat(32), size: 1 }, stored)).toBeInstanceOf(Sha256MismatchError);
    const length = hintMismatch({ size: 1233 }, stored);
    expect(length).toBeInstanceOf(LengthMismatchError);
    expect(length?.message).toMatch(/1233.*1234|1234.*1233/);
  });
});
