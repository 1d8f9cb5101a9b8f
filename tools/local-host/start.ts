import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { join, resolve } from 'node:path';

import { type RunningAzurite, startAzurite } from '../azurite';
import { LocalHost } from './host';
import { loadLocalSettings } from './settings';

/**
 * `npm start`: runs the app on port 7071 (or `--port N`) with Azurite, under Azure Functions Core Tools
 * when `func` is on the PATH, otherwise under this project's local host. `--local-host` forces the latter;
 * `--host ADDRESS` makes the local host listen on another interface than loopback (with a warning).
 * Azurite, when started here, ends with this process however it ends (see tools/azurite-child.ts).
 */

const appDir = resolve(__dirname, '..', '..', '..');
const AZURITE_PORTS = { blob: 10000, queue: 10001, table: 10002 };

function argument(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index === -1 ? undefined : process.argv[index + 1];
}

function isListening(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

function hasFunc(): boolean {
  return spawnSync(process.platform === 'win32' ? 'where' : 'which', ['func'], { stdio: 'ignore' }).status === 0;
}

/** Starts Azurite on its default ports when the app uses development storage and none is running. */
async function ensureAzurite(): Promise<RunningAzurite | undefined> {
  if (!/UseDevelopmentStorage=true/i.test(process.env.AzureWebJobsStorage ?? '')) return undefined;
  if (await isListening(AZURITE_PORTS.queue)) {
    console.log('[start] Azurite is already listening on 127.0.0.1:10001; using it');
    return undefined;
  }
  const location = resolve(process.env.AZURITE_LOCATION ?? join(appDir, '.azurite'));
  mkdirSync(location, { recursive: true });
  const azurite = await startAzurite({ location, ports: AZURITE_PORTS });
  console.log(`[start] Azurite started (data in ${location}, telemetry off)`);
  return azurite;
}

async function main(): Promise<void> {
  const port = Number(argument('--port') ?? 7071);
  const settingsFile = loadLocalSettings(appDir);
  console.log(`[start] settings from ${settingsFile ?? 'the environment only'}`);
  const azurite = await ensureAzurite();

  if (hasFunc() && !process.argv.includes('--local-host')) {
    console.log('[start] running under Azure Functions Core Tools (func start)');
    const func = spawn('func', ['start', '--port', String(port)], { cwd: appDir, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals): void => void func.kill(signal);
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    func.once('exit', (code) => void azurite?.stop().finally(() => process.exit(code ?? 0)));
    return;
  }

  console.log('[start] Azure Functions Core Tools not found: running under the project\'s local host');
  const listenOn = argument('--host');
  if (listenOn && !['127.0.0.1', 'localhost', '::1'].includes(listenOn)) {
    console.warn(
      `[start] WARNING: listening on ${listenOn}, not only on loopback. The local host checks no function keys: ` +
        'anyone who can reach this address can call createExpense, getExpense and the admin API.',
    );
  }
  const host = new LocalHost({ appDir, port, ...(listenOn ? { host: listenOn } : {}) });
  await host.start();
  console.log(`[start] local host listening on ${host.url}\nFunctions:\n${host.describe().join('\n')}`);
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('[start] shutting down');
    void host
      .stop()
      .then(() => azurite?.stop())
      .then(() => console.log('[start] stopped'))
      .finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`[start] failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
