// SDKs are loaded with import() (their ESM builds), so types come from the same builds.
import type { TableClient, TableEntityResult } from '@azure/data-tables' with { 'resolution-mode': 'import' };
import type { TokenCredential } from '@azure/identity' with { 'resolution-mode': 'import' };
import type { QueueClient } from '@azure/storage-queue' with { 'resolution-mode': 'import' };

import { AppError, ensureError, NotConfiguredError, UnavailableError } from '../core/errors';
import { isRecord } from '../core/http';

/**
 * The app's own storage clients, built the way the Functions host reads `AzureWebJobsStorage`: a
 * connection string locally (Azurite's `UseDevelopmentStorage=true` included), or identity-based
 * `AzureWebJobsStorage__*` settings in Azure. SDKs load on first use and clients are made once per
 * instance.
 */

const CONNECTION = 'AzureWebJobsStorage';

type StorageTarget =
  | { kind: 'connectionString'; connectionString: string }
  | { kind: 'identity'; queueServiceUri: string; tableServiceUri: string; credential: () => Promise<TokenCredential> };

function storageTarget(env: NodeJS.ProcessEnv = process.env): StorageTarget {
  const connectionString = env[CONNECTION]?.trim();
  if (connectionString) return { kind: 'connectionString', connectionString };
  const account = env[`${CONNECTION}__accountName`]?.trim();
  const queueServiceUri =
    env[`${CONNECTION}__queueServiceUri`]?.trim() || (account ? `https://${account}.queue.core.windows.net` : undefined);
  const tableServiceUri =
    env[`${CONNECTION}__tableServiceUri`]?.trim() || (account ? `https://${account}.table.core.windows.net` : undefined);
  if (!queueServiceUri || !tableServiceUri) {
    throw new NotConfiguredError('storage', [CONNECTION, `${CONNECTION}__accountName`]);
  }
  const managed = env[`${CONNECTION}__credential`]?.trim().toLowerCase() === 'managedidentity';
  const clientId = env[`${CONNECTION}__clientId`]?.trim();
  return {
    kind: 'identity',
    queueServiceUri,
    tableServiceUri,
    credential: async () => {
      const identity = await import('@azure/identity');
      return managed
        ? new identity.ManagedIdentityCredential(clientId ? { clientId } : {})
        : new identity.DefaultAzureCredential(clientId ? { managedIdentityClientId: clientId } : {});
    },
  };
}

const isInsecureLocal = (target: StorageTarget): boolean =>
  target.kind === 'connectionString' && /UseDevelopmentStorage=true|=http:\/\//i.test(target.connectionString);

let credentialPromise: Promise<TokenCredential> | undefined;
function sharedCredential(target: Extract<StorageTarget, { kind: 'identity' }>): Promise<TokenCredential> {
  credentialPromise ??= target.credential();
  return credentialPromise;
}

const queues = new Map<string, Promise<QueueClient>>();
const tables = new Map<string, Promise<TableClient>>();

/**
 * Storage that is down must turn into a quick 503 (Microsoft then retries) rather than a caller waiting
 * out the SDKs' default retries (tens of seconds, past Graph's 3 s and Teams' 5 s): a few short retries,
 * each try bounded.
 */
const QUEUE_RETRY = { maxTries: 3, tryTimeoutInMs: 5_000, retryDelayInMs: 100, maxRetryDelayInMs: 1_000 };
const TABLE_RETRY = { maxRetries: 2, retryDelayInMs: 100, maxRetryDelayInMs: 1_000 };

/** The named queue, created if missing the first time this instance uses it. */
export function queueClient(name: string): Promise<QueueClient> {
  const cached = queues.get(name);
  if (cached) return cached;
  const client = (async () => {
    const target = storageTarget();
    const { QueueClient } = await import('@azure/storage-queue');
    const options = { retryOptions: QUEUE_RETRY };
    const queue =
      target.kind === 'connectionString'
        ? new QueueClient(target.connectionString, name, options)
        : new QueueClient(
            `${target.queueServiceUri.replace(/\/+$/, '')}/${name}`,
            await sharedCredential(target),
            options,
          );
    await queue.createIfNotExists();
    return queue;
  })();
  // A failed creation is retried on the next call instead of being cached.
  client.catch(() => queues.delete(name));
  queues.set(name, client);
  return client;
}

/** The named table, created if missing the first time this instance uses it. */
export function tableClient(name: string): Promise<TableClient> {
  const cached = tables.get(name);
  if (cached) return cached;
  const client = (async () => {
    const target = storageTarget();
    const { TableClient } = await import('@azure/data-tables');
    const table =
      target.kind === 'connectionString'
        ? TableClient.fromConnectionString(target.connectionString, name, {
            allowInsecureConnection: isInsecureLocal(target),
            retryOptions: TABLE_RETRY,
          })
        : new TableClient(target.tableServiceUri, name, await sharedCredential(target), { retryOptions: TABLE_RETRY });
    await table.createTable();
    return table;
  })();
  client.catch(() => tables.delete(name));
  tables.set(name, client);
  return client;
}

/** The HTTP status of a failed storage call (the SDKs' RestError.statusCode), when it has one. */
export function storageStatus(err: unknown): number | undefined {
  return isRecord(err) && typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

/**
 * Runs storage work so that an unreachable or failing service (no status, or 5xx) is an UnavailableError,
 * a 503 that the caller retries; the app's own errors and storage's 4xx pass through unchanged.
 */
export async function withStorage<T>(operation: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    const code = storageStatus(err);
    if (code === undefined || code >= 500) {
      throw new UnavailableError(`${operation} failed: ${ensureError(err).message}`, { cause: err });
    }
    throw err;
  }
}

/** The row, or undefined when the table has none with these keys. */
export async function getEntityIfExists<T extends object>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  try {
    return await table.getEntity<T>(partitionKey, rowKey);
  } catch (err) {
    if (storageStatus(err) === 404) return undefined;
    throw err;
  }
}

/**
 * Deletes the row only if it is unchanged since it was read with `etag`. False when it is gone or was
 * changed: of two writers racing for the same row, exactly one gets true.
 */
export async function deleteEntityIfUnchanged(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  etag: string,
): Promise<boolean> {
  try {
    await table.deleteEntity(partitionKey, rowKey, { etag });
    return true;
  } catch (err) {
    const status = storageStatus(err);
    if (status === 404 || status === 412) return false;
    throw err;
  }
}

/**
 * Queue messages are base64-encoded JSON, the Functions host's default `messageEncoding` (host.json says
 * so explicitly): the trigger decodes them and @azure/functions hands the handler the parsed object.
 * Portal and Storage Explorer use the same encoding, so messages written by hand work too.
 */
export function encodeQueueMessage(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64');
}

export function decodeQueueMessage(messageText: string): unknown {
  return JSON.parse(Buffer.from(messageText, 'base64').toString('utf8')) as unknown;
}

/** Azure's limit is 64 KiB for the encoded message; base64 grows JSON by 4/3. */
export const MAX_QUEUE_MESSAGE_BYTES = 64 * 1024;

export async function enqueueJson(queueName: string, value: unknown): Promise<void> {
  const text = encodeQueueMessage(value);
  if (Buffer.byteLength(text) > MAX_QUEUE_MESSAGE_BYTES) {
    throw new RangeError(`queue message of ${Buffer.byteLength(text)} bytes exceeds ${MAX_QUEUE_MESSAGE_BYTES}`);
  }
  const queue = await queueClient(queueName);
  await queue.sendMessage(text);
}
