import assert from 'node:assert/strict';
import { type EventEmitter, once } from 'node:events';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { decodeQueueMessage, enqueueJson, queueClient } from '../../src/lib/clients/storage';
import type { LocalHost } from '../../tools/local-host/host';
import { useAzurite } from '../support/azurite';
import { startTestHost, type TestHost } from '../support/local-host';
import type { Received } from '../fixtures/trigger-app';

/**
 * The local host runs a small fixture app against Azurite: HTTP through the library's streaming proxy,
 * queue messages the app enqueues arriving decoded, retries up to host.json's maxDequeueCount and then
 * the poison queue, timers on schedule and on demand.
 */
const azurite = useAzurite();
let served: TestHost;
let host: LocalHost;
let events: EventEmitter;

before(async () => {
  // The app's real host.json, with retries made immediate as an app setting would in Azure.
  process.env.AzureFunctionsJobHost__extensions__queues__visibilityTimeout = '00:00:00';
  process.env.FIXTURE_QUEUE = 'fixture-queue';
  served = await startTestHost('trigger-app', [resolve(__dirname, '..', 'fixtures', 'trigger-app.js')]);
  host = served.host;
  events = (globalThis as { triggerAppEvents?: EventEmitter }).triggerAppEvents as EventEmitter;
});

after(async () => {
  await host.stop();
});

const nextLine = (pattern: RegExp): Promise<string> => served.nextLine(pattern);

describe('local host', () => {
  test('serves HTTP functions on their route with params, query and body', async () => {
    const res = await fetch(`${host.url}/api/echo/alice?q=1`, { method: 'POST', body: 'hello' });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { name: 'alice', bytes: 5, query: '1' });
  });

  test('answers 404 for unknown routes and for methods a function does not take', async () => {
    assert.equal((await fetch(`${host.url}/api/nothing`)).status, 404);
    assert.equal((await fetch(`${host.url}/api/echo/alice`)).status, 404);
  });

  test('a body over 1 MiB gets 413 without the whole body being read', async () => {
    const res = await fetch(`${host.url}/api/echo/big`, { method: 'POST', body: Buffer.alloc(3 * 1024 * 1024, 97) });
    assert.equal(res.status, 413);
  });

  test('a message the app enqueues reaches the queue trigger decoded, then leaves the queue', async () => {
    const received = once(events, 'message') as Promise<[Received]>;
    const done = nextLine(/Executed 'Functions.recordMessage' \(Succeeded/);
    await enqueueJson('fixture-queue', { hello: 'wörld', n: 1 });
    const [first] = await received;
    assert.deepEqual(first.message, { hello: 'wörld', n: 1 });
    assert.equal(first.dequeueCount, 1);
    await done;
    const queue = await queueClient('fixture-queue');
    const props = await queue.getProperties();
    assert.equal(props.approximateMessagesCount, 0);
  });

  test('a message that keeps failing is tried maxDequeueCount times, then moved to <queue>-poison', async () => {
    const counts: unknown[] = [];
    const onMessage = (r: Received): void => {
      if ((r.message as { id?: string }).id === 'poison-me') counts.push(r.dequeueCount);
    };
    events.on('message', onMessage);
    const poisoned = nextLine(/has reached MaxDequeueCount of 5\. Moving message to queue 'fixture-queue-poison'/);
    await enqueueJson('fixture-queue', { id: 'poison-me', fail: true });
    await poisoned;
    events.off('message', onMessage);
    assert.deepEqual(counts, [1, 2, 3, 4, 5]);
    const poison = await queueClient('fixture-queue-poison');
    const { receivedMessageItems } = await poison.receiveMessages();
    assert.equal(receivedMessageItems.length, 1);
    assert.deepEqual(decodeQueueMessage(receivedMessageItems[0]?.messageText ?? ''), { id: 'poison-me', fail: true });
  });

  test('runs timers on their NCRONTAB schedule', async () => {
    const [timer] = (await once(events, 'tick')) as [{ isPastDue: boolean; scheduleStatus: { next: string } }];
    assert.equal(timer.isPastDue, false);
    assert.ok(Date.parse(timer.scheduleStatus.next) > 0);
  });

  test('runs a non-HTTP function on demand through the admin API', async () => {
    const received = once(events, 'message') as Promise<[Received]>;
    const res = await fetch(`${host.url}/admin/functions/recordMessage`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: '{"manual":true}' }),
    });
    assert.equal(res.status, 202);
    const [message] = await received;
    assert.deepEqual(message.message, { manual: true });
  });
});

void azurite;
