import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { health } from '../../src/handlers/health';
import { httpRequest, testContext, withEnv } from '../../tools/stand-ins/functions';

describe('health', () => {
  test('answers 200 with the version and configured features by name, never a value', async () => {
    const secret = Buffer.from('a-webhook-secret-value').toString('base64');
    const res = await withEnv({ OUTGOING_WEBHOOK_SECRETS: secret, GRAPH_CLIENT_STATE: undefined }, () =>
      health(httpRequest({ url: 'http://localhost/api/health' }), testContext('health').context),
    );
    assert.equal(res.status, 200);
    const body = res.jsonBody as { status: string; version: string; features: Record<string, boolean> };
    assert.equal(body.status, 'ok');
    assert.match(body.version, /^\d+\.\d+\.\d+/);
    assert.equal(body.features.outgoingWebhook, true);
    assert.equal(body.features.graphNotifications, false);
    assert.doesNotMatch(JSON.stringify(body), new RegExp(secret));
  });
});
