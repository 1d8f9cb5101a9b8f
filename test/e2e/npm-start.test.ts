import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';

/**
 * `npm start` as a developer runs it: the README's command, Azurite started by it on the default ports
 * (or reused if one is already there), the app served on the port asked for, Ctrl-C stopping everything.
 */
const repo = resolve(__dirname, '..', '..', '..');
let child: ChildProcess;
let baseUrl = '';
const output: string[] = [];

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => done(port));
    });
  });
}

before(async () => {
  const port = await freePort();
  // --ignore-scripts: `npm test` has just built dist/; prestart would rebuild it under the other test files.
  child = spawn('npm', ['start', '--ignore-scripts', '--', '--port', String(port), '--local-host'], {
    cwd: repo,
    env: {
      ...process.env,
      AzureWebJobsStorage: 'UseDevelopmentStorage=true',
      AZURITE_LOCATION: mkdtempSync(join(tmpdir(), 'npm-start-azurite-')),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  await new Promise<void>((done, fail) => {
    lines.on('line', (line) => {
      output.push(line);
      const match = /local host listening on (http:\/\/\S+)/.exec(line);
      if (match?.[1]) {
        baseUrl = match[1];
        done();
      }
    });
    child.once('exit', (code) => fail(new Error(`npm start exited (${code}):\n${output.join('\n')}`)));
  });
});

after(async () => {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, 'exit');
    process.kill(-(child.pid as number), 'SIGINT');
    await exited;
  }
});

describe('npm start', () => {
  test('says which host runs and serves GET /api/health with 200', async () => {
    assert.ok(output.some((l) => /running under the project's local host/.test(l)));
    const res = await fetch(`${baseUrl}/api/health`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string };
    assert.equal(body.status, 'ok');
  });

  test('stops cleanly on Ctrl-C, Azurite included', async () => {
    // The pipe closes once every process holding it (npm and the start script) has exited.
    const closed = once(child.stdout as NodeJS.ReadableStream, 'close');
    process.kill(-(child.pid as number), 'SIGINT');
    await closed;
    assert.ok(output.some((l) => /shutting down/.test(l)));
    assert.ok(output.some((l) => /\[start\] stopped/.test(l)), output.join('\n'));
  });
});
