import { once } from 'node:events';
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '@wamedia/server';
import { logRequests } from './log-requests.js';

/** An app with logRequests in front of a few routes, its log lines parsed as they are written. */
async function serve(): Promise<{ origin: string; lines: Record<string, any>[]; nextLine: () => Promise<Record<string, any>>; server: Server }> {
  const lines: Record<string, any>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      sink.emit('line');
      done();
    },
  });
  const app = express();
  app.use(logRequests(createLogger({ level: 'info', name: 'test' }, sink), (req) => req.url === '/healthz'));
  app.get('/healthz', (_req, res) => void res.send('ok'));
  app.get('/media', (req, res) => void res.json({ id: req.id }));
  app.get('/broken', (_req, res) => void res.status(500).end());
  app.get('/hang', () => undefined);
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const nextLine = async () => {
    const seen = lines.length;
    while (lines.length === seen) await once(sink, 'line');
    return lines[seen]!;
  };
  return { origin, lines, nextLine, server };
}

const servers: Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    server.close();
  }
});

describe('logRequests', () => {
  it("logs one line per answered request, with the caller's request id, and no token", async () => {
    const { origin, nextLine } = await serve();
    const line = nextLine();
    const response = await fetch(`${origin}/media?x=1`, { headers: { 'x-request-id': 'req-1.a', authorization: 'Bearer secret-token' } });
    expect(response.headers.get('x-request-id')).toBe('req-1.a');
    expect(await response.json()).toEqual({ id: 'req-1.a' });
    expect(await line).toMatchObject({
      msg: 'request completed',
      reqId: 'req-1.a',
      req: { id: 'req-1.a', method: 'GET', url: '/media?x=1', headers: { authorization: '[redacted]' } },
      res: { statusCode: 200 },
      responseTime: expect.any(Number),
    });
  });

  it('gives a request without a sane id one of its own, and logs nothing for an ignored one', async () => {
    const { origin, lines, nextLine } = await serve();
    const probe = await fetch(`${origin}/healthz`, { headers: { 'x-request-id': 'not sane' } });
    expect(probe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const line = nextLine();
    await (await fetch(`${origin}/broken`)).arrayBuffer();
    expect(await line).toMatchObject({ msg: 'request errored', res: { statusCode: 500 } });
    expect(lines.map((l) => l.req.url)).toEqual(['/broken']);
  });

  it('logs a request its client gave up on as aborted', async () => {
    const { origin, nextLine, server } = await serve();
    const line = nextLine();
    const received = once(server, 'request');
    const client = request(`${origin}/hang`);
    client.on('error', () => undefined);
    client.end();
    await received;
    client.destroy();
    expect(await line).toMatchObject({ msg: 'request aborted', req: { url: '/hang' } });
  });
});
