import http from 'node:http';
import { resolve } from 'node:path';

import { LocalHost } from '../local-host/host';

/**
 * Child process of the cold-start bench: a fresh process that loads an app through the local host (as
 * the worker loads `main`), sends it one request on loopback and prints how long the process took, from
 * its start, to have the whole answer, with the answer's status and body for the parent to check.
 * Arguments: app folder, method, path, headers as JSON, body as base64.
 */
const [appDir = '.', method = 'GET', path = '/', headers = '{}', body = ''] = process.argv.slice(2);

async function main(): Promise<void> {
  const host = new LocalHost({ appDir: resolve(appDir), port: 0, log: () => undefined, triggers: false });
  await host.start();
  const answer = await new Promise<{ status: number; body: string }>((done, fail) => {
    const request = http.request(`${host.url}${path}`, { method, headers: JSON.parse(headers) as Record<string, string> });
    request.once('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.once('end', () => done({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      response.once('error', fail);
    });
    request.once('error', fail);
    request.end(Buffer.from(body, 'base64'));
  });
  const ms = performance.now();
  process.stdout.write(JSON.stringify({ ms, ...answer }));
  // The process ends here as a worker's would be measured: no orderly host shutdown in the figure.
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
