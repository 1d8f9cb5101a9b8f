import assert from 'node:assert/strict';
import { constants, createHmac, KeyObject, sign as rawSign, type webcrypto } from 'node:crypto';
import { after, before, describe, mock, test } from 'node:test';

import { verifyBotRequest } from '../../../src/lib/messaging-extension/bot-token';
import { featureConfig } from '../../../src/lib/config/settings';
import { UnauthenticatedError } from '../../../src/lib/core/errors';
import { useAzurite } from '../../support/azurite';
import { setEnv } from '../../../tools/stand-ins/env';
import { withEnv } from '../../../tools/stand-ins/functions';
import { type OpenIdServer, type SigningKey, startOpenIdServer } from '../../../tools/stand-ins/openid-server';
import { storageSnapshot } from '../../support/storage-snapshot';
import { post } from './requests';
import {
  type Account,
  BOT_APP_ID,
  BOT_ISSUER,
  type BotStandIn,
  botClaims,
  botToken,
  invokeActivity,
  nowSec,
  SERVICE_URL,
  startBotStandIn,
  TENANT_ID,
} from '../../../tools/stand-ins/bot';

/**
 * The one token shape Teams and Outlook send to a bot (docs/bot-tokens.md, row A), for each bot type the
 * app can be configured as, with real RSA-signed tokens from loopback key endpoints, sent through the real
 * handler as real HttpRequests. Each forgery differs from that shape in one thing and must get a 401 that
 * says nothing and stores nothing: the request is a `composeExtension/setting` invoke, which would
 * otherwise write the user's settings to Table storage (Azurite). The clock is frozen.
 */

useAzurite();

const FROZEN_AT = new Date('2026-11-23T12:00:00Z');

let stand: BotStandIn;
/** The bot's tenant in Entra ID: its own metadata and keys, none of which the Bot Framework publishes. */
let entra: OpenIdServer;
/** Keys published before the first fetch, so that no test depends on the unknown-kid refresh cooldown. */
let channelsKey: SigningKey;
let rs384: SigningKey;
let rs512: SigningKey;
let skypeOnly: SigningKey;
let restoreEnv: () => void;

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A user of its own per request, so that a stored setting shows in the storage snapshot. */
let users = 0;
function settingInvoke(channelId = 'msteams', serviceUrl = SERVICE_URL): Record<string, unknown> {
  const from: Account = { id: `29:bot-auth-user-${++users}`, aadObjectId: 'a1' };
  return { ...invokeActivity('composeExtension/setting', { state: JSON.stringify({ department: 'Finance' }) }, from), channelId, serviceUrl };
}

/** "200 stored", or "401 <reason>" after checking the 401 says nothing and stored nothing. */
async function outcome(token: string, activity: Record<string, unknown> = settingInvoke()): Promise<string> {
  const before = await storageSnapshot();
  const answer = await post(activity, `Bearer ${token}`);
  const changed = JSON.stringify(await storageSnapshot()) !== JSON.stringify(before);
  if (answer.status !== 401) return `${answer.status}${changed ? ' stored' : ''}`;
  assert.equal(answer.body, undefined, '401 says nothing');
  assert.equal(changed, false, 'a rejected request stores nothing');
  const reason = answer.logs.map((l) => /^auth\.rejected .*"reason":"([^"]+)"/.exec(l)?.[1]).find(Boolean);
  return `401 ${reason ?? '?'}`;
}

interface BotConfiguration {
  type: string;
  /** The token's `aud`: the app registration's client id, or for a managed identity the identity's. */
  appId: string;
  tenantId?: string;
}

const BOT_CONFIGURATIONS: BotConfiguration[] = [
  { type: 'MultiTenant', appId: BOT_APP_ID },
  { type: 'SingleTenant', appId: '3c9d0f6a-8e21-4b7c-a5d4-6f1e2b9c8a70', tenantId: TENANT_ID },
  { type: 'UserAssignedMSI', appId: 'e4a1b7c2-5d3f-4e86-9b0a-7c2d1f4e6a93', tenantId: TENANT_ID },
];

interface Forgery {
  what: string;
  token: (bot: BotConfiguration) => Promise<string> | string;
  activity?: () => Record<string, unknown>;
  reason: string;
}

/** Row A for the bot: the claims the Bot Connector sends, signed by a key endorsed for msteams and outlook. */
const rowA = (bot: BotConfiguration, overrides: Record<string, unknown> = {}): Promise<string> =>
  stand.server.sign(botClaims({ aud: bot.appId, ...overrides }), { key: channelsKey });

/** An Entra access token of the bot's own tenant addressed to the bot, as other bots, agents or the Emulator hold. */
function entraToken(bot: BotConfiguration, version: '1.0' | '2.0', overrides: Record<string, unknown> = {}): Promise<string> {
  const tenant = bot.tenantId ?? TENANT_ID;
  const now = nowSec();
  const shape =
    version === '1.0'
      ? { iss: `https://sts.windows.net/${tenant}/`, appid: bot.appId, ver: '1.0' }
      : { iss: `https://login.microsoftonline.com/${tenant}/v2.0`, azp: bot.appId, ver: '2.0' };
  // With serviceurl, too: the shape the app used to accept with BOT_TENANT_ID.
  return entra.sign({ ...shape, aud: bot.appId, tid: tenant, serviceurl: SERVICE_URL, nbf: now - 60, iat: now - 60, exp: now + 3600, ...overrides });
}

/** What a bot holds to call the Bot Connector: issued by its tenant, addressed to the Connector. */
const connectorClaims = (bot: BotConfiguration): Record<string, unknown> => ({
  iss: `https://sts.windows.net/${bot.tenantId ?? TENANT_ID}/`,
  aud: 'https://api.botframework.com',
  appid: bot.appId,
  tid: bot.tenantId ?? TENANT_ID,
  ver: '1.0',
  nbf: nowSec() - 60,
  exp: nowSec() + 3600,
});

const FORGERIES: Forgery[] = [
  { what: 'iss: Entra v1 of the bot tenant', token: (bot) => rowA(bot, { iss: `https://sts.windows.net/${bot.tenantId ?? TENANT_ID}/` }), reason: 'issuer' },
  { what: 'iss: Entra v2 of the bot tenant', token: (bot) => rowA(bot, { iss: `https://login.microsoftonline.com/${bot.tenantId ?? TENANT_ID}/v2.0` }), reason: 'issuer' },
  { what: 'iss: the Emulator tenant', token: (bot) => rowA(bot, { iss: 'https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/' }), reason: 'issuer' },
  { what: 'iss: the US Government cloud', token: (bot) => rowA(bot, { iss: 'https://api.botframework.us' }), reason: 'issuer' },
  { what: 'iss: a trailing slash', token: (bot) => rowA(bot, { iss: `${BOT_ISSUER}/` }), reason: 'issuer' },
  { what: 'aud: the Bot Connector', token: (bot) => rowA(bot, { aud: 'https://api.botframework.com' }), reason: 'audience' },
  { what: 'aud: api://{app id}', token: (bot) => rowA(bot, { aud: `api://${bot.appId}` }), reason: 'audience' },
  { what: 'aud: another bot', token: (bot) => rowA(bot, { aud: bot.appId === BOT_APP_ID ? '3c9d0f6a-8e21-4b7c-a5d4-6f1e2b9c8a70' : BOT_APP_ID }), reason: 'audience' },
  { what: 'aud: a list holding the app id', token: (bot) => rowA(bot, { aud: [bot.appId, 'https://api.botframework.com'] }), reason: 'audience' },
  { what: 'serviceurl: missing', token: (bot) => rowA(bot, { serviceurl: undefined }), reason: 'serviceurl' },
  { what: 'serviceurl: another host', token: (bot) => rowA(bot, { serviceurl: 'https://smba.evil.example/amer/' }), reason: 'serviceurl' },
  { what: 'serviceurl: another path', token: (bot) => rowA(bot, { serviceurl: 'https://smba.trafficmanager.net/emea/' }), reason: 'serviceurl' },
  { what: 'serviceurl: no trailing slash', token: (bot) => rowA(bot, { serviceurl: SERVICE_URL.replace(/\/$/, '') }), reason: 'serviceurl' },
  { what: 'serviceurl: other case', token: (bot) => rowA(bot, { serviceurl: SERVICE_URL.toUpperCase() }), reason: 'serviceurl' },
  { what: 'endorsements: the key lacks the channel', token: (bot) => stand.server.sign(botClaims({ aud: bot.appId }), { key: skypeOnly }), reason: 'endorsement' },
  { what: 'endorsements: the activity names another channel', token: (bot) => rowA(bot), activity: () => settingInvoke('directline'), reason: 'endorsement' },
  { what: 'key: from the Entra metadata, not the Bot Framework', token: (bot) => entra.sign(botClaims({ aud: bot.appId })), reason: 'unknown_key' },
  {
    what: 'key: an Entra key presented under the kid of a published key',
    token: (bot) => entra.sign(botClaims({ aud: bot.appId }), { header: { kid: channelsKey.kid } }),
    reason: 'signature',
  },
  { what: 'alg: none', token: (bot) => `${b64({ alg: 'none', kid: channelsKey.kid, typ: 'JWT' })}.${b64(botClaims({ aud: bot.appId }))}.`, reason: 'algorithm' },
  {
    what: 'alg: HS256 keyed with the public key',
    token: (bot) => {
      const input = `${b64({ alg: 'HS256', kid: channelsKey.kid, typ: 'JWT' })}.${b64(botClaims({ aud: bot.appId }))}`;
      return `${input}.${createHmac('sha256', String(channelsKey.jwk.n)).update(input).digest('base64url')}`;
    },
    reason: 'algorithm',
  },
  {
    what: 'alg: PS256 by the published key',
    token: (bot) => {
      // jose will not sign PS256 with a key made for RS256, so the RSA-PSS signature is made by hand.
      const input = `${b64({ alg: 'PS256', kid: channelsKey.kid, typ: 'JWT' })}.${b64(botClaims({ aud: bot.appId }))}`;
      const key = KeyObject.from(channelsKey.privateKey as unknown as webcrypto.CryptoKey);
      const signature = rawSign('sha256', Buffer.from(input), { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
      return `${input}.${signature.toString('base64url')}`;
    },
    reason: 'algorithm',
  },
  { what: 'exp: 300 s ago', token: (bot) => rowA(bot, { exp: nowSec() - 300 }), reason: 'expired' },
  { what: 'exp: missing', token: (bot) => rowA(bot, { exp: undefined }), reason: 'claim_exp' },
  { what: 'nbf: 301 s ahead', token: (bot) => rowA(bot, { nbf: nowSec() + 301 }), reason: 'not_yet_valid' },
  { what: 'Entra v1 token of the bot tenant, aud = bot', token: (bot) => entraToken(bot, '1.0'), reason: 'unknown_key' },
  { what: 'Entra v2 token of the bot tenant, aud = bot', token: (bot) => entraToken(bot, '2.0'), reason: 'unknown_key' },
  { what: 'the bot-to-Connector token', token: (bot) => entra.sign(connectorClaims(bot)), reason: 'unknown_key' },
  { what: 'the bot-to-Connector token shape, even by a Bot Framework key', token: (bot) => stand.server.sign({ ...connectorClaims(bot), serviceurl: SERVICE_URL }, { key: channelsKey }), reason: 'issuer' },
];

describe('Bot Framework tokens through the real handler', () => {
  before(async () => {
    mock.timers.enable({ apis: ['Date'], now: FROZEN_AT });
    stand = await startBotStandIn();
    entra = await startOpenIdServer();
    channelsKey = await stand.server.addKey({ endorsements: ['msteams', 'outlook', 'skype'] });
    rs384 = await stand.server.addKey({ endorsements: ['msteams'], alg: 'RS384' });
    rs512 = await stand.server.addKey({ endorsements: ['msteams'], alg: 'RS512' });
    skypeOnly = await stand.server.addKey({ endorsements: ['skype', 'webchat'] });
    restoreEnv = setEnv(stand.env);
  });
  after(async () => {
    restoreEnv();
    mock.timers.reset();
    await stand.server.close();
    await entra.close();
  });

  for (const bot of BOT_CONFIGURATIONS) {
    const env = { BOT_APP_TYPE: bot.type, BOT_APP_ID: bot.appId, BOT_TENANT_ID: bot.tenantId };
    describe(`a ${bot.type} bot`, () => {
      test('row A passes from Teams and from Outlook, and the invoke is acted on', async () => {
        await withEnv(env, async () => {
          assert.equal(await outcome(await rowA(bot)), '200 stored', 'msteams');
          assert.equal(await outcome(await rowA(bot), settingInvoke('outlook')), '200 stored', 'outlook');
          // Row A carries no tid, azp, appid or ver, and extra claims of the Bot Connector change nothing.
          assert.equal(await outcome(await rowA(bot, { iat: undefined, jti: 'x' })), '200 stored');
        });
      });

      test('every forgery that differs from row A in one thing gets 401 and stores nothing', async () => {
        await withEnv(env, async () => {
          for (const forgery of FORGERIES) {
            const activity = forgery.activity?.() ?? settingInvoke();
            assert.equal(await outcome(await forgery.token(bot), activity), `401 ${forgery.reason}`, forgery.what);
          }
        });
      });
    });
  }

  test('BOT_APP_TYPE is read as botbuilder reads MicrosoftAppType: case does not matter, missing means MultiTenant', async () => {
    const msi = BOT_CONFIGURATIONS[2] as BotConfiguration;
    await withEnv({ BOT_APP_TYPE: 'userassignedmsi', BOT_APP_ID: msi.appId, BOT_TENANT_ID: msi.tenantId }, async () => {
      assert.equal(await outcome(await rowA(msi)), '200 stored');
    });
    // BOT_TENANT_ID alone (no type): row A still passes, and the tenant's own Entra tokens still do not.
    const multi = BOT_CONFIGURATIONS[0] as BotConfiguration;
    await withEnv({ BOT_APP_TYPE: undefined, BOT_TENANT_ID: TENANT_ID }, async () => {
      assert.equal(await outcome(await rowA(multi)), '200 stored');
      assert.equal(await outcome(await entraToken(multi, '2.0')), '401 unknown_key');
    });
  });

  test('a bot type and tenant that do not describe one bot answer 503 and name the settings', async () => {
    const cases: [Record<string, string | undefined>, string][] = [
      [{ BOT_APP_TYPE: 'SingleTenant', BOT_TENANT_ID: undefined }, 'BOT_TENANT_ID'],
      [{ BOT_APP_TYPE: 'UserAssignedMSI', BOT_TENANT_ID: undefined }, 'BOT_TENANT_ID'],
      [{ BOT_APP_TYPE: 'UserAssignedMSI', BOT_TENANT_ID: 'contoso.onmicrosoft.com' }, 'BOT_TENANT_ID'],
      [{ BOT_APP_TYPE: 'MultiTenant', BOT_TENANT_ID: 'common' }, 'BOT_TENANT_ID'],
      [{ BOT_APP_TYPE: 'ManagedIdentity', BOT_TENANT_ID: TENANT_ID }, 'BOT_APP_TYPE'],
    ];
    const token = await rowA(BOT_CONFIGURATIONS[0] as BotConfiguration);
    for (const [settings, named] of cases) {
      const answer = await withEnv(settings, () => post(settingInvoke(), `Bearer ${token}`));
      assert.equal(answer.status, 503, JSON.stringify(settings));
      assert.ok(answer.logs.some((line) => new RegExp(`feature\\.notConfigured.*${named}`).test(line)), JSON.stringify(settings));
    }
  });

  test('RS384 and RS512 are accepted, as botbuilder accepts them', async () => {
    assert.equal(await outcome(await stand.server.sign(botClaims(), { key: rs384, alg: 'RS384' })), '200 stored');
    assert.equal(await outcome(await stand.server.sign(botClaims(), { key: rs512, alg: 'RS512' })), '200 stored');
  });

  test('5 minutes of clock skew: exp 299 s ago and nbf 300 s ahead still pass', async () => {
    assert.equal(await outcome(await botToken(stand, { exp: nowSec() - 299 })), '200 stored');
    assert.equal(await outcome(await botToken(stand, { nbf: nowSec() + 300 })), '200 stored');
  });

  test('a missing header, another scheme, or a malformed token gets 401', async () => {
    const token = await botToken(stand);
    for (const authorization of [undefined, `Basic ${token}`, 'Bearer not-a-jwt', `Bearer ${token} extra`]) {
      const answer = await post(settingInvoke(), authorization);
      assert.equal(answer.status, 401, String(authorization).slice(0, 12));
      assert.equal(answer.body, undefined);
    }
  });

  test('changed claims under the original signature get 401', async () => {
    const [header, , signature] = (await botToken(stand)).split('.');
    assert.equal(await outcome(`${header}.${b64(botClaims({ extra: 'x' }))}.${signature}`), '401 signature');
  });

  test('a body that is not an activity cannot match the serviceurl claim', async () => {
    assert.equal((await post('{not json', `Bearer ${await botToken(stand)}`)).status, 401);
  });
});

describe('verification cache', () => {
  let cacheStand: BotStandIn;
  before(async () => {
    cacheStand = await startBotStandIn();
  });
  after(async () => {
    await cacheStand.server.close();
  });

  test('a repeated token skips the signature but still has its expiry and activity-bound claims checked', async () => {
    const config = featureConfig('composeExtension', cacheStand.env);
    const now = FROZEN_AT;
    const exp = Math.floor(now.getTime() / 1000) + 600;
    const authorization = `Bearer ${await cacheStand.server.sign(botClaims({ exp, nbf: exp - 3600 }), { key: cacheStand.teamsKey })}`;
    await verifyBotRequest({ authorization, serviceUrl: SERVICE_URL, channelId: 'msteams' }, config, now);
    const keyFetches = cacheStand.server.requests.length;
    // Seen again: no key fetch, same answer.
    await verifyBotRequest({ authorization, serviceUrl: SERVICE_URL, channelId: 'msteams' }, config, now);
    assert.equal(cacheStand.server.requests.length, keyFetches);
    const rejects = (promise: Promise<unknown>, reason: string): Promise<void> =>
      assert.rejects(promise, (err: unknown) => err instanceof UnauthenticatedError && err.reason === reason);
    await rejects(verifyBotRequest({ authorization, serviceUrl: 'https://smba.example/other/', channelId: 'msteams' }, config, now), 'serviceurl');
    await rejects(verifyBotRequest({ authorization, serviceUrl: SERVICE_URL, channelId: 'webchat-x' }, config, now), 'endorsement');
    // Past exp + 5 minutes the cached verification no longer counts.
    await rejects(verifyBotRequest({ authorization, serviceUrl: SERVICE_URL, channelId: 'msteams' }, config, new Date((exp + 301) * 1000)), 'expired');
  });
});
