import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { EventEmitter } from 'node:events';
import { after, before, describe, test } from 'node:test';

/**
 * `npm start` as a developer runs it: the README's command, Azurite started by it on the default ports
 * (or reused if one is already there), the app served on the port asked for, Ctrl-C stopping everything.
 */
const repo = resolve(__dirname, '..', '..', '..');
let child: ChildProcess;
let baseUrl = '';
const output: string[] = [];
const lines = new EventEmitter();

/** Resolves with the first output line, seen or still to come, that matches. */
function lineMatching(pattern: RegExp): Promise<string> {
  const seen = output.find((l) => pattern.test(l));
  if (seen) return Promise.resolve(seen);
  return new Promise((done) => {
    const listener = (line: string): void => {
      if (!pattern.test(line)) return;
      lines.off('line', listener);
      done(line);
    };
    lines.on('line', listener);
  });
}

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
      GRAPH_CLIENT_STATE: 'e2e-client-state',
      GRAPH_SUBSCRIPTION_SCHEDULE: '*/2 * * * * *',
      // A client secret without a tenant leaves the Graph credential unconfigured: the triggers run, and
      // fail before any request could leave this machine.
      AZURE_CLIENT_SECRET: 'unused',
      AZURE_TENANT_ID: '',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const reader = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  await new Promise<void>((done, fail) => {
    reader.on('line', (line) => {
      output.push(line);
      lines.emit('line', line);
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

  test('runs the queue trigger on what the Graph webhook enqueued', async () => {
    const executing = lineMatching(/Executing 'Functions\.processNotifications' \(Reason='New queue message/);
    const res = await fetch(`${baseUrl}/api/graph-webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        value: [
          {
            subscriptionId: '5b6f3c64-7d8e-4a1f-9c2b-0e1d2c3b4a59',
            clientState: 'e2e-client-state',
            changeType: 'updated',
            resource: 'Users/7f3c2a1b-0000-4000-8000-000000000001',
            resourceData: { '@odata.type': '#Microsoft.Graph.User', id: '7f3c2a1b-0000-4000-8000-000000000001' },
            tenantId: '11111111-2222-4333-8444-555555555555',
          },
        ],
      }),
    });
    assert.equal(res.status, 202);
    await executing;
  });

  test('runs the timer trigger on its schedule', async () => {
    await lineMatching(/Executing 'Functions\.maintainSubscriptions' \(Reason='Timer fired'/);
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
