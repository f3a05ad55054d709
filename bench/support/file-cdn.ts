/**
 * A CDN stand-in for big media: serves .enc files from disk with fs.createReadStream, so a
 * 256 MiB or 1 GiB file never sits in the bench's memory. Each path can hold its response
 * (before the status line) for a number of ms, as a slow CDN does.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

interface FileRoute {
  file: string;
  holdMs: number;
}

export class FileCdn {
  /** Requests received so far. */
  requests = 0;
  private readonly routes = new Map<string, FileRoute>();
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FileCdn> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const cdn = new FileCdn(server, (server.address() as AddressInfo).port);
    server.on('connection', (socket) => {
      cdn.sockets.add(socket);
      socket.once('close', () => cdn.sockets.delete(socket));
    });
    server.on('request', (req, res) => {
      cdn.requests++;
      const route = cdn.routes.get(new URL(req.url ?? '/', 'http://cdn').pathname);
      if (!route) return void res.writeHead(404, { 'content-length': '0' }).end();
      void cdn.serve(route, res);
    });
    return cdn;
  }

  /** `http://127.0.0.1:<port>`. */
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Serves `file` at `pathname`, each response held `holdMs` first. */
  serveFile(pathname: string, file: string, holdMs = 0): void {
    this.routes.set(pathname, { file, holdMs });
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async serve(route: FileRoute, res: import('node:http').ServerResponse): Promise<void> {
    if (route.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, route.holdMs));
    const { size } = await stat(route.file);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    // A client that goes away mid-body is not the CDN's problem.
    await pipeline(createReadStream(route.file, { highWaterMark: 256 * 1024 }), res).catch(() => undefined);
  }
}
