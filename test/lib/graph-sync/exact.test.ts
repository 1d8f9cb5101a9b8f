import assert from 'node:assert/strict';
import { beforeEach, describe, test } from 'node:test';

import { maintainSubscriptions } from '../../../src/handlers/maintainSubscriptions';
import { featureConfig } from '../../../src/lib/config/settings';
import { graphClient } from '../../../src/lib/clients/graph-client';
import { getDirectoryUser, searchDirectory } from '../../../src/lib/directory/directory';
import { runDeltaSync } from '../../../src/lib/graph-sync/delta';
import { processNotificationMessage } from '../../../src/lib/graph-sync/processing';
import { acquireSyncLease, LEASE_MS, readSyncState, requestResync } from '../../../src/lib/graph-sync/state';
import { useAzurite } from '../../support/azurite';
import { setEnv } from '../../../tools/stand-ins/env';
import { testContext } from '../../../tools/stand-ins/functions';
import { clearDirectory, mirrorProblems, rowsOf } from '../directory/mirror';
import { deltaOffset, graphUser, REAL_ANSWER, sampleUser, type UserProps } from '../../../tools/stand-ins/fake-graph';
import { useFakeGraph, userId } from './setup';

/**
 * The mirror is exact, through real Azurite and the fake Graph: the newest read wins, absence is not
 * deletion, removed and disabled users leave their rows, a full sync resumes from its checkpoint, a
 * crashed run's lease runs out, one subscription under concurrent upkeep, full syncs when they are due.
 */
useAzurite();
const graph = useFakeGraph();

const deliver = async (ids: string[]): Promise<void> => {
  const { context } = testContext('processNotifications');
  await processNotificationMessage({ type: 'userChanges', userIds: ids }, context);
};
const found = async (query: string): Promise<string[]> => (await searchDirectory(query, { skip: 0, count: 50 })).people.map((p) => p.id);
const tenant = (): UserProps[] => [...graph.current.users.values()].map((u) => u.props);
async function sync(options: Parameters<typeof runDeltaSync>[2] = {}): ReturnType<typeof runDeltaSync> {
  const config = featureConfig('graphApi');
  return runDeltaSync(await graphClient(config), config.baseUrl, options);
}

describe('the mirror is exact', () => {
  beforeEach(async () => {
    graph.current.reset();
    graph.current.deltaPageSize = 100;
    graph.current.server.requests.splice(0);
    await clearDirectory();
  });

  // Frozen: both reads are sent in the same millisecond (a fast instance does this), so the wall clock
  // alone cannot order them.
  for (const clock of ['running', 'frozen'] as const) {
    test(`the newest read wins when the older read writes last (clock ${clock})`, async (t) => {
      if (clock === 'frozen') t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
      const id = userId(1);
      graph.current.setUser(graphUser(id, 'Olderead Person', { jobTitle: 'Clerk' }));
      const { release, arrived } = graph.current.holdNextBatch();
      const older = deliver([id]); // reads "Olderead" now, answered only after the newer read is applied
      await arrived;
      graph.current.setUser(graphUser(id, 'Newread Person', { jobTitle: 'Director' }));
      await deliver([id]);
      release();
      await older;
      assert.equal((await getDirectoryUser(id))?.displayName, 'Newread Person');
      assert.deepEqual(await found('olderead'), []);
      assert.deepEqual(await found('director'), [id]);
      assert.deepEqual(await mirrorProblems(tenant()), []);
    });
  }

  test('a user absent from a bulk answer stays until GET /users/{id} answers 404', async () => {
    const id = userId(2);
    graph.current.setUser(graphUser(id, 'Lagging Replica'));
    await deliver([id]);
    graph.current.lagging.add(id);
    graph.current.setUser({ id, jobTitle: 'Seen Alone' });
    await deliver([id]);
    assert.equal((await getDirectoryUser(id))?.jobTitle, 'Seen Alone', 'the per-user read found it');
    assert.equal(graph.current.requestsTo(new RegExp(`^GET /v1\\.0/users/${id}$`)).length, 1);
    await requestResync();
    const full = await sync();
    assert.equal(full.kind === 'full' && full.removed, 0, 'a full round that did not see it confirms it alone');
    assert.deepEqual(await found('lagging'), [id]);
    graph.current.deleteUser(id);
    await deliver([id]);
    assert.equal(await getDirectoryUser(id), undefined);
    assert.deepEqual(await rowsOf(id), []);
  });

  test('deleted users leave every row; disabled users every row but the address that resolves them', async () => {
    const [stays, disabled, deleted] = [userId(3), userId(4), userId(5)];
    for (const id of [stays, disabled, deleted]) graph.current.setUser(sampleUser(Number.parseInt(id.slice(-3), 16), id));
    await deliver([stays, disabled, deleted]);
    graph.current.setUser({ id: disabled, accountEnabled: false });
    graph.current.deleteUser(deleted);
    await deliver([disabled, deleted]);
    assert.deepEqual(await rowsOf(deleted), []);
    assert.deepEqual((await rowsOf(disabled)).map((row) => row.partitionKey.replace(/-.*/, '')).sort(), ['addr', 'user']);
    assert.deepEqual(await mirrorProblems(tenant()), []);
  });

  test('a full sync of 3,000 users killed at page 13 of 30 resumes there: no page is read twice', async (t) => {
    for (let n = 0; n < 3000; n++) graph.current.setUser(sampleUser(n, userId(10_000 + n)));
    graph.current.fail('delta', ...Array.from({ length: 12 }, () => REAL_ANSWER), { status: 403, json: { error: { code: 'Authorization_RequestDenied' } } });
    const started = Date.now();
    await assert.rejects(sync());
    const checkpoint = (await readSyncState()).fullRound;
    assert.ok(checkpoint, 'the round left its checkpoint');
    assert.equal(deltaOffset(checkpoint.nextLink), 1200);
    graph.current.server.requests.splice(0);
    const resumed = await sync();
    const ms = Date.now() - started;
    t.diagnostic(`full sync of 3,000 users, killed and resumed: ${ms} ms, ${Math.round(3000 / (ms / 1000))} users/s (Azurite)`);
    assert.equal(resumed.kind, 'full');
    assert.equal(resumed.kind === 'full' && resumed.resumed, true);
    assert.equal(resumed.kind === 'full' && resumed.pages, 18);
    const deltaReads = graph.current.requestsTo(/^GET \/v1\.0\/users\/delta$/);
    assert.equal(deltaReads.length, 18);
    assert.ok(deltaReads.every((r) => r.url.searchParams.has('$skiptoken')), 'the first page is not read again');
    assert.equal(graph.current.requestsTo(/^GET \/v1\.0\/users\/[^/]+$/).length - deltaReads.length, 0, 'users of the first run are marked: none is read alone');
    assert.equal((await readSyncState()).fullRound, undefined);
    assert.deepEqual(await mirrorProblems(tenant()), []);
  });

  test("a crashed run's lease runs out within LEASE_MS (2 minutes): until then other runs are busy", async () => {
    graph.current.setUser(graphUser(userId(6), 'After Crash'));
    const crashedAt = Date.now();
    assert.ok(await acquireSyncLease(LEASE_MS, crashedAt), 'a run takes the lease and dies holding it');
    assert.deepEqual(await sync({ now: () => crashedAt + 60_000 }), { kind: 'busy' });
    const after = await sync({ now: () => crashedAt + LEASE_MS + 1 });
    assert.equal(after.kind, 'full');
    assert.deepEqual(await found('crash'), [userId(6)]);
    assert.ok(LEASE_MS <= 5 * 60_000);
  });

  test('concurrent maintainSubscriptions runs leave exactly one subscription', async () => {
    const timer = async (): Promise<void> => {
      const { context } = testContext('maintainSubscriptions');
      await maintainSubscriptions({ isPastDue: false, scheduleStatus: { last: '', next: '', lastUpdated: '' } } as never, context);
    };
    for (const runs of [5, 2, 2, 2]) {
      graph.current.subscriptions.clear();
      await Promise.all(Array.from({ length: runs }, timer));
      assert.equal(graph.current.subscriptions.size, 1, `${runs} concurrent runs`);
    }
    assert.equal((await readSyncState()).leaseId, undefined);
  });

  test('a full sync runs once DIRECTORY_FULL_SYNC_HOURS have passed, or when a resync is owed; catch-ups otherwise', async () => {
    const restore = setEnv({ DIRECTORY_FULL_SYNC_HOURS: '2' });
    try {
      const every = featureConfig('graphSubscription').fullSyncEveryMs;
      assert.equal(every, 2 * 3_600_000);
      const t0 = Date.now();
      assert.equal((await sync({ fullSyncEveryMs: every, now: () => t0 })).kind, 'full', 'never synced');
      assert.equal((await sync({ fullSyncEveryMs: every, now: () => t0 + 3_600_000 })).kind, 'catchUp');
      assert.equal((await sync({ fullSyncEveryMs: every, now: () => t0 + 2 * 3_600_000 + 1 })).kind, 'full');
      await requestResync();
      assert.equal((await sync({ fullSyncEveryMs: every, now: () => t0 + 2 * 3_600_000 + 2 })).kind, 'full', 'a resync is owed');
      assert.equal((await sync({ fullSyncEveryMs: every, now: () => t0 + 2 * 3_600_000 + 3 })).kind, 'catchUp');
    } finally {
      restore();
    }
  });
});
