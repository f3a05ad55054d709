import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { WamediaClient } from '@wamedia/client';
import { MAX_LINK_TTL_SECONDS, responseModes, type DownloadRequestInput, type MediaBase64, type ResponseMode } from '@wamedia/shared';
import { apiClientFlags, apiClientFromFlags, apiClientUsage } from '../api-client-flags.js';
import { MediaMismatchError, saveMedia } from '../batch/media-file.js';
import { UsageError, integerFlag, parseFlagsAndOne } from '../flags.js';
import { readReferenceFile } from '../reference-file.js';

export const usage = `Usage: wamedia download <reference.json|-> [options]

Downloads one media through a wamedia API: as the file, as a link to it, or as base64.

The reference (a JSON file, - for stdin) is the body of directly-download
({"contentType","content":{...}}), or a WhatsApp message as Baileys or an Evolution API webhook
delivers it (as 'wamedia batch' reads its lines).

Options:
  --response <mode>         file (default): save the verified file to --out, print
                            {"path","sha256","size","mimetype"}
                            url: print {"url","expiresAt","sha256","size","mimetype","fileName"}, a link
                            to the file that needs no token and expires
                            base64: print {"mimetype","fileName","size","sha256","base64"} (media up to
                            the API's BASE64_MAX_BYTES), checked against its SHA-256
  --out <file|dir>          with file: where it goes (a folder: the file name the API gives it)
  --ttl <seconds>           with url: how long the link holds (the API's SIGNED_URL_TTL_SECONDS at most,
                            and by default)
  --timeout <ms>            how long the API may hold the request before answering 202 (then the job
                            is polled); the API's default when absent
${apiClientUsage}
  -h, --help                show this help

A file given to --out appears only once its bytes match the SHA-256 and length the API announced.
`;

/** `wamedia download`: one media reference in; the file, a link or base64 out. */
export async function run(args: string[]): Promise<void> {
  const { positional: input, values: flags } = parseFlagsAndOne(
    args,
    { response: { type: 'string' }, out: { type: 'string' }, ttl: { type: 'string' }, timeout: { type: 'string' }, ...apiClientFlags },
    'reference file',
  );
  const response = responseFlag(flags.response);
  if (flags.ttl !== undefined && response !== 'url') throw new UsageError('--ttl: only with --response url');
  if (flags.out !== undefined && response !== 'file') throw new UsageError('--out: only with --response file (url and base64 print JSON)');
  if (response === 'file' && flags.out === undefined) throw new UsageError('missing --out (where the file goes)');
  const ttlSeconds = flags.ttl === undefined ? undefined : integerFlag(flags.ttl, '--ttl', 0, 1, MAX_LINK_TTL_SECONDS);
  const timeoutMs = flags.timeout === undefined ? undefined : integerFlag(flags.timeout, '--timeout', 0, 0, 24 * 3600_000);
  const client = apiClientFromFlags(flags);
  const request = await readReferenceFile(input);

  if (response === 'url') return print(await client.download(request, { response: 'url', ttlSeconds, timeoutMs }));
  if (response === 'base64') return print(checkedBase64(await client.download(request, { response: 'base64', timeoutMs })));
  print(await saveFile(client, request, flags.out!, timeoutMs));
}

function responseFlag(value: string | undefined): ResponseMode {
  if (value === undefined) return 'file';
  if (!(responseModes as readonly string[]).includes(value)) {
    throw new UsageError(`--response: must be one of ${responseModes.join(', ')} (got "${value}")`);
  }
  return value as ResponseMode;
}

/** Downloads the file into `out` (or a folder's file of the name the API gives it), verified. */
async function saveFile(client: WamediaClient, request: DownloadRequestInput, out: string, timeoutMs: number | undefined) {
  const media = await client.download(request, { timeoutMs });
  // The API's name goes into a folder by its last part only: nothing it sends can climb out.
  const target = (await isFolder(out)) ? path.join(out, path.basename(media.filename)) : out;
  await saveMedia(media, target);
  const { sha256, size, mimetype } = media;
  return { path: target, sha256, size, mimetype };
}

/** A base64 answer whose bytes are the file it describes. */
function checkedBase64(media: MediaBase64): MediaBase64 {
  const bytes = Buffer.from(media.base64, 'base64');
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (bytes.length !== media.size) throw new MediaMismatchError(`got ${bytes.length} bytes of base64, the API announced ${media.size}`);
  if (sha256 !== media.sha256) throw new MediaMismatchError(`SHA-256 ${sha256} differs from the announced ${media.sha256}`);
  return media;
}

async function isFolder(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isDirectory();
  } catch {
    return false;
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}
