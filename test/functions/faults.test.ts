import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';

import fc from 'fast-check';

import { actionableMessage } from '../../src/handlers/actionableMessage';
import { composeExtension } from '../../src/handlers/composeExtension';
import { graphWebhook } from '../../src/handlers/graphWebhook';
import { processNotifications } from '../../src/handlers/processNotifications';
import { verifyBotRequest } from '../../src/lib/messaging-extension/bot-token';
import { featureConfig } from '../../src/lib/config/settings';
import { UnauthenticatedError } from '../../src/lib/core/errors';
import { getDirectoryUser } from '../../src/lib/directory/directory';
import type { NotificationQueueMessage } from '../../src/lib/graph-sync/queue-message';
import { decodeQueueMessage, queueClient } from '../../src/lib/clients/storage';
import { startAzurite } from '../../tools/azurite';
import { entraClaims, entraIssuerFor, NOW, NOW_SEC } from '../lib/expenses/support';
import { BOT_APP_ID, BOT_ISSUER, botClaims, invokeActivity, SERVICE_URL, startBotStandIn } from '../../tools/stand-ins/bot';
import { graphUser } from '../../tools/stand-ins/fake-graph';
import { CLIENT_STATE, useFakeGraph, userId } from '../lib/graph-sync/setup';
import { useAzurite } from '../support/azurite';
import { httpRequest, testContext, withEnv } from '../../tools/stand-ins/functions';
import { startOpenIdServer } from '../../tools/stand-ins/openid-server';
import { watchUnhandledRejections } from '../support/storage-snapshot';

/**
 * Faults injected through the stand-ins: storage going away between two Graph deliveries, Graph 429 and
 * 5xx storms, key endpoints down or hanging, tokens exactly at the clock-skew edges, and notifications
 * duplicated and delivered out of order.
 */

const rejections = watchUnhandledRejections();
useAzurite();
const graph = useFakeGraph();
fc.configureGlobal({ includeErrorInReport: true });

function notificationBody(ids: readonly string[]): string {
  return JSON.stringify({
    value: ids.map((id) => ({
      changeType: 'updated',
      clientState: CLIENT_STATE,
      resource: `Users/${id}`,
      resourceData: { '@odata.type': '#Microsoft.Graph.User', '@odata.id': `Users/${id}`, id, sequenceNumber: 1 },
      subscriptionId: '0fc0d6db-0073-42e5-a186-853da75fb308',
      tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
    })),
  });
}

async function postNotifications(ids: readonly string[]): Promise<{ status: number; logs: string[] }> {
  const { context, logs } = testContext('graphWebhook');
  const response = await graphWebhook(
    httpRequest({ method: 'POST', url: 'http://localhost:7071/api/graph-webhook', headers: { 'content-type': 'application/json' }, body: notificationBody(ids) }),
    context,
  );
  return { status: response.status ?? 200, logs: logs.map((l) => l.message) };
}

async function process(message: NotificationQueueMessage): Promise<void> {
  const { context } = testContext('processNotifications');
  await processNotifications(message, context);
}

describe('storage stops between two Graph deliveries', () => {
  test('the first, answered 202, is in the queue; the second answers 503 so that Graph delivers it again', async () => {
    const storage = await startAzurite();
    try {
      await withEnv({ AzureWebJobsStorage: storage.connectionString, NOTIFICATION_QUEUE: 'stoppedqueue' }, async () => {
        const first = await postNotifications([userId(1)]);
        assert.equal(first.status, 202);
        const queue = await queueClient('stoppedqueue');
        const { peekedMessageItems } = await queue.peekMessages({ numberOfMessages: 32 });
        assert.deepEqual(
          peekedMessageItems.map((m) => decodeQueueMessage(m.messageText)),
          [{ type: 'userChanges', userIds: [userId(1)] }],
          'what was acknowledged is stored',
        );
        await storage.stop();
        const second = await postNotifications([userId(2)]);
        assert.equal(second.status, 503);
        assert.ok(second.logs.some((l) => /graph\.notifications\.enqueueFailed/.test(l)));
        assert.ok(!second.logs.join('\n').includes(CLIENT_STATE));
      });
    } finally {
      await storage.stop();
    }
  });
});

describe('Graph 429 storms and 5xx while processing', () => {
  test('a storm longer than the retry budget fails the invocation with nothing applied; the host retry after recovery applies it', async () => {
    const reply = fc.oneof(
      fc.constantFrom('0', '0.01').map((after) => ({ status: 429, headers: { 'Retry-After': after }, json: { error: { code: 'TooManyRequests' } } })),
      fc.constantFrom(500, 502, 503, 504).map((status) => ({ status, headers: { 'Retry-After': '0' }, json: { error: { code: 'ServiceUnavailable' } } })),
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(reply, { minLength: 1, maxLength: 14 }), fc.constantFrom<('batch' | 'batchPart')[]>('batch', 'batchPart'), async (storm, route) => {
        const id = userId(10_000 + run++);
        graph.current.clearFaults();
        graph.current.setUser(graphUser(id, `Storm Survivor ${run}`));
        graph.current.fail(route, ...storm);
        // The host delivers the message again after a failed invocation, up to maxDequeueCount (5) times.
        let attempts = 0;
        for (;;) {
          attempts++;
          try {
            await process({ type: 'userChanges', userIds: [id] });
            break;
          } catch {
            assert.equal(await getDirectoryUser(id), undefined, 'a failed invocation applies nothing');
            assert.ok(attempts < 5, 'the storm outlasted the host retries');
          }
        }
        assert.equal((await getDirectoryUser(id))?.displayName, `Storm Survivor ${run}`);
        assert.equal(attempts, Math.floor(storm.length / 6) + 1, `${storm.length} faults, 6 attempts per invocation`);
      }),
      { numRuns: 12 },
    );
    graph.current.clearFaults();
  });
});

describe('duplicate and out-of-order notifications', () => {
  test('whatever the order and repetition of deliveries, the directory ends at Graph state', async () => {
    const people = [userId(20_001), userId(20_002), userId(20_003)];
    type Step = { kind: 'rename'; who: number; name: string } | { kind: 'delete'; who: number } | { kind: 'deliver'; whom: number[] };
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('rename' as const), who: fc.nat(2), name: fc.constantFrom('Ada Lovelace', 'Grace Hopper', 'Zoë Ångström', "Miles O'Brien") }),
      fc.record({ kind: fc.constant('delete' as const), who: fc.nat(2) }),
      fc.record({ kind: fc.constant('deliver' as const), whom: fc.array(fc.nat(2), { minLength: 1, maxLength: 5 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 8 }), fc.shuffledSubarray([0, 1, 2, 0, 1, 2], { minLength: 3 }), async (steps, finalOrder) => {
        for (const s of steps) {
          if (s.kind === 'rename') graph.current.setUser(graphUser(people[s.who] as string, s.name));
          else if (s.kind === 'delete') graph.current.deleteUser(people[s.who] as string);
          else await process({ type: 'userChanges', userIds: s.whom.map((i) => people[i] as string) });
        }
        // The notifications of the last changes arrive at last, repeated and in any order.
        const last = [...new Set(finalOrder)].length === 3 ? finalOrder : [0, 1, 2];
        for (const i of last) await process({ type: 'userChanges', userIds: [people[i] as string] });
        for (const id of people) {
          const inGraph = graph.current.users.get(id);
          const mirrored = await getDirectoryUser(id);
          assert.equal(mirrored?.displayName, inGraph?.props.displayName, id);
        }
      }),
      { numRuns: 15 },
    );
  });
});

/** A TCP server that accepts connections and never answers: a key endpoint that hangs. */
async function startHangingServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => done());
      }),
  };
}

describe('key endpoints down or slow', () => {
  test('Bot Framework keys: cached keys keep working while the endpoint is down; an unknown kid fails closed', async () => {
    const stand = await startBotStandIn();
    // A metadata URL of its own, so that this test's key cache starts empty.
    const env = { ...stand.env, BOT_OPENID_METADATA_URL: stand.server.metadataUrl('botframework/down') };
    const send = async (claims: Record<string, unknown>, key = stand.teamsKey): Promise<number> => {
      const token = await stand.server.sign(botClaims(claims), { key });
      const { context } = testContext('composeExtension');
      const request = httpRequest({
        method: 'POST',
        url: 'http://localhost:7071/api/compose-extension',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ...invokeActivity('x', {}), type: 'message' }),
      });
      return (await withEnv(env, () => composeExtension(request, context))).status ?? 200;
    };
    assert.equal(await send({ jti: 'first' }), 200);
    const rotated = await stand.server.addKey({ endorsements: ['msteams'] });
    await stand.server.close();
    assert.equal(await send({ jti: 'second, endpoint down' }), 200, 'cached keys still verify');
    assert.equal(await send({ jti: 'new key, endpoint down' }, rotated), 401, 'a kid not in the cache fails closed');
  });

  test('a key endpoint that never answers gives a bounded 503, never a pass', { timeout: 20_000 }, async () => {
    const hanging = await startHangingServer();
    try {
      const { context, logs } = testContext('actionableMessage');
      const request = httpRequest({
        method: 'POST',
        url: 'http://localhost:7071/api/actionable-message',
        headers: { authorization: `Bearer ${Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url')}.${Buffer.from(JSON.stringify(entraClaims())).toString('base64url')}.c2ln` },
        body: '{}',
      });
      const response = await withEnv(
        {
          PUBLIC_BASE_URL: 'https://contoso-m365.azurewebsites.net',
          ENTRA_AUTHORITY_HOST: hanging.url,
          ACTIONABLE_MESSAGE_AUDIENCE: 'api://x',
          ACTIONABLE_MESSAGE_SENDER: 'expenses@contoso.com',
          ACTION_TOKEN_KEY: Buffer.alloc(32, 7).toString('base64'),
        },
        () => actionableMessage(request, context, { now: () => NOW }),
      );
      assert.equal(response.status, 503);
      assert.ok(new Headers(response.headers).get('CARD-ACTION-STATUS'));
      assert.ok(logs.some((l) => /"code":"ERR_UNAVAILABLE"/.test(l.message)));
    } finally {
      await hanging.close();
    }
  });
});

describe('clock skew at the edges (5 minutes)', () => {
  let entra: Awaited<ReturnType<typeof startOpenIdServer>>;
  before(async () => {
    entra = await startOpenIdServer({ issuerFor: entraIssuerFor });
  });
  after(async () => {
    await entra.close();
  });

  test('Entra: exp 299 s ago passes, exactly 300 s ago does not; nbf exactly 300 s ahead passes, 301 s does not', async () => {
    const env = {
      PUBLIC_BASE_URL: 'https://contoso-m365.azurewebsites.net',
      ENTRA_AUTHORITY_HOST: entra.url,
      ACTIONABLE_MESSAGE_AUDIENCE: entraClaims().aud as string,
      ACTIONABLE_MESSAGE_SENDER: 'expenses@contoso.com',
      ACTION_TOKEN_KEY: Buffer.alloc(32, 7).toString('base64'),
    };
    /** 400 (the empty body) means the token passed; 401 that it did not. */
    const status = async (claims: Record<string, unknown>): Promise<number> => {
      const token = await entra.sign(entraClaims(claims));
      const { context } = testContext('actionableMessage');
      const request = httpRequest({ method: 'POST', url: 'http://localhost:7071/api/actionable-message', headers: { authorization: `Bearer ${token}` }, body: '{}' });
      return (await withEnv(env, () => actionableMessage(request, context, { now: () => NOW }))).status ?? 200;
    };
    assert.equal(await status({ exp: NOW_SEC - 299 }), 400);
    assert.equal(await status({ exp: NOW_SEC - 300 }), 401);
    assert.equal(await status({ nbf: NOW_SEC + 300 }), 400);
    assert.equal(await status({ nbf: NOW_SEC + 301 }), 401);
  });

  test('Bot Framework: the same edges, also for a token seen before (the verification cache)', async () => {
    const stand = await startBotStandIn();
    try {
      const config = featureConfig('composeExtension', stand.env);
      const at = (sec: number): Date => new Date(sec * 1000);
      const verify = async (token: string, nowSec: number): Promise<boolean> => {
        try {
          await verifyBotRequest({ authorization: `Bearer ${token}`, serviceUrl: SERVICE_URL, channelId: 'msteams' }, config, at(nowSec));
          return true;
        } catch (err) {
          assert.ok(err instanceof UnauthenticatedError);
          return false;
        }
      };
      const sign = (claims: Record<string, unknown>): Promise<string> =>
        stand.server.sign({ iss: BOT_ISSUER, aud: BOT_APP_ID, serviceurl: SERVICE_URL, ...claims }, { key: stand.teamsKey });
      const exp = NOW_SEC;
      assert.equal(await verify(await sign({ exp, jti: 'a' }), exp + 299), true);
      assert.equal(await verify(await sign({ exp, jti: 'b' }), exp + 300), false);
      assert.equal(await verify(await sign({ exp: exp + 3600, nbf: exp + 300, jti: 'c' }), exp), true);
      assert.equal(await verify(await sign({ exp: exp + 3600, nbf: exp + 301, jti: 'd' }), exp), false);
      // Seen before: accepted fresh, then presented again at each edge.
      const seen = await sign({ exp, jti: 'seen' });
      assert.equal(await verify(seen, exp - 10), true);
      assert.equal(await verify(seen, exp + 299), true);
      assert.equal(await verify(seen, exp + 300), false, 'the cache must not extend a token by a second');
    } finally {
      await stand.server.close();
    }
  });
});

test('no fault above caused an unhandled rejection', () => {
  assert.deepEqual(rejections.seen, []);
});
