import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { LocalHost } from '../../../tools/local-host/host';
import { useAzurite } from '../../support/azurite';
import { setEnv } from '../../../tools/stand-ins/env';
import { appModules, startTestHost } from '../../support/local-host';
import { type BotStandIn, botToken, invokeActivity, PUBLIC_BASE_URL, startBotStandIn } from '../../../tools/stand-ins/bot';

/**
 * The messaging extension's functions as registered, loaded and served by the local host in streaming
 * mode, over HTTP. (Only this feature's function files are loaded, so the test does not depend on the
 * others'; this file imports no Functions code itself, as the host must load @azure/functions first.)
 */

useAzurite();

describe('messaging extension through the local host', () => {
  let stand: BotStandIn;
  let host: LocalHost;
  let restoreEnv: () => void;

  before(async () => {
    stand = await startBotStandIn();
    restoreEnv = setEnv(stand.env);
    ({ host } = await startTestHost(
      'compose-extension',
      appModules('composeExtension', 'settingsPage', 'signinStart', 'signinCallback'),
    ));
  });
  after(async () => {
    await host.stop();
    await stand.server.close();
    restoreEnv();
  });

  test('a signed invoke is answered; the same body with a token for another serviceUrl gets 401', async () => {
    const activity = invokeActivity('composeExtension/querySettingUrl', { commandId: 'searchPeople' });
    const body = JSON.stringify(activity);
    const good = await fetch(`${host.url}/api/compose-extension`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await botToken(stand)}` },
      body,
    });
    assert.equal(good.status, 200);
    assert.deepEqual(await good.json(), {
      composeExtension: { type: 'config', suggestedActions: { actions: [{ type: 'openUrl', value: `${PUBLIC_BASE_URL}/api/settings`, title: 'Settings' }] } },
    });
    const misdirected = await fetch(`${host.url}/api/compose-extension`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await botToken(stand, { serviceurl: 'https://evil.example/' })}` },
      body,
    });
    assert.equal(misdirected.status, 401);
  });

  test('the settings page is served with its Content-Security-Policy', async () => {
    const page = await fetch(`${host.url}/api/settings?department=Sales`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.match(await page.text(), /value="Sales"/);
  });
});
