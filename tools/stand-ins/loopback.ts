import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackServer {
  url: string;
  close(): Promise<void>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  url: URL;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type Reply = { status?: number; headers?: Record<string, string>; json?: unknown; body?: string | Buffer };

/** A server on 127.0.0.1 and a free port; the handler gets the whole request body. */
export async function startLoopbackServer(
  handler: (request: RecordedRequest) => Reply | Promise<Reply>,
): Promise<LoopbackServer> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const request = { method: req.method ?? 'GET', path: url.pathname, url, headers: req.headers, body: Buffer.concat(chunks) };
      Promise.resolve(handler(request))
        .then((reply) => {
          const body = reply.json !== undefined ? JSON.stringify(reply.json) : (reply.body ?? '');
          const headers = { ...(reply.json !== undefined ? { 'content-type': 'application/json' } : {}), ...reply.headers };
          res.writeHead(reply.status ?? 200, headers).end(body);
        })
        .catch((err: unknown) => res.writeHead(500).end(String(err)));
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}
