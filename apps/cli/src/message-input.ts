/**
 * What `wamedia batch` (a line) and `wamedia download` (a file) read: the body of directly-download,
 * or a WhatsApp message itself, which the contract's message schemas read (see messageMedia).
 */

/** Whether `json` is a request body (`{contentType, content}`) rather than a message. */
export function isRequestBody(json: Record<string, unknown>): boolean {
  return Object.hasOwn(json, 'contentType') || Object.hasOwn(json, 'content');
}

/**
 * The problems of a message checked as `{message: <it>}`, named from the message itself (the
 * input is the message): `imageMessage.mediaKey: ...`, not `message.imageMessage.mediaKey: ...`.
 */
export function problemsInMessage(error: { issues: { path: PropertyKey[]; message: string }[] }): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.slice(1).join('.');
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}
