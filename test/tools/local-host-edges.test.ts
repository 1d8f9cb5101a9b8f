import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { routablePath } from '../../tools/local-host/host';
import { useAzurite } from '../support/azurite';
import { appModules, startTestHost, type TestHost } from '../support/local-host';

/**
 * The local host on a hostile network: every test talks to it over real sockets, with request lines no
 * browser would send. It must refuse what is not its own, never forward elsewhere, and keep serving.
 */
useAzurite();
let served: TestHost;
let bystander: http.Server;
let bystanderHits = 0;

before(async () => {
  process.env.FIXTURE_QUEUE = 'fixture-queue-edges';
  served = await startTestHost('edges-app', [
    resolve(__dirname, '..', 'fixtures', 'trigger-app.js'),
    ...appModules('health').slice(1),
  ]);
  // Another service on loopback: what an open proxy would reach.
  bystander = http.createServer((_req, res) => {
    bystanderHits++;
    res.end('secret');
  });
  bystander.listen(0, '127.0.0.1');
  await once(bystander, 'listening');
});

after(async () => {
  await served.host.stop();
  bystander.close();
});

/** Sends raw bytes on a new connection and returns everything the host answers until it closes. */
async function raw(request: string | Buffer): Promise<string> {
  const socket = net.connect(served.host.port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.end(request);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

const statusOf = (answer: string): number => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);

describe('local host: requests that are not its own', () => {
  test('an absolute-form request line is a 400 and reaches no other service, reachable or not', async () => {
    const { port } = bystander.address() as net.AddressInfo;
    for (const target of [`http://127.0.0.1:${port}/anything`, 'http://127.0.0.1:1/api/health', `//127.0.0.1:${port}/x`]) {
      const answer = await raw(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer secret\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(answer), 400, target);
      assert.doesNotMatch(answer, /secret/);
    }
    assert.equal(bystanderHits, 0);
    assert.equal((await fetch(`${served.host.url}/api/health`)).status, 200, 'still serving');
  });

  test('dot segments, raw or encoded, are a 400 and never reach the admin API', async () => {
    for (const path of ['/api/../admin/functions/recordMessage', '/api/%2e%2e/admin/functions/recordMessage', '/api/echo/%2E/x', '/api/echo/a%2fb']) {
      const answer = await raw(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`);
      assert.equal(statusOf(answer), 400, path);
    }
    assert.ok(!served.lines.some((line) => line.includes("Executing 'Functions.recordMessage'")));
  });

  test('bad %-encoding and non-ASCII bytes in the path are a 400, not a 500', async () => {
    for (const path of ['/api/echo/%E0%A4%A', '/api/echo/%ZZ', '/api/echo/%ED%A0%80', '/api/echo/\u00e9']) {
      const answer = await raw(Buffer.from(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`, 'latin1'));
      assert.equal(statusOf(answer), 400, path);
    }
  });

  test('an admin body over 1 MiB is a 413 and runs nothing', async () => {
    const body = JSON.stringify({ input: 'x'.repeat(2 * 1024 * 1024) });
    const res = await fetch(`${served.host.url}/admin/functions/recordMessage`, { method: 'POST', body }).catch(
      (err: unknown) => err as Error,
    );
    // The host may close the socket while the client is still sending: a refusal either way.
    if (!(res instanceof Error)) assert.equal(res.status, 413);
    assert.ok(!served.lines.some((line) => line.includes("Executing 'Functions.recordMessage'")));
  });

  test('it listens on loopback only', async (t) => {
    const address = Object.values(networkInterfaces())
      .flat()
      .find((info) => info && info.family === 'IPv4' && !info.internal)?.address;
    if (!address) return t.skip('this machine has no non-loopback IPv4 interface to try');
    const socket = net.connect(served.host.port, address);
    const [error] = (await once(socket, 'error')) as [NodeJS.ErrnoException];
    assert.equal(error.code, 'ECONNREFUSED');
  });
});

describe('local host: a 413 leaves the connection usable', () => {
  // The echo function reads its body with the app's readBody, as every endpoint does.
  test('after a chunked body over 1 MiB, the next request on the same keep-alive connection is answered', { timeout: 30_000 }, async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const send = (options: http.RequestOptions, body?: (req: http.ClientRequest) => void): Promise<{ status: number; reused: boolean }> =>
      new Promise((done, fail) => {
        const req = http.request({ host: '127.0.0.1', port: served.host.port, agent, ...options }, (res) => {
          res.resume();
          res.once('end', () => done({ status: res.statusCode ?? 0, reused: req.reusedSocket }));
        });
        req.once('error', fail);
        if (body) body(req);
        else req.end();
      });
    try {
      assert.equal((await send({ path: '/api/health' })).status, 200);
      const big = await send({ method: 'POST', path: '/api/echo/big' }, (req) => {
        for (let i = 0; i < 40; i++) req.write(Buffer.alloc(64 * 1024, 32));
        req.end();
      });
      assert.equal(big.status, 413);
      assert.equal(big.reused, true);
      const next = await send({ path: '/api/health' });
      assert.equal(next.status, 200);
      assert.equal(next.reused, true, 'the same connection carried the next request');
    } finally {
      agent.destroy();
    }
  });
});

describe('npm start: Azurite ends with the process that started it', () => {
  test('a crash of the starting process leaves no Azurite behind', async () => {
    const script = `
      const { startAzurite } = require(${JSON.stringify(resolve(__dirname, '..', '..', 'tools', 'azurite.js'))});
      startAzurite().then((azurite) => { console.log('pid ' + azurite.pid); setImmediate(() => { throw new Error('crash'); }); });
    `;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    parent.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const [code] = (await once(parent, 'exit')) as [number];
    assert.notEqual(code, 0);
    const pid = Number(/pid (\d+)/.exec(out)?.[1]);
    assert.ok(pid > 0, out);
    // Another process's exit cannot be awaited as an event: look, briefly, until it is gone.
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await delay(50);
    assert.equal(alive(), false, `Azurite (pid ${pid}) outlived its parent`);
  });
});

describe('routablePath', () => {
  test('takes origin-form paths with their query, and nothing else', () => {
    assert.deepEqual(routablePath('/api/expenses/EXP-1?x=%20y'), { pathname: '/api/expenses/EXP-1', search: '?x=%20y' });
    for (const target of [undefined, '', '*', 'example.com:443', 'http://a/b', '//a/b', '/a\\b', '/a/%5c/b', '/a b']) {
      assert.equal(routablePath(target), undefined, String(target));
    }
  });
});
