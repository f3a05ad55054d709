import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RequestHandler } from 'express';
import {
  HeadersTooLargeError,
  InvalidRequestError,
  RequestTimeoutError,
  RequestTooLargeError,
  toErrorBody,
  type WamediaError,
} from '@wamedia/shared';

/**
 * Requests refused below express, by Node's HTTP parser: a bad request line, header or framing,
 * headers over the size limit, a request too slow to arrive. Node's own answer is a bare status
 * line; this one carries the error body of every other refusal. The server's 'clientError' listener.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A response already started on this connection: any more bytes would corrupt it.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const refusal = clientErrorOf(error);
  const body = JSON.stringify(toErrorBody(refusal));
  socket.write(
    `HTTP/1.1 ${refusal.status} ${STATUS_CODES[refusal.status]}\r\n` +
      'Content-Type: application/json; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`,
  );
  // Closed once the answer is out; the rest of the broken request is never read.
  (socket as Socket).destroySoon();
}

/** The same codes Node's default answer picks: 431, 413, 408, else 400. */
function clientErrorOf(error: NodeJS.ErrnoException): WamediaError {
  switch (error.code) {
    case 'HPE_HEADER_OVERFLOW':
      return new HeadersTooLargeError("the request line and headers are over the server's size limit");
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return new RequestTooLargeError('the chunk extensions of the body are too large');
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new RequestTimeoutError('the request did not arrive in time');
    default: {
      const reason = (error as { reason?: unknown }).reason;
      return new InvalidRequestError([`request: not valid HTTP/1.1 (${typeof reason === 'string' ? reason : (error.code ?? 'parse error')})`]);
    }
  }
}

/**
 * An HTTP/1.1 request must name its Host (RFC 9112 §3.2). Node checks it too, but answers with a
 * bare 400, so main.ts turns Node's check off (`requireHostHeader: false`) and this one answers.
 */
export const requireHostHeader: RequestHandler = (req, _res, next) => {
  if (req.headers.host === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) {
    throw new InvalidRequestError(['headers: Host is required in HTTP/1.1']);
  }
  next();
};
