import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { MAX_JSON_DEPTH, batchItemBodySchema, describeIssues, jsonDepthExceeds, messageKeyId, type BatchItemRequestInput } from '@wamedia/shared';
import { isRequestBody, problemsInMessage } from '../message-input.js';

/** One line of the input, once read: an item to download, or why it can't be one. */
export type InputLine =
  | { kind: 'item'; line: number; item: BatchItemRequestInput }
  | { kind: 'invalid'; line: number; id: string; messages: string[] };

/**
 * Reads a JSONL file of media references, one per line: the body of the single endpoint
 * (`{id?, contentType, content}`), or a WhatsApp message in any shape messageMedia reads; blank
 * lines are skipped. Each item gets its id (the line's own, else its message's key.id, else the
 * line number) and is checked with the API's schema, so a bad line is reported without a round
 * trip; an id used twice is refused on its second line, since the id names the output file and
 * the manifest entry.
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
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { kind: 'invalid', line, id: String(line), messages: ['must be a JSON object'] };
  }
  // As the API refuses such a body: deeper values overflow the stack in validation.
  if (jsonDepthExceeds(json)) return { kind: 'invalid', line, id: String(line), messages: [`nested deeper than ${MAX_JSON_DEPTH} levels`] };
  const item = asBatchItem(json as Record<string, unknown>, line);
  const checked = batchItemBodySchema.safeParse(item);
  if (!checked.success) {
    const id = typeof item.id === 'string' ? item.id : String(line);
    return { kind: 'invalid', line, id, messages: 'message' in item ? problemsInMessage(checked.error) : describeIssues(checked.error) };
  }
  // A request body goes as the line says (the API reads every encoding itself); a message as the
  // request it comes to, so its thumbnails and captions are neither kept here nor sent.
  return { kind: 'item', line, item: 'message' in item ? checked.data : (item as BatchItemRequestInput) };
}

/**
 * A line as a batch item: a request body as it is, or a WhatsApp message (read by messageMedia,
 * through the batch item schema). Its id: the line's own, else the message's key.id, else the
 * line number.
 */
function asBatchItem(json: Record<string, unknown>, line: number): { id: unknown } & Record<string, unknown> {
  if (isRequestBody(json)) return { ...json, id: json.id ?? String(line) };
  return { id: messageKeyId(json) ?? String(line), message: json };
}
