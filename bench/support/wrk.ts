/**
 * Load from `wrk` (the Debian package of that name), run in a process of its own, with its
 * summary parsed: requests per second, the 99th percentile latency and the non-2xx count.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

const WRK = '/usr/bin/wrk';

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  durationSeconds: number;
  /** A Lua script (wrk.method, wrk.body, wrk.headers) to write and pass with -s. */
  script?: { file: string; lua: string };
}

export interface WrkResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  non2xx: number;
  /** Connect, read, write and timeout errors, summed. */
  socketErrors: number;
}

/** Throws with how to install wrk when it is not at /usr/bin/wrk. */
export function requireWrk(): void {
  if (!existsSync(WRK)) throw new Error('wrk is not installed: the Debian package `wrk` is needed (apt-get install wrk)');
}

/** A Lua script making every request a POST of `body` with `headers`. */
export function postScript(body: string, headers: Record<string, string>): string {
  const quote = (text: string) => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  return [
    'wrk.method = "POST"',
    `wrk.body = ${quote(body)}`,
    ...Object.entries(headers).map(([name, value]) => `wrk.headers[${quote(name)}] = ${quote(value)}`),
    '',
  ].join('\n');
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  requireWrk();
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.durationSeconds}s`, '--latency'];
  if (options.script) {
    await writeFile(options.script.file, options.script.lua);
    args.push('-s', options.script.file);
  }
  args.push(options.url);
  const { stdout } = await promisify(execFile)(WRK, args, { timeout: (options.durationSeconds + 60) * 1000 });
  return parseWrk(stdout);
}

/** Reads wrk's --latency summary. */
export function parseWrk(output: string): WrkResult {
  const number = (pattern: RegExp) => {
    const match = pattern.exec(output);
    if (!match) throw new Error(`unexpected wrk output (no ${pattern}):\n${output}`);
    return match;
  };
  const latency = (percent: number) => {
    const [, value, unit] = number(new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm'));
    return Number(value) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[unit as 'us' | 'ms' | 's' | 'm'];
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requestsPerSecond: Number(number(/^Requests\/sec:\s+([\d.]+)/m)[1]),
    p50Ms: latency(50),
    p99Ms: latency(99),
    requests: Number(number(/^\s*(\d+) requests in /m)[1]),
    non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(output)?.[1] ?? 0),
    socketErrors: socket ? socket.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}
