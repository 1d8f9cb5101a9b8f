import assert from 'node:assert/strict';
import { test } from 'node:test';

import { runLoad } from '../../tools/load/load';

/**
 * A small run of `npm run load` (a few hundred notifications, a few requests per endpoint): the tool
 * itself works, every change lands exactly once, and every endpoint answers as it should under
 * concurrent traffic. The full run (10,000 notifications) is part of `npm run bench`.
 */
test('the load tool applies every notification exactly once and gets the expected answer from every endpoint', async () => {
  const summary = await runLoad({ notifications: 300, scale: 0.02, timeLimitMs: 60_000, log: () => undefined });
  const { graph } = summary;
  assert.equal(graph.postErrors, 0);
  assert.equal(graph.usersNotFetchedOnce, 0, 'each changed user fetched from Graph exactly once');
  assert.equal(graph.forgedFetched, 0, 'no user of a forged notification fetched');
  assert.equal(graph.directoryMismatches, 0, 'the directory equals the tenant');
  assert.equal(graph.queueLeft + graph.poisonLeft, 0);
  assert.ok(graph.graphBatchRequests <= Math.ceil(graph.changedUsers / 15), 'users fetched in bulk, not one by one');
  assert.equal(summary.endpoints.length, 9);
  for (const endpoint of summary.endpoints) {
    assert.ok(endpoint.requests >= 2);
    assert.equal(endpoint.errors, 0, `${endpoint.endpoint}: ${JSON.stringify(endpoint.statuses)}`);
  }
  assert.equal(summary.mixed.serverErrors, 0);
});
