import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { getDirectoryUser, searchDirectory } from '../../../src/lib/directory/directory';
import { setGraphCredentialForTests } from '../../../src/lib/clients/graph-client';
import { decodeQueueMessage, queueClient } from '../../../src/lib/clients/storage';
import type { LocalHost } from '../../../tools/local-host/host';
import { useAzurite } from '../../support/azurite';
import { graphError } from '../../../tools/stand-ins/graph-server';
import { appModules, startTestHost, type TestHost } from '../../support/local-host';
import { type FakeGraph, graphUser, sampleUser, type Subscription, startFakeGraph, throttled } from '../../../tools/stand-ins/fake-graph';
import { CLIENT_STATE, userId } from './setup';

/**
 * The Graph pipeline end to end through the local host (the real registrations, HTTP through the
 * library's proxy, the queue trigger polling Azurite, the timer run on demand): the fake Graph validates
 * the app's URLs when the timer creates the subscription, then delivers notifications to the app.
 */
useAzurite();
let served: TestHost;
let host: LocalHost;
let seen: string[];
let graph: FakeGraph;

before(async () => {
  graph = await startFakeGraph();
  graph.validateUrls = true;
  Object.assign(process.env, {
    AzureFunctionsJobHost__extensions__queues__visibilityTimeout: '00:00:00',
    GRAPH_BASE_URL: graph.url,
    GRAPH_CLIENT_STATE: CLIENT_STATE,
    GRAPH_SUBSCRIPTION_SCHEDULE: '0 0 0 1 1 *',
  });
  setGraphCredentialForTests({ getToken: () => Promise.resolve({ token: 't', expiresOnTimestamp: Date.now() + 3.6e6 }) });
  served = await startTestHost(
    'graph-app',
    appModules('graphWebhook', 'graphLifecycle', 'processNotifications', 'maintainSubscriptions'),
  );
  host = served.host;
  seen = served.lines;
  process.env.PUBLIC_BASE_URL = host.url;
});

after(async () => {
  await host.stop();
  await graph.close();
  setGraphCredentialForTests(undefined);
});

const nextLine = (pattern: RegExp): Promise<string> => served.nextLine(pattern);

const processed = (): Promise<string> => nextLine(/Executed 'Functions\.processNotifications' \(Succeeded/);
const names = async (query: string): Promise<string[]> => (await searchDirectory(query, { skip: 0, count: 20 })).people.map((p) => p.displayName);

async function runMaintenance(): Promise<void> {
  const done = nextLine(/Executed 'Functions\.maintainSubscriptions' \(/);
  const res = await fetch(`${host.url}/admin/functions/maintainSubscriptions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ input: '' }),
  });
  assert.equal(res.status, 202);
  assert.match(await done, /Succeeded/);
}

function subscription(): Subscription {
  assert.equal(graph.subscriptions.size, 1);
  return [...graph.subscriptions.values()][0] as Subscription;
}

describe('Graph pipeline through the local host', () => {
  test('the timer creates the subscription (Graph validating both URLs) and fills the directory from delta', async () => {
    for (let n = 0; n < 30; n++) graph.setUser(sampleUser(n, userId(n + 1)));
    graph.setUser(graphUser(userId(100), 'Megan Bowen', { department: 'Marketing' }));
    graph.setUser(graphUser(userId(101), 'Lidia Holloway', { department: 'Engineering' }));
    await runMaintenance();
    const created = subscription();
    assert.equal(created.notificationUrl, `${host.url}/api/graph-webhook`);
    assert.equal(created.lifecycleNotificationUrl, `${host.url}/api/graph-lifecycle`);
    assert.equal(created.changeType, 'updated,deleted');
    assert.equal(created.resource, 'users');
    assert.equal(graph.requestsTo(/^POST \/v1\.0\/subscriptions$/).length, 1);
    assert.deepEqual(await names('megan bowen'), ['Megan Bowen']);
    assert.ok(seen.some((l) => /graph\.validation\.answered/.test(l)));
  });

  test('notifications with a good clientState reach the directory; a forged one changes nothing; deleted users leave', async () => {
    graph.setUser({ id: userId(100), displayName: 'Megan Bowen-Rivera' });
    graph.setUser({ id: userId(101), displayName: 'Forged Rename' });
    graph.deleteUser(userId(1));
    const done = processed();
    const good = await graph.notify(subscription(), [userId(100), userId(1)]);
    const forged = await graph.notify(subscription(), [userId(101)], 'updated', 'not-the-secret');
    assert.equal(good.status, 202);
    assert.equal(forged.status, 202);
    await done;
    assert.deepEqual(await names('rivera'), ['Megan Bowen-Rivera']);
    assert.equal(await getDirectoryUser(userId(1)), undefined);
    assert.deepEqual(await names('forged'), [], 'the forged notification was never enqueued');
    assert.ok(!seen.join('\n').includes('not-the-secret') && !seen.join('\n').includes(CLIENT_STATE));
  });

  test('under 429s and 5xx nothing is lost: the change lands once Graph recovers', async () => {
    graph.setUser({ id: userId(2), jobTitle: 'Throttled Titleholder' });
    graph.fail('batch', throttled('0.05'), graphError(502, 'BadGateway'), throttled('0.1'), graphError(500, 'InternalServerError'));
    const done = processed();
    assert.equal((await graph.notify(subscription(), [userId(2)])).status, 202);
    await done;
    assert.equal((await getDirectoryUser(userId(2)))?.jobTitle, 'Throttled Titleholder');
  });

  test('a message that can never succeed ends in the poison queue after the host retries', async () => {
    graph.fail('batch', ...Array.from({ length: 40 }, () => graphError(503, 'ServiceUnavailable', 'try later', { 'Retry-After': '0.001' })));
    const poisoned = nextLine(/Moving message to queue 'webhooksnotificationqueue-poison'/);
    assert.equal((await graph.notify(subscription(), [userId(3)])).status, 202);
    await poisoned;
    graph.clearFaults();
    const poison = await queueClient('webhooksnotificationqueue-poison');
    const { receivedMessageItems } = await poison.receiveMessages();
    assert.deepEqual(decodeQueueMessage(receivedMessageItems[0]?.messageText ?? ''), { type: 'userChanges', userIds: [userId(3)] });
  });

  test('a missed lifecycle event (on the lifecycle URL) triggers a full resync', async () => {
    graph.setUser(graphUser(userId(102), 'Silent Arrival'));
    const done = processed();
    assert.equal((await graph.notifyLifecycle(subscription(), 'missed')).status, 202);
    await done;
    assert.deepEqual(await names('silent'), ['Silent Arrival']);
  });

  test('after Graph loses the subscription the timer re-creates it and resyncs', async () => {
    const old = subscription();
    old.expirationDateTime = new Date(Date.now() + 3600_000).toISOString();
    graph.fail('subscriptions', { json: { value: [{ ...old, clientState: null }] } }, { status: 404, json: { error: { code: 'ResourceNotFound' } } });
    graph.subscriptions.delete(old.id);
    graph.setUser(graphUser(userId(103), 'Gap Changer'));
    await runMaintenance();
    assert.notEqual(subscription().id, old.id);
    assert.deepEqual(await names('gap'), ['Gap Changer']);
  });
});
