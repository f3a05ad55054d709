/**
 * A minimal Redis client (RESP2 over node:net) for the test harness: enough to look at and clean
 * up the keys one test file made, without adding ioredis to the test package.
 * Commands run one at a time per connection, in order; replies are matched FIFO.
 */
import { connect, type Socket } from 'node:net';

export class RedisReplyError extends Error {}

/** A decoded RESP2 reply; an error nested in an array (EXEC) stays a RedisReplyError item. */
export type RedisReply = string | number | null | RedisReplyError | RedisReply[];

interface Pending {
  resolve: (reply: RedisReply) => void;
  reject: (error: Error) => void;
}

/** Why a buffer does not hold a whole reply yet. */
const INCOMPLETE = Symbol('incomplete');

export class RedisClient {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];
  private closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.failAll(error));
    socket.on('close', () => this.failAll(new Error('redis connection closed')));
  }

  /** Connects to `redisUrl` (redis://host:port[/db]; no auth, no TLS: the test Redis has neither). */
  static async connect(redisUrl = 'redis://127.0.0.1:6379'): Promise<RedisClient> {
    const url = new URL(redisUrl);
    const socket = connect({ host: url.hostname, port: Number(url.port || 6379) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RedisClient(socket);
    const db = url.pathname.length > 1 ? url.pathname.slice(1) : '';
    if (db) await client.command('SELECT', db);
    return client;
  }

  /** Sends one command and resolves with its reply; an error reply rejects with RedisReplyError. */
  command(...args: (string | number)[]): Promise<RedisReply> {
    if (this.closed) return Promise.reject(new Error('redis client is closed'));
    const parts = args.map((arg) => Buffer.from(String(arg)));
    const head = `*${parts.length}\r\n`;
    const body = parts.flatMap((part) => [Buffer.from(`$${part.length}\r\n`), part, Buffer.from('\r\n')]);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(Buffer.concat([Buffer.from(head), ...body]));
    });
  }

  /** Every key matching the glob `pattern` (SCAN, never KEYS). */
  async scan(pattern: string): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const reply = (await this.command('SCAN', cursor, 'MATCH', pattern, 'COUNT', 1000)) as [string, string[]];
      cursor = reply[0];
      keys.push(...reply[1]);
    } while (cursor !== '0');
    return [...new Set(keys)];
  }

  /** Deletes every key matching `pattern`; returns how many were deleted. */
  async deleteMatching(pattern: string): Promise<number> {
    const keys = await this.scan(pattern);
    let deleted = 0;
    for (let i = 0; i < keys.length; i += 500) {
      deleted += (await this.command('DEL', ...keys.slice(i, i + 500))) as number;
    }
    return deleted;
  }

  /** Every string a key holds, whatever its type (see {@link keyContents}). */
  contents(key: string): Promise<{ type: string; values: string[] }> {
    return keyContents((...args) => this.command(...args), key);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.command('EXISTS', key)) === 1;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => this.socket.end(resolve));
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    while (this.pending.length > 0) {
      const parsed = parseReply(this.buffer, 0);
      if (parsed === INCOMPLETE) return;
      this.buffer = this.buffer.subarray(parsed.next);
      const waiter = this.pending.shift()!;
      if (parsed.value instanceof RedisReplyError) waiter.reject(parsed.value);
      else waiter.resolve(parsed.value);
    }
  }

  private failAll(error: Error): void {
    this.closed = true;
    for (const waiter of this.pending.splice(0)) waiter.reject(error);
  }
}

/** What the tests read Redis with: this client on one Redis, ClusterClient (cluster-client.ts) on a cluster. */
export type TestRedis = Pick<RedisClient, 'command' | 'scan' | 'deleteMatching' | 'contents' | 'exists' | 'close'>;

/**
 * Every string a key holds, whatever its type: a string's value, a hash's fields and values, a
 * list's, set's or sorted set's members (with scores), a stream's ids, fields and values. Empty
 * when the key is gone. For searching Redis for what must not be there.
 */
export async function keyContents(
  command: (...args: (string | number)[]) => Promise<RedisReply>,
  key: string,
): Promise<{ type: string; values: string[] }> {
  const type = (await command('TYPE', key)) as string;
  const read: Record<string, (string | number)[]> = {
    string: ['GET', key],
    hash: ['HGETALL', key],
    list: ['LRANGE', key, 0, -1],
    set: ['SMEMBERS', key],
    zset: ['ZRANGE', key, 0, -1, 'WITHSCORES'],
    stream: ['XRANGE', key, '-', '+'],
  };
  if (type === 'none') return { type, values: [] };
  const args = read[type];
  if (!args) throw new Error(`key ${key} has a type this helper does not read: ${type}`);
  return { type, values: flatten(await command(...args)) };
}

type Parsed = { value: RedisReply; next: number };

function parseReply(buffer: Buffer, offset: number): Parsed | typeof INCOMPLETE {
  const lineEnd = buffer.indexOf('\r\n', offset);
  if (lineEnd === -1) return INCOMPLETE;
  const type = String.fromCharCode(buffer[offset]!);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RedisReplyError(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length === -1) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return INCOMPLETE;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count === -1) return { value: null, next: afterLine };
      const items: RedisReply[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (item === INCOMPLETE) return INCOMPLETE;
        items.push(item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`);
  }
}

/** The strings of a reply, nested arrays (EXEC, XRANGE) flattened in order. */
function flatten(reply: RedisReply): string[] {
  if (reply === null || reply instanceof RedisReplyError) return [];
  if (Array.isArray(reply)) return reply.flatMap(flatten);
  return [String(reply)];
}

/** Deletes every key under `<prefix>:` from the Redis at `redisUrl`: what a test left in a shared Redis. */
export async function deleteKeysUnder(redisUrl: string, prefix: string): Promise<void> {
  const client = await RedisClient.connect(redisUrl);
  try {
    await client.deleteMatching(`${prefix}:*`);
  } finally {
    await client.close();
  }
}
