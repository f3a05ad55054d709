import { createEncryptStream, MEDIA_KEY_LENGTH } from '@wamedia/shared';
import { STDIO, streamThrough } from '../files.js';
import { bytesFlag, contentTypeFlag, parseFlags, required } from '../flags.js';

export const usage = `Usage: wamedia encrypt --type <contentType> --in <file|-> --out <file|-> [--media-key <bytes>]

Encrypts a file into a WhatsApp .enc, then prints the message fields as JSON:
{"mediaKey","fileSha256","fileEncSha256","fileLength"}, bytes in base64. The JSON goes to
stdout, or to stderr when --out is - (stdout then carries the .enc).

Options:
  --type <contentType>   the message type (image, video, audio, ptt, document, sticker, ...)
  --in <file|->          the plaintext to read (- for stdin)
  --out <file|->         where to write the .enc (- for stdout)
  --media-key <bytes>    the mediaKey to use (base64, hex or JSON bytes); random when absent
  -h, --help             show this help
`;

/** `wamedia encrypt`: plaintext in, .enc out, message fields printed. */
export async function run(args: string[]): Promise<void> {
  const flags = parseFlags(args, {
    type: { type: 'string' },
    'media-key': { type: 'string' },
    in: { type: 'string' },
    out: { type: 'string' },
  });
  const mediaKey = flags['media-key'];
  const encryptor = createEncryptStream({
    contentType: contentTypeFlag(flags.type),
    mediaKey: mediaKey === undefined ? undefined : bytesFlag(mediaKey, '--media-key', MEDIA_KEY_LENGTH),
  });
  const input = required(flags.in, '--in');
  const output = required(flags.out, '--out');
  await streamThrough(input, encryptor, output);

  const { fileSha256, fileEncSha256, fileLength } = encryptor.result!;
  const fields = {
    mediaKey: encryptor.mediaKey.toString('base64'),
    fileSha256: fileSha256.toString('base64'),
    fileEncSha256: fileEncSha256.toString('base64'),
    fileLength,
  };
  (output === STDIO ? process.stderr : process.stdout).write(`${JSON.stringify(fields)}\n`);
}
