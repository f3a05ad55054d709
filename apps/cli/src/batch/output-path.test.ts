import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UnsafeOutputPathError, outputPath } from './output-path.js';

describe('outputPath', () => {
  it('puts an item at <out>/<id>.<ext>', () => {
    expect(outputPath('out', '3EB0C767D26A1D2E4B1B', 'image/jpeg')).toEqual({
      name: '3EB0C767D26A1D2E4B1B.jpg',
      file: path.resolve('out', '3EB0C767D26A1D2E4B1B.jpg'),
    });
  });

  it.each(['../escaped/pwned', '..', '.hidden', 'a/b', 'a\\b', '/etc/passwd', 'C:evil', '', 'x\u0000y', '#3'])(
    'refuses the id %j',
    (id) => {
      expect(() => outputPath('out', id, 'image/jpeg')).toThrow(UnsafeOutputPathError);
    },
  );
});
