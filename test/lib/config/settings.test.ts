import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { parseSecureUrl } from '../../../src/lib/core/validate';
import { configuredFeatures, expenseReaders, featureConfig, featureSettings, notificationQueueName, subscriptionSchedule } from '../../../src/lib/config/settings';
import { NotConfiguredError } from '../../../src/lib/core/errors';

const key = Buffer.alloc(32, 7).toString('base64');

describe('featureConfig', () => {
  test('applies defaults and derives the Graph URLs from PUBLIC_BASE_URL', () => {
    const config = featureConfig('graphSubscription', {
      PUBLIC_BASE_URL: 'https://contoso-m365.azurewebsites.net/',
      GRAPH_CLIENT_STATE: 's3cret',
    });
    assert.equal(config.notificationUrl, 'https://contoso-m365.azurewebsites.net/api/graph-webhook');
    assert.equal(config.lifecycleNotificationUrl, 'https://contoso-m365.azurewebsites.net/api/graph-lifecycle');
    assert.equal(config.baseUrl, 'https://graph.microsoft.com');
    assert.equal(config.resource, 'users');
    assert.deepEqual(config.changeTypes, ['updated', 'deleted']);
    assert.equal(config.queueName, 'webhooksnotificationqueue');
    assert.deepEqual(config.credential, { kind: 'managedIdentity' });
  });

  test('names every missing or malformed setting, never a value', () => {
    try {
      featureConfig('graphSubscription', {
        PUBLIC_BASE_URL: 'http://contoso.example.com',
        GRAPH_CLIENT_STATE: 'x'.repeat(129),
        GRAPH_CHANGE_TYPES: 'updated,exploded',
        AZURE_CLIENT_SECRET: 'very-secret-value',
      });
      assert.fail('expected NotConfiguredError');
    } catch (err) {
      assert.ok(err instanceof NotConfiguredError);
      assert.equal(err.status, 503);
      assert.deepEqual([...err.settings].sort(), [
        'AZURE_CLIENT_ID',
        'AZURE_TENANT_ID',
        'GRAPH_CHANGE_TYPES',
        'GRAPH_CLIENT_STATE',
        'PUBLIC_BASE_URL',
      ]);
      assert.doesNotMatch(err.message, /very-secret-value|exploded/);
    }
  });

  test('reads a client secret credential when one is set', () => {
    const config = featureConfig('graphApi', {
      AZURE_TENANT_ID: '11111111-2222-3333-4444-555555555555',
      AZURE_CLIENT_ID: 'abc',
      AZURE_CLIENT_SECRET: 'pw',
    });
    assert.equal(config.credential.kind, 'clientSecret');
  });

  test('parses outgoing webhook secrets with names, a bare token being "default"', () => {
    const a = Buffer.from('first-secret').toString('base64');
    const b = Buffer.from('second-secret').toString('base64');
    const config = featureConfig('outgoingWebhook', { OUTGOING_WEBHOOK_SECRETS: `${a}, ops:${b}` });
    assert.deepEqual(
      config.secrets.map((s) => [s.name, s.key.toString()]),
      [
        ['default', 'first-secret'],
        ['ops', 'second-secret'],
      ],
    );
    assert.throws(() => featureConfig('outgoingWebhook', { OUTGOING_WEBHOOK_SECRETS: 'not base64!' }), NotConfiguredError);
    assert.throws(() => featureConfig('outgoingWebhook', { OUTGOING_WEBHOOK_SECRETS: `x:${a},x:${b}` }), NotConfiguredError);
  });

  test('requires an action token key of at least 32 bytes', () => {
    const env = { PUBLIC_BASE_URL: 'https://a.example.com', ACTIONABLE_MESSAGE_AUDIENCE: 'api://auth-am-x' };
    assert.throws(
      () => featureConfig('actionableMessages', { ...env, ACTION_TOKEN_KEY: Buffer.alloc(16).toString('base64') }),
      (err: unknown) => err instanceof NotConfiguredError && err.settings.includes('ACTION_TOKEN_KEY'),
    );
    const config = featureConfig('actionableMessages', { ...env, ACTION_TOKEN_KEY: key });
    assert.equal(config.tenantId, 'common');
    assert.deepEqual(config.audiences, ['api://auth-am-x']);
  });

  test('legacy actionable-message tokens need the sender they are checked against', () => {
    assert.throws(
      () =>
        featureConfig('actionableMessages', {
          PUBLIC_BASE_URL: 'https://a.example.com',
          ACTIONABLE_MESSAGE_AUDIENCE: 'api://auth-am-x',
          ACTION_TOKEN_KEY: key,
          ACTIONABLE_MESSAGE_LEGACY_AUDIENCE: 'https://api.contoso.com',
        }),
      (err: unknown) => err instanceof NotConfiguredError && err.settings.includes('ACTIONABLE_MESSAGE_SENDER'),
    );
  });

  test('EXPENSE_READERS: addresses and object ids, lowercased; a malformed list grants no one and names the setting', () => {
    const id = '0B1E2F3A-0000-4000-8000-000000000004';
    const readers = expenseReaders({ EXPENSE_READERS: ` Rita@Contoso.com , ${id}` });
    assert.deepEqual([...readers.addresses], ['rita@contoso.com']);
    assert.deepEqual([...readers.objectIds], [id.toLowerCase()]);
    const malformed = `rita@contoso.com,${id},finance team`;
    const none = expenseReaders({ EXPENSE_READERS: malformed });
    assert.equal(none.addresses.size + none.objectIds.size, 0);
    assert.throws(
      () =>
        featureConfig('expenses', {
          PUBLIC_BASE_URL: 'https://a.example.com',
          ACTIONABLE_MESSAGE_SENDER: 'expenses@contoso.com',
          ACTIONABLE_MESSAGE_ORIGINATOR: 'originator',
          ACTION_TOKEN_KEY: key,
          EXPENSE_READERS: malformed,
        }),
      (err: unknown) => err instanceof NotConfiguredError && err.settings.join() === 'EXPENSE_READERS',
    );
  });

  test('a feature lists every setting its reader may read, also those one branch needs', () => {
    assert.deepEqual(
      [...featureSettings('graphApi')].sort(),
      ['AZURE_CLIENT_CERTIFICATE_PATH', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_TENANT_ID', 'GRAPH_BASE_URL'],
    );
  });

  test('re-reads a feature when one of its settings changes', () => {
    const first = featureConfig('composeExtension', { PUBLIC_BASE_URL: 'https://a.example.com', BOT_APP_ID: 'one' });
    const second = featureConfig('composeExtension', { PUBLIC_BASE_URL: 'https://a.example.com', BOT_APP_ID: 'two' });
    assert.equal(first.botAppId, 'one');
    assert.equal(second.botAppId, 'two');
    assert.equal(second.signin, 'off');
  });

  test('an unresolved Key Vault reference counts as not configured, not as the secret', () => {
    assert.throws(
      () =>
        featureConfig('graphNotifications', {
          GRAPH_CLIENT_STATE: '@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/GRAPH-CLIENT-STATE/)',
        }),
      (err: unknown) => err instanceof NotConfiguredError && err.settings.includes('GRAPH_CLIENT_STATE'),
    );
  });

  test('one unconfigured feature leaves the others configured', () => {
    const features = configuredFeatures({ OUTGOING_WEBHOOK_SECRETS: Buffer.from('k').toString('base64') });
    assert.equal(features.outgoingWebhook, true);
    assert.equal(features.graphNotifications, false);
    assert.equal(features.signin, false);
  });
});

describe('load-time settings', () => {
  test('queue name and schedule fall back to their defaults when unset', () => {
    assert.equal(notificationQueueName({}), 'webhooksnotificationqueue');
    assert.equal(subscriptionSchedule({}), '0 0 * * * *');
    assert.equal(notificationQueueName({ NOTIFICATION_QUEUE: 'q2' }), 'q2');
  });
});

describe('parseSecureUrl', () => {
  test('accepts https anywhere and http only on loopback hosts', () => {
    assert.ok(parseSecureUrl('https://login.microsoftonline.com/x'));
    assert.ok(parseSecureUrl('http://127.0.0.1:5000/keys'));
    assert.ok(parseSecureUrl('http://localhost:5000/keys'));
    assert.ok(parseSecureUrl('http://[::1]:5000/keys'));
    assert.equal(parseSecureUrl('http://login.microsoftonline.com/x'), undefined);
    assert.equal(parseSecureUrl('http://127.0.0.1.evil.com/x'), undefined);
    assert.equal(parseSecureUrl('https://user:pw@host/x'), undefined);
    assert.equal(parseSecureUrl('not a url'), undefined);
  });
});
