/** Assertions shared by the end-to-end suites. */
import { STATUS_CODES } from 'node:http';
import { expect } from 'vitest';
import type { ApiResponse, ErrorBody } from './api-client.js';

/**
 * Asserts an error answer of the HTTP contract: `status`, a JSON body
 * `{message: string[] (not empty), error: <reason phrase>, statusCode}` and, when given,
 * messages matching every pattern. Returns the body.
 */
export function expectError(response: ApiResponse, status: number, ...patterns: RegExp[]): ErrorBody {
  const described = `HTTP ${response.status}: ${response.body.toString('utf8').slice(0, 500)}`;
  expect(response.status, described).toBe(status);
  expect(response.header('content-type'), described).toMatch(/^application\/json/);
  const body = response.json<ErrorBody>();
  expect(body, described).toEqual({ message: expect.any(Array), error: STATUS_CODES[status], statusCode: status });
  expect(body.message.length, described).toBeGreaterThan(0);
  for (const message of body.message) expect(typeof message, described).toBe('string');
  const text = body.message.join('\n');
  for (const pattern of patterns) expect(text, described).toMatch(pattern);
  return body;
}

/** Asserts a 200 whose body is exactly `plaintext` (by SHA-256, then length). */
export function expectBytes(response: ApiResponse, sha256: string, length: number): void {
  const described = `HTTP ${response.status}: ${response.status === 200 ? `${response.body.length} bytes` : response.body.toString('utf8').slice(0, 500)}`;
  expect(response.status, described).toBe(200);
  expect(response.sha256(), described).toBe(sha256);
  expect(response.body.length).toBe(length);
}
