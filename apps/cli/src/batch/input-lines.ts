import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { batchItemSchema, describeIssues, messageMedia, type BatchItemRequestInput } from '@wamedia/shared';

/** One line of the input, once read: an item to download, or why it can't be one. */
export type InputLine =
  | { kind: 'item'; line: number; item: BatchItemRequestInput }
  | { kind: 'invalid'; line: number; id: string; messages: string[] };

/**
 * Reads a JSONL file of media references, one per line: the body of the single endpoint
 * (`{id?, contentType, content}`), or a WhatsApp message in any shape messageMedia reads; blank lines
 * are skipped. Each item gets its id (the line's own, else the line number) and is checked with
 * the API's schema, so a bad line is reported without a round trip; an id used twice is
 * refused on its second line, since the id names the output file and the manifest entry.
 */
export async function readInputLines(file: string): Promise<InputLine[]> {
  const lines: InputLine[] = [];
  const used = new Map<string, number>();
  const reader = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let number = 0;
  for await (const text of reader) {
    number++;
    if (text.trim() === '') continue;
    const parsed = parseLine(text, number);
    const id = parsed.kind === 'item' ? parsed.item.id : parsed.id;
    const first = used.get(id);
    if (first !== undefined) {
      lines.push({ kind: 'invalid', line: number, id, messages: [`id: "${id}" is already used on line ${first}`] });
      continue;
    }
    used.set(id, number);
    lines.push(parsed);
  }
  return lines;
}

/** One non-blank line as an item, or the reasons it is not one. */
export function parseLine(text: string, line: number): InputLine {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { kind: 'invalid', line, id: String(line), messages: [`not valid JSON (${(error as Error).message})`] };
  }
  const reference = lineReference(json);
  if ('problem' in reference) return { kind: 'invalid', line, id: String(line), messages: [reference.problem] };
  const item = { id: reference.id ?? String(line), contentType: reference.contentType, content: reference.content };
  const checked = batchItemSchema.safeParse(item);
  if (!checked.success) {
    return { kind: 'invalid', line, id: typeof item.id === 'string' ? item.id : String(line), messages: describeIssues(checked.error) };
  }
  // Send what the line says, not the parsed Buffers: the API reads every encoding itself.
  return { kind: 'item', line, item: item as BatchItemRequestInput };
}

/** A line's media reference: a request body as it is, or what its message comes to. */
function lineReference(json: unknown): { id: unknown; contentType: unknown; content: unknown } | { problem: string } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return { problem: 'must be a JSON object' };
  if (Object.hasOwn(json, 'contentType') || Object.hasOwn(json, 'content')) {
    const body = json as { id?: unknown; contentType?: unknown; content?: unknown };
    return { id: body.id, contentType: body.contentType, content: body.content };
  }
  const media = messageMedia(json);
  if ('problem' in media) return { problem: media.problem };
  return { id: media.id, contentType: media.contentType, content: media.content };
}
