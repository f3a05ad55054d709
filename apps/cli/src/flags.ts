import { parseArgs, type ParseArgsConfig } from 'node:util';
import { contentTypes, InvalidFieldError, parseBytes, parseFileLength, type ContentType } from '@wamedia/shared';

/** Wrong usage of a command: an unknown flag, a missing or malformed value. Exit status 2. */
export class UsageError extends Error {}

type FlagOptions = NonNullable<ParseArgsConfig['options']>;

/** Parses `--flag value` arguments strictly: unknown flags and stray arguments are UsageErrors. */
export function parseFlags<T extends FlagOptions>(args: string[], options: T) {
  return asUsageErrors(() => parseArgs({ args, options, strict: true, allowPositionals: false })).values;
}

/** Like parseFlags, plus exactly one positional argument; `name` says what it is, in errors. */
export function parseFlagsAndOne<T extends FlagOptions>(args: string[], options: T, name: string) {
  const { values, positionals } = asUsageErrors(() => parseArgs({ args, options, strict: true, allowPositionals: true }));
  const [positional, ...extra] = positionals;
  if (positional === undefined || extra.length > 0) throw new UsageError(`give exactly one ${name}`);
  return { values, positional };
}

function asUsageErrors<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (!isParseArgsError(error)) throw error;
    // node's messages go on with advice about positionals; the first sentence says it all.
    throw new UsageError(error.message.split('. ')[0]!);
  }
}

function isParseArgsError(error: unknown): error is Error {
  return error instanceof Error && String((error as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS_');
}

/** The value of a flag the command cannot do without. */
export function required(value: string | undefined, flag: string): string {
  if (value === undefined) throw new UsageError(`missing ${flag}`);
  return value;
}

/** A whole-number flag from `min` to `max`; `fallback` when absent. */
export function integerFlag(value: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const number = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!(number >= min && number <= max)) throw new UsageError(`${flag}: must be a whole number from ${min} to ${max} (got "${value}")`);
  return number;
}

/** `--type`: the WhatsApp message type, which picks the keys. */
export function contentTypeFlag(value: string | undefined): ContentType {
  const type = required(value, '--type');
  if (!(contentTypes as readonly string[]).includes(type)) {
    throw new UsageError(`--type: must be one of ${contentTypes.join(', ')} (got "${type}")`);
  }
  return type as ContentType;
}

/**
 * A byte flag (`--media-key`, `--file-sha256`, ...) in any encoding parseBytes reads: base64 or
 * hex text, or the JSON forms (`[1,2,...]`, `{"0":1,...}`, `{"type":"Buffer","data":...}`).
 */
export function bytesFlag(value: string, flag: string, length: number): Buffer {
  return asUsageError(() => parseBytes(flag, jsonOrText(value, flag), length));
}

/** `--file-length`: a decimal number, or a protobuf Long as JSON. */
export function lengthFlag(value: string, flag: string): number {
  return asUsageError(() => parseFileLength(jsonOrText(value, flag), flag));
}

function jsonOrText(value: string, flag: string): unknown {
  if (!/^\s*[[{]/.test(value)) return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    throw new InvalidFieldError(flag, 'looks like JSON but does not parse');
  }
}

function asUsageError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw error instanceof InvalidFieldError ? new UsageError(error.message) : error;
  }
}
