import { createDecryptStream, MEDIA_KEY_LENGTH } from '@wamedia/shared';
import { STDIO, streamThrough } from '../files.js';
import { bytesFlag, contentTypeFlag, lengthFlag, parseFlags, required } from '../flags.js';

export const usage = `Usage: wamedia decrypt --type <contentType> --media-key <bytes> [options]

Decrypts a WhatsApp .enc file and verifies it: the MAC always, the hashes and the length when given.

Options:
  --type <contentType>        the message type (image, video, audio, ptt, document, sticker, ...),
                              not the mimetype: it picks the keys
  --media-key <bytes>         the message's mediaKey
  --file-sha256 <bytes>       expected SHA-256 of the plaintext
  --file-enc-sha256 <bytes>   expected SHA-256 of the .enc
  --file-length <n>           expected plaintext length in bytes
  --in <file|->               the .enc to read (default: - for stdin)
  --out <file|->              where to write the plaintext (default: - for stdout)
  -h, --help                  show this help

<bytes> is base64 (standard or URL-safe, padding optional), hex, or JSON bytes
([1,2,...], {"0":1,...} or {"type":"Buffer","data":...}).

A file given to --out appears only if every check passes. Plaintext written to stdout streams
out before the checks end: trust it only when the exit status is 0.
`;

/** `wamedia decrypt`: .enc in, verified plaintext out. */
export async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, {
    type: { type: 'string' },
    'media-key': { type: 'string' },
    'file-sha256': { type: 'string' },
    'file-enc-sha256': { type: 'string' },
    'file-length': { type: 'string' },
    in: { type: 'string', default: STDIO },
    out: { type: 'string', default: STDIO },
  });
  const optional = <T>(value: string | undefined, parse: (value: string) => T) =>
    value === undefined ? undefined : parse(value);
  const decryptor = createDecryptStream({
    contentType: contentTypeFlag(flags.type),
    mediaKey: bytesFlag(required(flags['media-key'], '--media-key'), '--media-key', MEDIA_KEY_LENGTH),
    fileSha256: optional(flags['file-sha256'], (v) => bytesFlag(v, '--file-sha256', 32)),
    fileEncSha256: optional(flags['file-enc-sha256'], (v) => bytesFlag(v, '--file-enc-sha256', 32)),
    fileLength: optional(flags['file-length'], (v) => lengthFlag(v, '--file-length')),
  });
  await streamThrough(flags.in, decryptor, flags.out);
}
