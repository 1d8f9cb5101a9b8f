/**
 * Everything an app could have written to the file's Azurite, as comparable keys: each table entity with
 * its ETag (so an update shows, not only an insert) and each non-empty queue with its message count.
 * Equal snapshots before and after a request mean it wrote nothing.
 */
export async function storageSnapshot(connectionString = process.env.AzureWebJobsStorage ?? ''): Promise<Record<string, string>> {
  const { QueueServiceClient } = await import('@azure/storage-queue');
  const { TableClient, TableServiceClient } = await import('@azure/data-tables');
  const snapshot: Record<string, string> = {};
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  for await (const queue of queues.listQueues()) {
    const { approximateMessagesCount = 0 } = await queues.getQueueClient(queue.name).getProperties();
    if (approximateMessagesCount > 0) snapshot[`queue ${queue.name}`] = String(approximateMessagesCount);
  }
  const options = { allowInsecureConnection: true };
  for await (const table of TableServiceClient.fromConnectionString(connectionString, options).listTables()) {
    const name = table.name ?? '';
    for await (const entity of TableClient.fromConnectionString(connectionString, name, options).listEntities()) {
      snapshot[`table ${name} ${entity.partitionKey ?? ''}/${entity.rowKey ?? ''}`] = entity.etag;
    }
  }
  return snapshot;
}

/** Collects unhandled rejections of the test process, so that a property can assert there were none. */
export function watchUnhandledRejections(): { readonly seen: unknown[] } {
  const seen: unknown[] = [];
  process.on('unhandledRejection', (reason) => seen.push(reason));
  return { seen };
}
