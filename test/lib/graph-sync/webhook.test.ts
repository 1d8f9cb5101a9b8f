import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, mock, test } from 'node:test';

import { graphLifecycle } from '../../../src/handlers/graphLifecycle';
import { graphWebhook } from '../../../src/handlers/graphWebhook';
import type { NotificationQueueMessage } from '../../../src/lib/graph-sync/queue-message';
import { decodeQueueMessage, MAX_QUEUE_MESSAGE_BYTES, queueClient } from '../../../src/lib/clients/storage';
import { useAzurite } from '../../support/azurite';
import { httpRequest, testContext, withEnv } from '../../../tools/stand-ins/functions';
import { CLIENT_STATE, userId } from './setup';

/**
 * graphWebhook and graphLifecycle with real HttpRequests against Azurite: the handshake, clientState in
 * constant time and never logged, batching into few queue messages, lifecycle routing, 400 and 503.
 */
const azurite = useAzurite();
let queueNumber = 0;

function notification(id: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  // The shape of Graph's users notification (Microsoft.Graph.UserUpdated data), sequenceNumber a string.
  return {
    changeType: 'updated',
    clientState: CLIENT_STATE,
    resource: `Users/${id}`,
    resourceData: {
      '@odata.type': '#Microsoft.Graph.User',
      '@odata.id': `Users/${id}`,
      id,
      organizationId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
      eventTime: '2022-05-24T22:24:31.3062901Z',
      sequenceNumber: '638123',
    },
    subscriptionExpirationDateTime: '2022-05-24T23:21:19.3554403+00:00',
    subscriptionId: '0fc0d6db-0073-42e5-a186-853da75fb308',
    tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
    ...extra,
  };
}

async function post(body: string, handler = graphWebhook, query: Record<string, string> = {}) {
  const { context, logs } = testContext('graphWebhook');
  const request = httpRequest({
    method: 'POST',
    url: `http://localhost:7071/api/graph-webhook${query.validationToken !== undefined ? `?validationToken=${encodeURIComponent(query.validationToken)}` : ''}`,
    headers: { 'content-type': 'application/json' },
    query,
    body,
  });
  const response = await handler(request, context);
  return { response, logs };
}

/** Runs `fn` against a fresh queue and returns what it left there. */
async function withQueue<T>(fn: () => Promise<T>): Promise<{ result: T; messages: NotificationQueueMessage[]; sizes: number[] }> {
  const name = `graphtest${++queueNumber}`;
  return withEnv({ NOTIFICATION_QUEUE: name, GRAPH_CLIENT_STATE: CLIENT_STATE }, async () => {
    const result = await fn();
    const queue = await queueClient(name);
    const messages: NotificationQueueMessage[] = [];
    const sizes: number[] = [];
    for (;;) {
      const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
      if (receivedMessageItems.length === 0) break;
      for (const item of receivedMessageItems) {
        sizes.push(Buffer.byteLength(item.messageText));
        messages.push(decodeQueueMessage(item.messageText) as NotificationQueueMessage);
      }
    }
    return { result, messages, sizes };
  });
}

describe('Graph webhook endpoints', () => {
  test('the validation handshake echoes the decoded token as text/plain with nosniff, on both routes, enqueuing nothing', async () => {
    const token = 'Validation: Testing client application reachability for subscription Request-Id: 9a5e+/=&<b>';
    for (const handler of [graphWebhook, graphLifecycle]) {
      const { result, messages } = await withQueue(() => post('', handler, { validationToken: token }));
      assert.equal(result.response.status, 200);
      const headers = new Headers(result.response.headers);
      assert.match(headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(headers.get('x-content-type-options'), 'nosniff');
      assert.equal(result.response.body, token);
      assert.deepEqual(messages, []);
    }
  });

  test('only notifications with the right clientState are enqueued; the answer is 202 and no log shows either value', async () => {
    const wrong = 'guessed-client-state-value';
    const body = JSON.stringify({
      value: [
        notification(userId(1)),
        notification(userId(2), { resourceData: { '@odata.type': '#Microsoft.Graph.User', id: userId(2), sequenceNumber: 42 } }),
        notification(userId(3), { clientState: wrong }),
        notification(userId(4), { clientState: undefined }),
        notification(userId(5), { clientState: CLIENT_STATE.slice(0, -1) }),
        notification(userId(6), { clientState: 12345 }),
      ],
    });
    const { result, messages } = await withQueue(() => post(body));
    assert.equal(result.response.status, 202);
    assert.deepEqual(messages, [{ type: 'userChanges', userIds: [userId(1), userId(2)] }]);
    const text = result.logs.map((l) => l.message).join('\n');
    assert.match(text, /graph\.notifications\.clientStateMismatch.*"rejected":4/);
    assert.ok(!text.includes(wrong) && !text.includes(CLIENT_STATE) && !text.includes(CLIENT_STATE.slice(0, -1)));
  });

  test('each clientState is compared with crypto.timingSafeEqual over fixed-length digests', async () => {
    const spy = mock.method(crypto, 'timingSafeEqual');
    try {
      const body = JSON.stringify({
        value: [notification(userId(1)), notification(userId(2), { clientState: 'a-much-longer-wrong-client-state' })],
      });
      const { result } = await withQueue(() => post(body));
      assert.equal(result.response.status, 202);
      // Right and wrong (and of another length) alike: every value goes through the constant-time compare.
      assert.ok(spy.mock.callCount() >= 2);
      for (const call of spy.mock.calls) {
        const [a, b] = call.arguments as [Buffer, Buffer];
        assert.equal(a.length, b.length);
      }
    } finally {
      spy.mock.restore();
    }
  });

  test('a POST with only bad clientStates still answers 202 and enqueues nothing', async () => {
    const { result, messages } = await withQueue(() => post(JSON.stringify({ value: [notification(userId(1), { clientState: 'x' })] })));
    assert.equal(result.response.status, 202);
    assert.deepEqual(messages, []);
  });

  test('1,000 notifications (plus duplicates and validationTokens beside value) become one queue message under 64 KiB', async () => {
    const value = Array.from({ length: 1000 }, (_, i) => notification(userId(i + 1)));
    value.push(notification(userId(7)), notification(userId(7), { changeType: 'deleted' }));
    const body = JSON.stringify({ value, validationTokens: ['eyJ0eXAiOiJKV1QiLCJhb...'] });
    const { result, messages, sizes } = await withQueue(() => post(body));
    assert.equal(result.response.status, 202);
    assert.equal(messages.length, 1);
    assert.equal(new Set(messages.flatMap((m) => (m.type === 'userChanges' ? m.userIds : []))).size, 1000);
    assert.ok(sizes.every((size) => size < MAX_QUEUE_MESSAGE_BYTES));
  });

  test('2,500 distinct users (minimal notifications) take three messages, each under 64 KiB', async () => {
    const value = Array.from({ length: 2500 }, (_, i) => ({ changeType: 'updated', clientState: CLIENT_STATE, resource: `Users/${userId(i + 1)}` }));
    const { result, messages, sizes } = await withQueue(() => post(JSON.stringify({ value })));
    assert.equal(result.response.status, 202);
    assert.equal(messages.length, 3);
    assert.equal(messages.flatMap((m) => (m.type === 'userChanges' ? m.userIds : [])).length, 2500);
    assert.ok(sizes.every((size) => size < MAX_QUEUE_MESSAGE_BYTES));
  });

  test('lifecycle events are routed on lifecycleEvent on either route, the field shape (organizationId, no tenantId) included', async () => {
    const lifecycle = {
      lifecycleEvent: 'reauthorizationRequired',
      subscriptionId: '0fc0d6db-0073-42e5-a186-853da75fb308',
      resource: 'Subscriptions/0fc0d6db-0073-42e5-a186-853da75fb308',
      clientState: CLIENT_STATE,
      sequence: null,
      resourceData: { '@odata.type': '#microsoft.graph.subscription', '@odata.id': 'subscriptions/0fc0d6db-0073-42e5-a186-853da75fb308', id: '0fc0d6db-0073-42e5-a186-853da75fb308' },
      encryptedContent: null,
      organizationId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
      subscriptionExpirationDateTime: '2024-02-08T04:18:58.0463343-08:00',
    };
    const body = JSON.stringify({ value: [lifecycle, { ...lifecycle, lifecycleEvent: 'missed' }, notification(userId(9))], validationTokens: ['x'] });
    for (const handler of [graphWebhook, graphLifecycle]) {
      const { result, messages } = await withQueue(() => post(body, handler));
      assert.equal(result.response.status, 202);
      assert.deepEqual(messages, [
        {
          type: 'lifecycle',
          events: [
            { lifecycleEvent: 'reauthorizationRequired', subscriptionId: lifecycle.subscriptionId, tenantId: lifecycle.organizationId },
            { lifecycleEvent: 'missed', subscriptionId: lifecycle.subscriptionId, tenantId: lifecycle.organizationId },
          ],
        },
        { type: 'userChanges', userIds: [userId(9)] },
      ]);
    }
  });

  test('malformed bodies answer 400 and enqueue nothing', async () => {
    for (const body of ['not json', '[]', '{"value":"x"}', '{"value":[1]}', '{}', '']) {
      const { result, messages } = await withQueue(() => post(body));
      assert.equal(result.response.status, 400, body);
      assert.deepEqual(messages, []);
    }
  });

  test('notifications that are not about users are dropped with a warning, the rest kept', async () => {
    const group = notification('02bd9fd6-8f93-4758-87c3-1fb73740a315', { resource: 'Groups/02bd9fd6-8f93-4758-87c3-1fb73740a315', resourceData: { '@odata.type': '#Microsoft.Graph.Group', id: '02bd9fd6-8f93-4758-87c3-1fb73740a315' } });
    const { result, messages } = await withQueue(() => post(JSON.stringify({ value: [group, notification(userId(1))] })));
    assert.equal(result.response.status, 202);
    assert.deepEqual(messages, [{ type: 'userChanges', userIds: [userId(1)] }]);
    assert.ok(result.logs.some((l) => /graph\.notifications\.ignored.*notAUser/.test(l.message)));
  });

  test('when the queue cannot be written the answer is 503, so that Graph delivers again', async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, '127.0.0.1', done));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((done) => closed.close(() => done()));
    const connectionString = azurite.current.connectionString.replace(/QueueEndpoint=http:\/\/127\.0\.0\.1:\d+/, `QueueEndpoint=http://127.0.0.1:${port}`);
    const { response, logs } = await withEnv({ AzureWebJobsStorage: connectionString, NOTIFICATION_QUEUE: 'unreachablequeue', GRAPH_CLIENT_STATE: CLIENT_STATE }, () =>
      post(JSON.stringify({ value: [notification(userId(1))] })),
    );
    assert.equal(response.status, 503);
    assert.ok(logs.some((l) => /graph\.notifications\.enqueueFailed/.test(l.message)));
  });

  test('a body over 1 MiB gets 413 on both routes and enqueues nothing', async () => {
    const body = JSON.stringify({ value: [notification(userId(1), { padding: 'x'.repeat(1024 * 1024) })] });
    for (const handler of [graphWebhook, graphLifecycle]) {
      const { result, messages } = await withQueue(() => post(body, handler));
      assert.equal(result.response.status, 413, handler.name);
      assert.deepEqual(messages, [], handler.name);
    }
  });

  test('without GRAPH_CLIENT_STATE the endpoints answer 503 and name the setting', async () => {
    const { response, logs } = await withEnv({ GRAPH_CLIENT_STATE: undefined }, () => post(JSON.stringify({ value: [] })));
    assert.equal(response.status, 503);
    assert.ok(logs.some((l) => /feature\.notConfigured.*GRAPH_CLIENT_STATE/.test(l.message)));
  });
});
