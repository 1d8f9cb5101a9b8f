import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { maintainSubscriptions } from '../../../src/handlers/maintainSubscriptions';
import { getDirectoryUser, isDirectoryEmpty, searchDirectory } from '../../../src/lib/directory/directory';
import { featureConfig } from '../../../src/lib/config/settings';
import { graphClient } from '../../../src/lib/clients/graph-client';
import { runDeltaSync } from '../../../src/lib/graph-sync/delta';
import { readSyncState, requestResync } from '../../../src/lib/graph-sync/state';
import { useAzurite } from '../../support/azurite';
import { testContext } from '../../../tools/stand-ins/functions';
import { graphUser, sampleUser, type Subscription, throttled } from '../../../tools/stand-ins/fake-graph';
import { CLIENT_STATE, useFakeGraph, userId } from './setup';

/**
 * maintainSubscriptions against the fake Graph tenant: the subscription's exact fields, renewal,
 * re-creation, duplicates; the delta sync (full, catch-up, @removed, expired links, one sync at a time).
 */
useAzurite();
const graph = useFakeGraph();
const base = 'https://contoso-m365.azurewebsites.net';

async function runTimer(): Promise<string[]> {
  const { context, logs } = testContext('maintainSubscriptions');
  await maintainSubscriptions({ isPastDue: false, scheduleStatus: { last: '', next: '', lastUpdated: '' } } as never, context);
  return logs.map((l) => l.message);
}

function only(): Subscription {
  assert.equal(graph.current.subscriptions.size, 1);
  return [...graph.current.subscriptions.values()][0] as Subscription;
}

const count = (pattern: RegExp): number => graph.current.requestsTo(pattern).length;
const names = async (query: string): Promise<string[]> => (await searchDirectory(query, { skip: 0, count: 50 })).people.map((p) => p.displayName);

describe('maintainSubscriptions', () => {
  beforeEach(() => {
    graph.current.server.requests.splice(0);
    graph.current.clearFaults();
  });

  test('the first run creates the subscription with the contract fields and fills the directory from delta', async () => {
    for (let n = 0; n < 250; n++) graph.current.setUser(sampleUser(n, userId(n + 1)));
    graph.current.setUser(graphUser(userId(900), 'Disabled Person', { accountEnabled: false }));
    assert.equal(await isDirectoryEmpty(), true);
    const logs = await runTimer();
    const subscription = only();
    assert.equal(subscription.resource, 'users');
    assert.equal(subscription.changeType, 'updated,deleted');
    assert.equal(subscription.notificationUrl, `${base}/api/graph-webhook`);
    assert.equal(subscription.lifecycleNotificationUrl, `${base}/api/graph-lifecycle`);
    assert.equal(subscription.clientState, CLIENT_STATE);
    const minutes = (Date.parse(subscription.expirationDateTime) - Date.now()) / 60_000;
    assert.ok(minutes <= 41_760 && minutes > 41_760 - 24 * 60, `expiry ${minutes} minutes ahead`);
    assert.equal(count(/^GET \/v1\.0\/users\/delta$/), 3, '250 users in pages of 100');
    assert.equal((await getDirectoryUser(userId(1)))?.displayName, sampleUser(0, userId(1)).displayName);
    assert.equal((await getDirectoryUser(userId(900)))?.accountEnabled, false);
    assert.deepEqual(await names('disabled'), []);
    assert.ok((await readSyncState()).deltaLink);
    assert.ok(!logs.join('\n').includes(CLIENT_STATE), 'the clientState is never logged');
  });

  test('a second run changes nothing: no subscription call but the list, a catch-up with nothing in it', async () => {
    const before = only();
    const sample = await getDirectoryUser(userId(5));
    await runTimer();
    assert.equal(only().id, before.id);
    assert.equal(count(/^(POST|PATCH|DELETE) \/v1\.0\/subscriptions/), 0);
    const deltas = graph.current.requestsTo(/^GET \/v1\.0\/users\/delta$/);
    assert.equal(deltas.length, 1);
    assert.ok(deltas[0]?.url.searchParams.get('$deltatoken'), 'a catch-up from the stored delta link');
    assert.deepEqual(await getDirectoryUser(userId(5)), sample);
  });

  test('a catch-up applies changed properties only, adds new users and removes @removed ones', async () => {
    const before = await getDirectoryUser(userId(2));
    graph.current.setUser({ id: userId(2), jobTitle: 'Chief Explorer' });
    graph.current.setUser(graphUser(userId(901), 'Newcomer Person'));
    graph.current.deleteUser(userId(3));
    await runTimer();
    const after = await getDirectoryUser(userId(2));
    assert.equal(after?.jobTitle, 'Chief Explorer');
    assert.equal(after?.displayName, before?.displayName, 'properties the delta did not carry are kept');
    assert.equal(after?.department, before?.department);
    assert.deepEqual(await names('explorer'), [before?.displayName]);
    assert.deepEqual(await names('newcomer'), ['Newcomer Person']);
    assert.equal(await getDirectoryUser(userId(3)), undefined);
  });

  test('near expiry the subscription is renewed (PATCH), not re-created', async () => {
    const subscription = only();
    subscription.expirationDateTime = new Date(Date.now() + 3 * 3600_000).toISOString();
    await runTimer();
    assert.equal(count(/^PATCH \/v1\.0\/subscriptions\//), 1);
    assert.equal(only().id, subscription.id);
    assert.ok(Date.parse(only().expirationDateTime) - Date.now() > 28 * 86_400_000);
  });

  test('when the renewal answers 404 the subscription is re-created and a full resync runs', async () => {
    const subscription = only();
    subscription.expirationDateTime = new Date(Date.now() + 3600_000).toISOString();
    graph.current.fail('subscriptions', { json: { value: [{ ...subscription, clientState: null }] } }, { status: 404, json: { error: { code: 'ResourceNotFound' } } });
    graph.current.subscriptions.delete(subscription.id);
    await runTimer();
    assert.notEqual(only().id, subscription.id);
    const deltas = graph.current.requestsTo(/^GET \/v1\.0\/users\/delta$/);
    assert.equal(deltas[0]?.url.searchParams.get('$deltatoken'), null, 'a full sync, not a catch-up');
    const state = await readSyncState();
    assert.equal(state.resyncDone, state.resyncRequested);
  });

  test('duplicates and near-misses (no lifecycle URL, other change types) are deleted; others apps\' subscriptions stay', async () => {
    const keep = only();
    const common = { resource: 'Users', notificationUrl: `${base}/api/graph-webhook`, expirationDateTime: new Date(Date.now() + 20 * 86_400_000).toISOString(), clientState: CLIENT_STATE };
    graph.current.subscriptions.set('dup-1', { id: 'dup-1', ...common, changeType: 'updated,deleted', lifecycleNotificationUrl: `${base}/api/graph-lifecycle` });
    graph.current.subscriptions.set('dup-2', { id: 'dup-2', ...common, changeType: 'updated,deleted' });
    graph.current.subscriptions.set('dup-3', { id: 'dup-3', ...common, changeType: 'updated', lifecycleNotificationUrl: `${base}/api/graph-lifecycle` });
    graph.current.subscriptions.set('other', { id: 'other', ...common, changeType: 'updated', notificationUrl: 'https://other.example/hook' });
    await runTimer();
    assert.deepEqual([...graph.current.subscriptions.keys()].sort(), [keep.id, 'other'].sort());
    assert.equal(count(/^GET \/v1\.0\/subscriptions$/), 3, 'the list is followed through @odata.nextLink (pages of 2)');
    graph.current.subscriptions.delete('other');
  });

  test('a subscription made with another clientState is replaced (Graph never returns clientState)', async () => {
    const old = only();
    process.env.GRAPH_CLIENT_STATE = `${CLIENT_STATE}-rotated`;
    try {
      await runTimer();
      const current = [...graph.current.subscriptions.values()];
      assert.equal(current.length, 1);
      assert.notEqual(current[0]?.id, old.id);
      assert.equal(current[0]?.clientState, `${CLIENT_STATE}-rotated`);
    } finally {
      process.env.GRAPH_CLIENT_STATE = CLIENT_STATE;
      await runTimer();
    }
  });

  test('an expired delta link (410 syncStateNotFound) turns into a full resync', async () => {
    graph.current.expireDeltaLinks();
    graph.current.setUser(graphUser(userId(902), 'Postexpiry Person'));
    await runTimer();
    const deltas = graph.current.requestsTo(/^GET \/v1\.0\/users\/delta$/);
    assert.ok(deltas[0]?.url.searchParams.get('$deltatoken'));
    assert.equal(deltas[1]?.url.searchParams.get('$deltatoken'), null);
    assert.deepEqual(await names('postexpiry'), ['Postexpiry Person']);
  });

  test('a full resync removes users deleted while no notification arrived', async () => {
    graph.current.users.delete(userId(4)); // gone without a trace in delta
    await requestResync();
    await runTimer();
    assert.equal(await getDirectoryUser(userId(4)), undefined);
    assert.ok(await getDirectoryUser(userId(5)));
  });

  test('throttled delta pages are retried after Retry-After', async () => {
    graph.current.setUser({ id: userId(6), officeLocation: 'Throttled Tower' });
    graph.current.fail('delta', throttled('0.1'));
    await runTimer();
    assert.equal((await getDirectoryUser(userId(6)))?.officeLocation, 'Throttled Tower');
  });

  test('two syncs never work from the same delta link: the second returns busy while the first holds the lease', async () => {
    const client = await graphClient(featureConfig('graphApi'));
    const baseUrl = featureConfig('graphApi').baseUrl;
    graph.current.setUser({ id: userId(7), jobTitle: 'Concurrent' });
    let release = (): void => undefined;
    graph.current.deltaGate = new Promise<void>((done) => (release = done));
    const arrived = graph.current.deltaArrived();
    const first = runDeltaSync(client, baseUrl);
    await arrived;
    const second = await runDeltaSync(client, baseUrl);
    assert.deepEqual(second, { kind: 'busy' });
    graph.current.deltaGate = undefined;
    release();
    const outcome = await first;
    assert.equal(outcome.kind, 'catchUp');
    assert.equal((await getDirectoryUser(userId(7)))?.jobTitle, 'Concurrent');
    assert.equal((await readSyncState()).leaseId, undefined, 'the lease is released');
  });

  test('when Graph keeps failing the run fails (the host logs it) and the stored delta link is kept', async () => {
    const link = (await readSyncState()).deltaLink;
    graph.current.fail('delta', ...Array.from({ length: 6 }, () => ({ status: 503, headers: { 'Retry-After': '0.01' }, json: { error: { code: 'ServiceUnavailable' } } })));
    await assert.rejects(runTimer());
    assert.equal((await readSyncState()).deltaLink, link);
    assert.equal((await readSyncState()).leaseId, undefined);
  });
});
