import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { processNotifications } from '../../../src/handlers/processNotifications';
import { getDirectoryUser, searchDirectory, upsertUsers } from '../../../src/lib/directory/directory';
import type { NotificationQueueMessage } from '../../../src/lib/graph-sync/queue-message';
import { readSyncState } from '../../../src/lib/graph-sync/state';
import { useAzurite } from '../../support/azurite';
import { testContext } from '../../../tools/stand-ins/functions';
import { graphUser, sampleUser, throttled } from '../../../tools/stand-ins/fake-graph';
import { useFakeGraph, userId } from './setup';

/**
 * processNotifications against the fake Graph tenant and Azurite: bulk fetch, throttling and server
 * errors inside the retry budget, removals, idempotency, lifecycle events.
 */
useAzurite();
const graph = useFakeGraph();

async function process(message: NotificationQueueMessage): Promise<void> {
  const { context } = testContext('processNotifications');
  await processNotifications(message, context);
}

const changes = (ids: string[]): NotificationQueueMessage => ({ type: 'userChanges', userIds: ids });
const batchRequests = (): number => graph.current.requestsTo(/^POST \/v1\.0\/\$batch$/).length;
const ids = (from: number, count: number): string[] => Array.from({ length: count }, (_, i) => userId(from + i));

describe('processNotifications', () => {
  beforeEach(() => {
    graph.current.server.requests.splice(0);
    graph.current.clearFaults();
  });

  test('1,000 changed users are fetched in 4 Graph requests ($batch of 20 × 15 ids) and land in the directory', async () => {
    for (const [i, id] of ids(1, 1000).entries()) graph.current.setUser(sampleUser(i, id));
    await process(changes(ids(1, 1000)));
    assert.equal(batchRequests(), 4);
    assert.equal(graph.current.requestsTo(/\/users\/[^/]+$/).length, 0, 'no per-user GET');
    assert.equal((await getDirectoryUser(userId(500)))?.displayName, sampleUser(499, userId(500)).displayName);
    const mail = String(sampleUser(999, userId(1000)).mail);
    assert.deepEqual((await searchDirectory(mail, { skip: 0, count: 5 })).people.map((p) => p.id), [userId(1000)]);
  });

  test('10 messages of 100 users cost one Graph request each', async () => {
    for (let m = 0; m < 10; m++) await process(changes(ids(1 + m * 100, 100)));
    assert.equal(batchRequests(), 10);
  });

  test('a 429 with a fractional Retry-After is waited out, then the change lands', async () => {
    graph.current.setUser(graphUser(userId(2001), 'Megan Bowen'));
    graph.current.fail('batch', throttled('0.25'));
    const { context, logs } = testContext('processNotifications');
    await processNotifications(changes([userId(2001)]), context);
    assert.equal(batchRequests(), 2);
    assert.equal((await getDirectoryUser(userId(2001)))?.displayName, 'Megan Bowen');
    // The operations workbook counts Graph requests and throttling from this line.
    const applied = logs.find((l) => l.message.startsWith('graph.users.applied '));
    assert.match(applied?.message ?? '', /"graphRequests":2,"graphThrottled":1/);
  });

  test('a throttled part of a $batch is sent again alone', async () => {
    for (const id of ids(2100, 40)) graph.current.setUser(graphUser(id, `Batch Part${id.slice(-3)}`));
    graph.current.fail('batchPart', throttled('0.05'));
    await process(changes(ids(2100, 40)));
    const bodies = graph.current.requestsTo(/\$batch/).map((r) => (JSON.parse(r.body.toString()) as { requests: unknown[] }).requests.length);
    assert.deepEqual(bodies, [3, 1]);
    for (const id of ids(2100, 40)) assert.ok(await getDirectoryUser(id), id);
  });

  test('a 500 without Retry-After is retried with backoff', async () => {
    graph.current.setUser(graphUser(userId(2201), 'Lee Gu'));
    graph.current.fail('batch', { status: 500, json: { error: { code: 'InternalServerError' } } });
    await process(changes([userId(2201)]));
    assert.equal((await getDirectoryUser(userId(2201)))?.displayName, 'Lee Gu');
  });

  test('when Graph keeps failing past the budget the message fails (the host retries, then poisons) and nothing is half-applied', async () => {
    graph.current.setUser(graphUser(userId(2301), 'Never Applied'));
    graph.current.fail('batch', ...Array.from({ length: 10 }, () => ({ status: 503, headers: { 'Retry-After': '0.01' }, json: { error: { code: 'ServiceUnavailable' } } })));
    await assert.rejects(process(changes([userId(2301)])));
    assert.equal(batchRequests(), 6);
    assert.equal(await getDirectoryUser(userId(2301)), undefined);
    graph.current.clearFaults();
  });

  test('a 403 (missing permission) is not retried: the message fails at once', async () => {
    graph.current.fail('batchPart', { status: 403, json: { error: { code: 'Authorization_RequestDenied' } } });
    await assert.rejects(process(changes([userId(2401)])));
    assert.equal(batchRequests(), 1);
  });

  test('deleted users and users Graph no longer returns leave the directory', async () => {
    graph.current.setUser(graphUser(userId(2501), 'Xavier Quillfeather'));
    graph.current.setUser(graphUser(userId(2502), 'Isaiah Langer'));
    await process(changes([userId(2501), userId(2502)]));
    assert.equal((await searchDirectory('quillf', { skip: 0, count: 5 })).people.length, 1);
    graph.current.deleteUser(userId(2501));
    await upsertUsers([graphUser(userId(2503), 'Ghost User')]); // in the mirror, unknown to Graph
    await process(changes([userId(2501), userId(2503)]));
    assert.equal(await getDirectoryUser(userId(2501)), undefined);
    assert.equal(await getDirectoryUser(userId(2503)), undefined);
    assert.equal((await searchDirectory('quillf', { skip: 0, count: 5 })).people.length, 0);
    assert.ok(await getDirectoryUser(userId(2502)));
  });

  test('one user the directory cannot hold is logged by id and skipped; the 99 others of the message land', async () => {
    const message = ids(2701, 100);
    for (const [i, id] of message.entries()) graph.current.setUser(graphUser(id, i % 10 === 0 ? `𝓜𝓪𝓽𝓱 ${'𝒜'.repeat(40)} Script${i}` : `Normal Person${i}`));
    graph.current.setUser(graphUser(userId(2750), 'Huge Title', { jobTitle: 'x'.repeat(40_000) }));
    const { context, logs } = testContext('processNotifications');
    await processNotifications(changes(message), context);
    assert.equal(await getDirectoryUser(userId(2750)), undefined);
    assert.equal((await searchDirectory('person', { skip: 0, count: 200 })).people.length, 89);
    assert.equal((await searchDirectory('math', { skip: 0, count: 200 })).people.length, 10);
    assert.ok(logs.some((l) => /graph\.users\.skipped.*"count":1.*00000000-0000-4000-8000-000000000abe/.test(l.message)));
  });

  test('duplicates, replays and late deliveries leave the directory at Graph current state', async () => {
    graph.current.setUser(graphUser(userId(2601), 'Nestor Wilke', { jobTitle: 'Director' }));
    await process(changes([userId(2601), userId(2601)]));
    const first = await getDirectoryUser(userId(2601));
    await process(changes([userId(2601)]));
    assert.deepEqual(await getDirectoryUser(userId(2601)), first, 'a replay changes nothing, not even lastChanged');
    graph.current.setUser(graphUser(userId(2601), 'Nestor Wilke', { jobTitle: 'CEO' }));
    await process(changes([userId(2601)]));
    await process(changes([userId(2601)])); // the older notification arriving late
    assert.equal((await getDirectoryUser(userId(2601)))?.jobTitle, 'CEO');
  });

  test('a malformed queue message fails, so that it ends in the poison queue', async () => {
    const { context } = testContext('processNotifications');
    await assert.rejects(processNotifications({ type: 'userChanges', userIds: ['not-a-guid'] }, context), /not a notification queue message/);
    await assert.rejects(processNotifications('garbage', context), /not a notification queue message/);
  });

  test('reauthorizationRequired renews the subscription (PATCH of its expiry)', async () => {
    const subscription = { id: 'c6b0f6a3-2c5e-4d4e-9d32-6c1d1f7f1a01', resource: 'users', changeType: 'updated,deleted', notificationUrl: 'https://contoso-m365.azurewebsites.net/api/graph-webhook', lifecycleNotificationUrl: 'https://contoso-m365.azurewebsites.net/api/graph-lifecycle', expirationDateTime: new Date(Date.now() + 3600_000).toISOString(), clientState: 'x' };
    graph.current.subscriptions.set(subscription.id, subscription);
    await process({ type: 'lifecycle', events: [{ lifecycleEvent: 'reauthorizationRequired', subscriptionId: subscription.id }] });
    const patches = graph.current.requestsTo(/^PATCH \/v1\.0\/subscriptions\//);
    assert.equal(patches.length, 1);
    const days = (Date.parse(subscription.expirationDateTime) - Date.now()) / 86_400_000;
    assert.ok(days > 28 && days <= 29, `renewed to ${days} days`);
  });

  test('reauthorizationRequired for a subscription Graph no longer has makes a new one', async () => {
    graph.current.subscriptions.clear();
    await process({ type: 'lifecycle', events: [{ lifecycleEvent: 'reauthorizationRequired', subscriptionId: 'd0000000-0000-4000-8000-000000000001' }] });
    assert.equal(graph.current.subscriptions.size, 1);
  });

  test('missed triggers a full resync: the directory converges on Graph, including changes never notified', async () => {
    graph.current.setUser(graphUser(userId(2701), 'Quiet Change', { department: 'Unnotified' }));
    graph.current.deleteUser(userId(2502));
    await process({ type: 'lifecycle', events: [{ lifecycleEvent: 'missed', subscriptionId: 'd0000000-0000-4000-8000-000000000001' }] });
    assert.equal((await getDirectoryUser(userId(2701)))?.department, 'Unnotified');
    assert.equal(await getDirectoryUser(userId(2502)), undefined);
    const state = await readSyncState();
    assert.ok(state.deltaLink);
    assert.equal(state.resyncDone, state.resyncRequested);
  });

  test('subscriptionRemoved re-creates the subscription and resyncs', async () => {
    graph.current.subscriptions.clear();
    graph.current.setUser(graphUser(userId(2801), 'After Removal'));
    await process({ type: 'lifecycle', events: [{ lifecycleEvent: 'subscriptionRemoved', subscriptionId: 'd0000000-0000-4000-8000-000000000001' }] });
    assert.equal(graph.current.subscriptions.size, 1);
    assert.ok(await getDirectoryUser(userId(2801)));
    assert.equal(graph.current.requestsTo(/^GET \/v1\.0\/users\/delta$/).length > 0, true);
  });
});
