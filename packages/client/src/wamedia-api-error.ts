import { STATUS_CODES } from 'node:http';
import { errorBodySchema, type ErrorBody } from '@wamedia/shared';

/**
 * An answer of the API that is not what was asked for: an error status with its error body
 * (`{message[], error, statusCode}`), or, with `error` "Unexpected Response", an answer the
 * client could not read (not JSON, missing ETag, ...).
 */
export class WamediaApiError extends Error {
  /** The HTTP status, e.g. 422. */
  readonly statusCode: number;
  /** The reason phrase of the body, e.g. "Unprocessable Entity". */
  readonly error: string;
  /** One message per problem, as the API wrote them. */
  readonly messages: string[];

  constructor(body: ErrorBody, options?: { cause?: unknown }) {
    super(`${body.statusCode} ${body.error}: ${body.message.join('; ')}`, options);
    this.name = 'WamediaApiError';
    this.statusCode = body.statusCode;
    this.error = body.error;
    this.messages = body.message;
  }

  /** The error as the API's error body, e.g. for a manifest or a log line. */
  toJSON(): ErrorBody {
    return { message: this.messages, error: this.error, statusCode: this.statusCode };
  }

  /** Whether another attempt may succeed: 5xx (the CDN, Redis or storage) and 429. */
  get retryable(): boolean {
    return this.statusCode >= 500 || this.statusCode === 429;
  }

  /** The error an answer with a non-2xx status stands for; consumes the body. */
  static async fromResponse(response: Response): Promise<WamediaApiError> {
    const text = await response.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // Not our error body (a proxy's HTML page, an empty 502): keep the status and a glimpse.
    }
    const parsed = errorBodySchema.safeParse(json);
    if (parsed.success) return new WamediaApiError(parsed.data);
    const glimpse = text.trim().slice(0, 200);
    return new WamediaApiError({
      statusCode: response.status,
      error: STATUS_CODES[response.status] ?? 'Error',
      message: [glimpse || `HTTP ${response.status} without an error body`],
    });
  }

  /** An answer the client cannot use: its status, and what was wrong with it. */
  static unexpected(response: Response, problem: string): WamediaApiError {
    return new WamediaApiError({ statusCode: response.status, error: 'Unexpected Response', message: [problem] });
  }
}
