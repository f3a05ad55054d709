import { describe, expect, it } from 'vitest';
import { InvalidFieldError } from '../errors.js';
import { parseBytes, parseFileLength } from './byte-fields.js';

/** 32 bytes whose base64 has both '+' and '/' (so its URL-safe form differs) and needs padding. */
const key = Buffer.from('fbff' + '00'.repeat(29) + 'fe', 'hex');
const base64 = key.toString('base64');

function expectInvalid(run: () => unknown, field: string, reason: RegExp): void {
  let caught: unknown;
  try {
    run();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(InvalidFieldError);
  const error = caught as InvalidFieldError;
  expect(error.field).toBe(field);
  expect(error.reason).toMatch(reason);
  expect(error.message).toBe(`${field}: ${error.reason}`);
}

describe('parseBytes', () => {
  it('sample key has the properties the encodings below rely on', () => {
    expect(base64).toMatch(/\+/);
    expect(base64).toMatch(/\//);
    expect(base64).toMatch(/=$/);
  });

  const encodings: [string, unknown][] = [
    ['standard base64, padded', base64],
    ['standard base64, unpadded', base64.replace(/=+$/, '')],
    ['URL-safe base64, padded', key.toString('base64url') + '='],
    ['URL-safe base64, unpadded', key.toString('base64url')],
    ['base64 with a data: prefix', `data:application/octet-stream;base64,${base64}`],
    ['base64 with surrounding whitespace', ` ${base64}\n`],
    ['lowercase hex of the exact size', key.toString('hex')],
    ['uppercase hex of the exact size', key.toString('hex').toUpperCase()],
    ['a serialized Uint8Array {"0":..}', JSON.parse(JSON.stringify(new Uint8Array(key)))],
    ['{type: "Buffer", data: [..]}', JSON.parse(JSON.stringify(key))],
    ['{type: "Buffer", data: "<base64>"}', { type: 'Buffer', data: base64 }],
    ['a plain array of numbers', [...key]],
    ['a Uint8Array', new Uint8Array(key)],
    ['a Buffer', Buffer.from(key)],
  ];

  it.each(encodings)('reads %s', (_name, value) => {
    const parsed = parseBytes('mediaKey', value, 32);
    expect(Buffer.isBuffer(parsed)).toBe(true);
    expect(parsed).toEqual(key);
  });

  it('reads any length when none is required', () => {
    expect(parseBytes('x', 'YWJj')).toEqual(Buffer.from('abc'));
    expect(parseBytes('x', '')).toEqual(Buffer.alloc(0));
    expect(parseBytes('x', {})).toEqual(Buffer.alloc(0));
  });

  it('takes a keyed object in any key order', () => {
    expect(parseBytes('x', { '2': 3, '0': 1, '1': 2 })).toEqual(Buffer.from([1, 2, 3]));
  });

  it('rejects a wrong length, naming the field and both sizes', () => {
    expectInvalid(() => parseBytes('mediaKey', key.subarray(1).toString('base64'), 32), 'mediaKey', /32 bytes, got 31/);
    expectInvalid(() => parseBytes('fileSha256', [...key, 0], 32), 'fileSha256', /32 bytes, got 33/);
    expectInvalid(() => parseBytes('mediaKey', key.toString('hex').slice(2), 32), 'mediaKey', /32 bytes|base64/);
  });

  const garbage: [string, unknown, RegExp][] = [
    ['text that is not base64', 'not base64!', /not valid base64/],
    ['base64 with an impossible length', 'AAAAA', /not valid base64/],
    ['padding in the middle', 'AA==AA==', /not valid base64/],
    ['a number', 42, /got number/],
    ['null', null, /got null/],
    ['a boolean', true, /got boolean/],
    ['bytes out of range', [0, 256], /0 to 255/],
    ['negative bytes', [-1], /0 to 255/],
    ['fractional bytes', [1.5], /0 to 255/],
    ['non-numeric bytes', ['1'], /0 to 255/],
    ['an object with non-index keys', { foo: 1 }, /byte indexes/],
    ['an object with a gap in its indexes', { '0': 1, '2': 3 }, /byte indexes/],
    ['a Buffer object with non-array data', { type: 'Buffer', data: 5 }, /Buffer data/],
    ['a Buffer object with bad bytes', { type: 'Buffer', data: [300] }, /0 to 255/],
  ];

  it.each(garbage)('rejects %s', (_name, value, reason) => {
    expectInvalid(() => parseBytes('fileEncSha256', value), 'fileEncSha256', reason);
  });
});

describe('parseFileLength', () => {
  it.each<[string, unknown, number]>([
    ['a number', 1234, 1234],
    ['zero', 0, 0],
    ['a decimal string', '1234', 1234],
    ['a decimal string with spaces', ' 1234 ', 1234],
    ['a Long', { low: 1234, high: 0, unsigned: false }, 1234],
    ['a Long without its unsigned flag', { low: 1234, high: 0 }, 1234],
    ['a Long above 2^32', { low: 1, high: 1, unsigned: true }, 2 ** 32 + 1],
    ['a Long whose low word is negative as int32', { low: -1294967296, high: 0, unsigned: false }, 3_000_000_000],
  ])('reads %s', (_name, value, expected) => {
    expect(parseFileLength(value)).toBe(expected);
  });

  it.each<[string, unknown]>([
    ['a negative number', -1],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['a number above 2^53', 2 ** 53],
    ['a non-decimal string', '12abc'],
    ['a hex string', '0x10'],
    ['an empty string', ''],
    ['a negative Long', { low: -1, high: -1, unsigned: false }],
    ['a Long above 2^53', { low: 0, high: 2 ** 21, unsigned: true }],
    ['null', null],
    ['an object that is not a Long', { value: 3 }],
  ])('rejects %s, naming the field', (_name, value) => {
    expectInvalid(() => parseFileLength(value), 'fileLength', /./);
    expectInvalid(() => parseFileLength(value, '--file-length'), '--file-length', /./);
  });
});
