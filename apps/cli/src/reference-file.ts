import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import { MAX_JSON_DEPTH, describeIssues, downloadBodySchema, jsonDepthExceeds, type DownloadRequestInput } from '@wamedia/shared';
import { STDIO } from './files.js';
import { isRequestBody, problemsInMessage } from './message-input.js';

/**
 * The media reference in a JSON file (`-`: stdin), in any form `wamedia batch` reads a line in:
 * the body of directly-download, or a WhatsApp message as Baileys or an Evolution API webhook
 * delivers it. Checked with the API's schema, so a bad reference is reported without a round trip.
 * @throws Error saying what is wrong with it.
 */
export async function readReferenceFile(file: string): Promise<DownloadRequestInput> {
  const source = file === STDIO ? await text(process.stdin) : await readFile(file, 'utf8');
  const where = file === STDIO ? 'stdin' : file;
  let json: unknown;
  try {
    json = JSON.parse(source);
  } catch (error) {
    throw new Error(`${where}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: must be a JSON object`);
  // As the API refuses such a body: deeper values overflow the stack in validation.
  if (jsonDepthExceeds(json)) throw new Error(`${where}: nested deeper than ${MAX_JSON_DEPTH} levels`);
  const body = json as Record<string, unknown>;
  if (isRequestBody(body)) {
    const request = { contentType: body.contentType, content: body.content };
    const checked = downloadBodySchema.safeParse(request);
    if (!checked.success) throw new Error(`the reference is not usable: ${describeIssues(checked.error).join('; ')}`);
    // Send what the file says, not the parsed Buffers: the API reads every encoding itself.
    return request as DownloadRequestInput;
  }
  const checked = downloadBodySchema.safeParse({ message: body });
  if (!checked.success) throw new Error(`${where}: ${problemsInMessage(checked.error).join('; ')}`);
  // A message goes as the request it comes to: its thumbnails and captions are not sent.
  return checked.data;
}
