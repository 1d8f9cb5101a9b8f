import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { verifyBotRequest } from '../../../src/lib/messaging-extension/bot-token';
import { featureConfig } from '../../../src/lib/config/settings';
import { UnauthenticatedError } from '../../../src/lib/core/errors';
import { setEnv } from '../../support/env';
import { withEnv } from '../../support/functions';
import type { SigningKey } from '../../support/openid-server';
import { post } from './requests';
import {
  BOT_APP_ID,
  type BotStandIn,
  botClaims,
  botToken,
  invokeActivity,
  nowSec,
  SERVICE_URL,
  startBotStandIn,
  TENANT_ID,
} from './support';

/**
 * Every rule of the Bot Framework token, with real RSA-signed tokens from a loopback key endpoint, sent
 * through the real handler as real HttpRequests. A non-invoke activity is used so that only the token
 * decides: 200 when it passes, 401 otherwise.
 */

let stand: BotStandIn;
/** Keys published before the first fetch, so that no test depends on the unknown-kid refresh cooldown. */
let rs384: SigningKey;
let rs512: SigningKey;
let skypeOnly: SigningKey;
let restoreEnv: () => void;

before(async () => {
  stand = await startBotStandIn();
  rs384 = await stand.server.addKey({ endorsements: ['msteams'], alg: 'RS384' });
  rs512 = await stand.server.addKey({ endorsements: ['msteams'], alg: 'RS512' });
  skypeOnly = await stand.server.addKey({ endorsements: ['skype', 'webchat'] });
  restoreEnv = setEnv(stand.env);
});
after(async () => {
  restoreEnv();
  await stand.server.close();
});

const message = (serviceUrl = SERVICE_URL): Record<string, unknown> => ({
  ...invokeActivity('unused', undefined),
  type: 'message',
  name: undefined,
  text: 'hello',
  serviceUrl,
});

/** 200, or 401 with the reason the app logged (never sent to the caller). */
async function statusFor(token: string, activity: Record<string, unknown> = message()): Promise<string> {
  const answer = await post(activity, `Bearer ${token}`);
  if (answer.status !== 401) return String(answer.status);
  assert.equal(answer.body, undefined, '401 says nothing');
  const reason = answer.logs.map((l) => /^auth\.rejected .*"reason":"([^"]+)"/.exec(l)?.[1]).find(Boolean);
  return `401 ${reason ?? '?'}`;
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('Bot Framework token', () => {
  test('a channel token signed with an msteams-endorsed key passes; a non-invoke gets 200 with no body', async () => {
    const answer = await post(message(), `Bearer ${await botToken(stand)}`);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, undefined);
  });

  test('RS384 and RS512 are accepted, as botbuilder accepts them', async () => {
    assert.equal(await statusFor(await stand.server.sign(botClaims(), { key: rs384, alg: 'RS384' })), '200');
    assert.equal(await statusFor(await stand.server.sign(botClaims(), { key: rs512, alg: 'RS512' })), '200');
  });

  test('a missing header, another scheme, or a malformed token gets 401', async () => {
    const token = await botToken(stand);
    assert.equal((await post(message(), undefined)).status, 401);
    assert.equal((await post(message(), `Basic ${token}`)).status, 401);
    assert.equal((await post(message(), `Bearer not-a-jwt`)).status, 401);
    assert.equal((await post(message(), `Bearer ${token} extra`)).status, 401);
  });

  test('a forged token gets 401: changed claims, or a signature by a key that is not published', async () => {
    const token = await botToken(stand);
    const [header, , signature] = token.split('.');
    const tampered = `${header}.${b64(botClaims({ aud: BOT_APP_ID, serviceurl: SERVICE_URL, extra: 'x' }))}.${signature}`;
    assert.equal(await statusFor(tampered), '401 signature');
    // A key of another stand-in, presented under the kid of a published key.
    const other = await startBotStandIn();
    try {
      const forged = await other.server.sign(botClaims(), { key: other.teamsKey, header: { kid: stand.teamsKey.kid } });
      assert.equal(await statusFor(forged), '401 signature');
    } finally {
      await other.server.close();
    }
  });

  test('expired tokens get 401; 5 minutes of clock skew are honoured on exp and nbf', async () => {
    const now = nowSec();
    assert.equal(await statusFor(await botToken(stand, { exp: now - 360 })), '401 expired');
    assert.equal(await statusFor(await botToken(stand, { exp: now - 200 })), '200');
    assert.equal(await statusFor(await botToken(stand, { nbf: now + 360 })), '401 not_yet_valid');
    assert.equal(await statusFor(await botToken(stand, { nbf: now + 200 })), '200');
    assert.equal(await statusFor(await botToken(stand, { exp: undefined })), '401 claim_exp');
  });

  test('a token for another bot (aud) or from another issuer gets 401', async () => {
    assert.equal(await statusFor(await botToken(stand, { aud: 'another-bot-id' })), '401 audience');
    assert.equal(await statusFor(await botToken(stand, { iss: 'https://api.botframework.us' })), '401 issuer');
    assert.equal(await statusFor(await botToken(stand, { iss: 'https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/' })), '401 issuer');
  });

  test('the serviceurl claim must equal the activity serviceUrl exactly; a token without it gets 401', async () => {
    assert.equal(await statusFor(await botToken(stand, { serviceurl: 'https://smba.trafficmanager.net/emea/' })), '401 serviceurl');
    assert.equal(await statusFor(await botToken(stand, { serviceurl: SERVICE_URL.toUpperCase() })), '401 serviceurl');
    assert.equal(await statusFor(await botToken(stand, { serviceurl: undefined })), '401 serviceurl');
    // A body that is not an activity at all cannot match the claim either.
    assert.equal((await post('{not json', `Bearer ${await botToken(stand)}`)).status, 401);
  });

  test("a key whose endorsements do not name the activity's channel gets 401", async () => {
    const token = await stand.server.sign(botClaims(), { key: skypeOnly });
    assert.equal(await statusFor(token), '401 endorsement');
    // The msteams-endorsed key signs the same claims fine, and the same token fails for another channel.
    const teams = await botToken(stand);
    assert.equal(await statusFor(teams), '200');
    assert.equal(await statusFor(teams, { ...message(), channelId: 'directline' }), '401 endorsement');
  });

  test('HS256 keyed with the public key and alg none are rejected', async () => {
    const key = stand.teamsKey;
    const claims = b64(botClaims());
    const none = `${b64({ alg: 'none', kid: key.kid, typ: 'JWT' })}.${claims}.`;
    assert.equal(await statusFor(none), '401 algorithm');
    const { createHmac } = await import('node:crypto');
    const hsInput = `${b64({ alg: 'HS256', kid: key.kid, typ: 'JWT' })}.${claims}`;
    const hs = `${hsInput}.${createHmac('sha256', String(key.jwk.n)).update(hsInput).digest('base64url')}`;
    assert.equal(await statusFor(hs), '401 algorithm');
  });

  test('Entra tokens of BOT_TENANT_ID pass only when it is set, with tid bound to iss', async () => {
    const now = nowSec();
    const entra = (overrides: Record<string, unknown> = {}): Promise<string> =>
      stand.server.sign({
        iss: `https://login.microsoftonline.com/${TENANT_ID}/v2.0`,
        aud: BOT_APP_ID,
        tid: TENANT_ID,
        serviceurl: SERVICE_URL,
        nbf: now - 60,
        exp: now + 3600,
        ...overrides,
      });
    assert.equal(await statusFor(await entra()), '401 issuer', 'off by default');
    await withEnv({ BOT_TENANT_ID: TENANT_ID }, async () => {
      assert.equal(await statusFor(await entra()), '200', 'v2 issuer');
      assert.equal(await statusFor(await entra({ iss: `https://sts.windows.net/${TENANT_ID}/` })), '200', 'v1 issuer');
      const other = '0c0b5b6e-6d7b-4f0a-9a0e-1b2c3d4e5f60';
      assert.equal(await statusFor(await entra({ tid: other })), '401 tenant', 'tid of another tenant');
      assert.equal(await statusFor(await entra({ iss: `https://sts.windows.net/${other}/`, tid: other })), '401 issuer', 'other tenant');
      assert.equal(await statusFor(await entra({ aud: 'api://other' })), '401 audience', 'audience');
      assert.equal(await statusFor(await entra({ serviceurl: 'https://evil.example/' })), '401 serviceurl', 'serviceurl');
    });
  });
});

describe('verification cache', () => {
  test('a repeated token skips the signature but still has its expiry and activity-bound claims checked', async () => {
    const config = featureConfig('composeExtension');
    const now = new Date();
    const exp = nowSec() + 600;
    const authorization = `Bearer ${await botToken(stand, { exp })}`;
    await verifyBotRequest({ authorization, serviceUrl: SERVICE_URL, channelId: 'msteams' }, config, now);
    const keyFetches = stand.server.requests.length;
    // Seen again: no key fetch, same answer.
    await verifyBotRequest({ authorization, serviceUrl: SERVICE_URL, channelId: 'msteams' }, config, now);
    assert.equal(stand.server.requests.length, keyFetches);
    const rejects = (promise: Promise<unknown>, reason: string): Promise<void> =>
      assert.rejects(promise, (err: unknown) => err instanceof UnauthenticatedError && err.reason === reason);
    await rejects(verifyBotRequest({ authorization, serviceUrl: 'https://smba.example/other/', channelId: 'msteams' }, config, now), 'serviceurl');
    await rejects(verifyBotRequest({ authorization, serviceUrl: SERVICE_URL, channelId: 'webchat-x' }, config, now), 'endorsement');
    // Past exp + 5 minutes the cached verification no longer counts.
    await rejects(verifyBotRequest({ authorization, serviceUrl: SERVICE_URL, channelId: 'msteams' }, config, new Date((exp + 301) * 1000)), 'expired');
  });
});
