/**
 * Hostile JSON for the fuzz suite. A {@link JsonModel} describes a JSON text that a JavaScript
 * value cannot: duplicate and `__proto__` keys, number literals JSON.parse turns into Infinity
 * or rounds, invalid tokens (NaN, 0x10), megabytes of string and thousands of nesting levels,
 * kept short (so a failing case prints in a few lines) until {@link toJsonText} writes it out.
 */
import fc from 'fast-check';

export type JsonModel =
  | null
  | boolean
  | number
  | string
  | JsonModel[]
  /** An object as key/value pairs, in order, duplicates and `__proto__` included. */
  | { $obj: [string, JsonModel][] }
  /** Written verbatim: `1e400`, `-0`, `NaN`, `0x10`... */
  | { $raw: string }
  /** A string of `unit` repeated `times` times. */
  | { $long: { unit: string; times: number } }
  /** `depth` nested arrays (`[[[...]]]`) or objects (`{"a":{"a":...}}`) around `null`. */
  | { $deep: { open: '[' | '{'; depth: number } };

/** The JSON text of a model (not always valid JSON: `$raw` can be anything). */
export function toJsonText(value: JsonModel): string {
  if (value === null || typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (Object.is(value, -0)) return '-0';
    return Number.isFinite(value) ? String(value) : 'null';
  }
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(toJsonText).join(',')}]`;
  if ('$obj' in value) return `{${value.$obj.map(([key, v]) => `${JSON.stringify(key)}:${toJsonText(v)}`).join(',')}}`;
  if ('$raw' in value) return value.$raw;
  if ('$long' in value) return JSON.stringify(value.$long.unit.repeat(value.$long.times));
  const { open, depth } = value.$deep;
  return open === '[' ? `${'['.repeat(depth)}null${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}null${'}'.repeat(depth)}`;
}

/** An object model from pairs, for readability. */
export function obj(...entries: [string, JsonModel][]): JsonModel {
  return { $obj: entries };
}

/**
 * Characters that break naive code: lone surrogates, bidi overrides, zero-width and joiners,
 * BOM, NUL, combining marks, astral characters, RTL script, JSON and path metacharacters.
 */
export const oddCharacters = [
  '\u0000', '\u0007', '\ud800', '\udbff', '\udc00', '\udfff', '\u202e', '\u202d', '\u2066', '\u200b', '\u200c',
  '\u200d', '\u200e', '\u200f', '\ufeff', '\uffff', '\ufffd', '\u{1d54f}', 'e\u0301', '\ufdfa', '\u0627\u0644',
  '\u05e9', '\n', '\r', '\t', '"', '\\', '%', '/', '.', '..', ' ', '\u00a0', '\u2028', '😀', '👩‍👩‍👧',
];

/** Keys that collide with Object.prototype, or that code might treat specially. */
export const specialKeys = [
  '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__',
  'toJSON', 'then', 'length', '0', '',
];

/** Number literals JSON.parse reads oddly (Infinity, rounding, -0) or refuses (NaN, hex). */
export const oddNumberLiterals = [
  'NaN', 'Infinity', '-Infinity', '1e400', '-1e400', '1e308', '-1e308', '5e-324', '1e-400', '-0', '0.0', '1E2',
  '123456789012345678901234567890', '9007199254740993', '0x10', '01', '.5', '5.', '+1', '1_000', '١٢٣',
];

/** Short strings mixing printable text with {@link oddCharacters}. */
export const oddString: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: 'binary', maxLength: 24 }),
  fc.string({ unit: fc.oneof(fc.constantFrom(...oddCharacters), fc.string({ minLength: 1, maxLength: 1 })), maxLength: 16 }),
  fc.constantFrom(...specialKeys),
);

/** Numbers that often break checks: extremes, -0, fractions, unsafe integers, odd literals. */
export const oddNumber: fc.Arbitrary<JsonModel> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constantFrom(0, -0, 1, -1, 255, 256, 0.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e21, 1e308, -1e308, 5e-324),
  fc.constantFrom(...oddNumberLiterals).map((raw): JsonModel => ({ $raw: raw })),
);

/**
 * A very long string: a short unit repeated, mostly a few thousand times, sometimes a hundred
 * thousand, rarely a million (megabytes: past the API's body limit).
 */
export const longString: fc.Arbitrary<JsonModel> = fc.record({
  unit: fc.oneof(fc.constantFrom('a', 'é', '\ud800', '\u{1d54f}', '\u200b', '\\', '"'), fc.string({ minLength: 1, maxLength: 4 })),
  times: fc.oneof(
    { weight: 20, arbitrary: fc.integer({ min: 500, max: 5_000 }) },
    { weight: 3, arbitrary: fc.integer({ min: 5_000, max: 100_000 }) },
    { weight: 1, arbitrary: fc.integer({ min: 300_000, max: 1_200_000 }) },
  ),
}).map(($long) => ({ $long }));

/** Deep nesting: up to 20 000 levels of arrays or objects. */
export const deepValue: fc.Arbitrary<JsonModel> = fc.record({
  open: fc.constantFrom('[' as const, '{' as const),
  depth: fc.oneof(fc.integer({ min: 50, max: 2_000 }), fc.integer({ min: 2_000, max: 20_000 })),
}).map(($deep) => ({ $deep }));

/** An object key: an ordinary name, a field name of the contract, a special or odd one. */
export const oddKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...specialKeys),
  fc.constantFrom('contentType', 'content', 'url', 'directPath', 'mediaKey', 'mimetype', 'fileSha256', 'fileEncSha256',
    'fileLength', 'items', 'id', 'callbackUrl', 'type', 'data', 'low', 'high', 'unsigned'),
  oddString,
);

/** Scalars of every kind. */
export const oddScalar: fc.Arbitrary<JsonModel> = fc.oneof(
  { weight: 3, arbitrary: oddString },
  { weight: 3, arbitrary: oddNumber },
  { weight: 1, arbitrary: fc.constantFrom<JsonModel>(null, true, false) },
  { weight: 1, arbitrary: longString },
);

/** Any JSON, up to a few levels of arrays and objects (deep nesting comes from {@link deepValue}). */
export const anyJson: fc.Arbitrary<JsonModel> = fc.letrec<{ value: JsonModel; array: JsonModel; object: JsonModel }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 4 },
    { weight: 6, arbitrary: oddScalar },
    { weight: 2, arbitrary: tie('array') },
    { weight: 2, arbitrary: tie('object') },
    { weight: 1, arbitrary: deepValue },
  ),
  array: fc.array(tie('value'), { maxLength: 6 }),
  object: fc.array(fc.tuple(oddKey, tie('value')), { maxLength: 6 }).map(($obj) => ({ $obj })),
})).value;

/** Any JSON of a few hundred bytes at most: no long strings, no deep nesting (e.g. for headers). */
export const smallJson: fc.Arbitrary<JsonModel> = fc.letrec<{ value: JsonModel; array: JsonModel; object: JsonModel }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    { weight: 6, arbitrary: fc.oneof(oddString, oddNumber, fc.constantFrom<JsonModel>(null, true, false)) },
    { weight: 1, arbitrary: tie('array') },
    { weight: 1, arbitrary: tie('object') },
  ),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.array(fc.tuple(oddKey, tie('value')), { maxLength: 4 }).map(($obj) => ({ $obj })),
})).value;

/** `bytes` in one of the encodings a message may use (docs/media-format.md), or an odd variant of one. */
export function encodedBytes(bytes: Uint8Array): fc.Arbitrary<JsonModel> {
  const buffer = Buffer.from(bytes);
  const numbers = [...buffer];
  return fc.constantFrom<JsonModel>(
    buffer.toString('base64'),
    buffer.toString('base64url'),
    buffer.toString('base64').replace(/=+$/, ''),
    `  ${buffer.toString('base64')}\n`,
    `data:application/octet-stream;base64,${buffer.toString('base64')}`,
    buffer.toString('hex'),
    buffer.toString('hex').toUpperCase(),
    numbers,
    { $obj: numbers.map((n, i): [string, JsonModel] => [String(i), n]) },
    { $obj: [['type', 'Buffer'], ['data', numbers]] },
    { $obj: [['type', 'Buffer'], ['data', buffer.toString('base64')]] },
    // Odd: Uint8Array-like objects with holes, gaps and prototype keys; bytes out of range.
    { $obj: [...numbers.map((n, i): [string, JsonModel] => [String(i), n]), ['__proto__', 1]] },
    { $obj: numbers.map((n, i): [string, JsonModel] => [String(i * 2), n]) },
    { $obj: [['type', 'Buffer'], ['data', { $obj: [['0', 1]] }]] },
    { $obj: [['type', 'Buffer']] },
    [...numbers.slice(1), 256],
    [...numbers.slice(1), -1],
    [...numbers.slice(1), 1.5],
    [...numbers.slice(1), '1'],
    [...numbers.slice(1), null],
    `${buffer.toString('base64')}!`,
    buffer.toString('hex').slice(1),
  );
}

/** A byte field: mostly `length` random bytes (valid-looking, wrong), sometimes another length. */
export function bytesField(length: number): fc.Arbitrary<JsonModel> {
  return fc
    .oneof(
      { weight: 4, arbitrary: fc.uint8Array({ minLength: length, maxLength: length }) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2 * length + 3 }) },
    )
    .chain(encodedBytes);
}
