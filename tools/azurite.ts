import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

/** Azurite's well-known development account (public, documented by Microsoft). */
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface RunningAzurite {
  connectionString: string;
  pid: number;
  ports: { blob: number; queue: number; table: number };
  stop(): Promise<void>;
}

export interface AzuriteOptions {
  /** Folder for data; omitted means in memory. */
  location?: string;
  /** Fixed ports (Azurite's defaults for `npm start`); omitted means free ports chosen by the OS. */
  ports?: { blob: number; queue: number; table: number };
}

export function connectionStringFor(ports: RunningAzurite['ports']): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${ACCOUNT}`,
    `AccountKey=${ACCOUNT_KEY}`,
    `BlobEndpoint=http://127.0.0.1:${ports.blob}/${ACCOUNT}`,
    `QueueEndpoint=http://127.0.0.1:${ports.queue}/${ACCOUNT}`,
    `TableEndpoint=http://127.0.0.1:${ports.table}/${ACCOUNT}`,
  ].join(';');
}

/** Starts Azurite (blob, queue and table) as a child process and waits until all three listen. */
export async function startAzurite(options: AzuriteOptions = {}): Promise<RunningAzurite> {
  const ports = options.ports ?? { blob: 0, queue: 0, table: 0 };
  const args = [
    require.resolve('./azurite-child'),
    '--blobPort', String(ports.blob),
    '--queuePort', String(ports.queue),
    '--tablePort', String(ports.table),
    '--disableTelemetry',
    '--skipApiVersionCheck',
    '--silent',
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
  ];
  // stdin is a pipe the child watches: it exits when this process does, however this process ends.
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const seen: Partial<Record<'blob' | 'queue' | 'table', number>> = {};
  const output: string[] = [];
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const ready = new Promise<void>((done, fail) => {
    lines.on('line', (line) => {
      output.push(line);
      const match = /Azurite (Blob|Queue|Table) service is successfully listening at http:\/\/[^:]+:(\d+)/.exec(line);
      if (match) seen[(match[1] as string).toLowerCase() as 'blob'] = Number(match[2]);
      if (seen.blob && seen.queue && seen.table) done();
    });
    child.once('exit', (code) => fail(new Error(`Azurite exited (${code}) before listening: ${output.join(' | ')}`)));
    child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  });
  await ready;
  const running = { blob: seen.blob as number, queue: seen.queue as number, table: seen.table as number };
  return {
    ports: running,
    pid: child.pid as number,
    connectionString: connectionStringFor(running),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
