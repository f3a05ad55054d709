import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { describeIssues, downloadRequestSchema, type DownloadRequestInput } from '@wamedia/shared';
import { mediaReference } from './batch/media-reference.js';
import { STDIO } from './files.js';

/**
 * The media reference in a JSON file (`-`: stdin), in any form `wamedia batch` reads a line in:
 * the body of directly-download, or a WhatsApp message as Baileys or an Evolution API webhook
 * delivers it. Checked with the API's schema, so a bad reference is reported without a round trip.
 * @throws Error saying what is wrong with it.
 */
export async function readReferenceFile(file: string): Promise<DownloadRequestInput> {
  const source = file === STDIO ? await text(process.stdin) : await readFile(file, 'utf8');
  let json: unknown;
  try {
    json = JSON.parse(source);
  } catch (error) {
    throw new Error(`${file === STDIO ? 'stdin' : file}: not valid JSON (${(error as Error).message})`);
  }
  const reference = mediaReference(json);
  if ('problem' in reference) throw new Error(`${file === STDIO ? 'stdin' : file}: ${reference.problem}`);
  const request = { contentType: reference.contentType, content: reference.content };
  const checked = downloadRequestSchema.safeParse(request);
  if (!checked.success) throw new Error(`the reference is not usable: ${describeIssues(checked.error).join('; ')}`);
  // Send what the file says, not the parsed Buffers: the API reads every encoding itself.
  return request as DownloadRequestInput;
}
