import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';

import type { HttpResponseInit } from '@azure/functions';

import { actionableMessage } from '../../../src/handlers/actionableMessage';
import { LEGACY_ISSUER } from '../../../src/lib/expenses/outlook-token';
import { getExpense } from '../../../src/lib/expenses/store';
import { useAzurite } from '../../support/azurite';
import { httpRequest, type LogLine, testContext, withEnv } from '../../../tools/stand-ins/functions';
import {
  APPROVER,
  assertCardStatus,
  assertUnchanged,
  clickJson,
  entraClaims,
  entraV2Claims,
  LEGACY_AUDIENCE,
  legacyClaims,
  NOW,
  NOW_SEC,
  OTHER_TENANT,
  SCOPE,
  seedExpense,
  type StandIns,
  useStandIns,
  TENANT,
} from './support';

/**
 * Every rule of the bearer token Outlook sends with a click, through the real handler with real RS256
 * tokens from the loopback key server and a frozen clock: anything that fails is a 401 with a
 * CARD-ACTION-STATUS, and the expense stays as it was.
 */
useAzurite();
const standIns = useStandIns();
let counter = 0;

let lastLogs: LogLine[] = [];

async function click(headers: Record<string, string>, body: string): Promise<HttpResponseInit> {
  const { context, logs } = testContext('actionableMessage');
  lastLogs = logs;
  const request = httpRequest({ method: 'POST', url: 'https://contoso-m365.azurewebsites.net/api/actionable-message', headers, body });
  return actionableMessage(request, context, { now: () => NOW });
}

/** A fresh pending expense clicked with this token; returns the answer and the expense id. */
async function clickWith(token: string, headerName = 'Authorization'): Promise<{ response: HttpResponseInit; id: string }> {
  const id = `AUTH-${++counter}`;
  const { actionToken } = await seedExpense(id);
  const response = await click({ [headerName]: `Bearer ${token}`, 'content-type': 'application/json' }, clickJson(id, actionToken));
  return { response, id };
}

async function accepted(token: string, headerName?: string): Promise<void> {
  const { response, id } = await clickWith(token, headerName);
  assert.equal(response.status, 200, `expected 200, got ${response.status}`);
  assert.equal((await getExpense(id))?.status, 'approved');
}

/** Refused with 401 for this reason (as logged), the expense untouched. */
async function rejected(token: string, reason: string): Promise<void> {
  const { response, id } = await clickWith(token);
  assert.equal(response.status, 401);
  assert.ok(
    lastLogs.some((line) => line.message.includes('auth.rejected') && line.message.includes(`"reason":"${reason}"`)),
    `expected reason ${reason}, logged: ${lastLogs.map((l) => l.message).join(' | ')}`,
  );
  assertCardStatus(response);
  assert.equal(response.jsonBody, undefined, '401 says nothing beyond the status');
  await assertUnchanged(id);
}

const sign = (claims: Record<string, unknown>, options?: Parameters<StandIns['openId']['sign']>[1]): Promise<string> =>
  standIns.openId.sign(claims, options);
const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('actionableMessage: Entra ID tokens', () => {
  test('accepts a v1 token (sts.windows.net issuer, appid, AppIdUri audience)', async () => {
    await accepted(await sign(entraClaims()));
  });

  test('accepts a v2 token (templated v2 issuer filled with tid, azp, client-id audience, preferred_username)', async () => {
    await accepted(await sign(entraV2Claims()));
  });

  test('reads the token from Action-Authorization when Authorization is not a bearer', async () => {
    await accepted(await sign(entraClaims()), 'Action-Authorization');
    const id = `AUTH-${++counter}`;
    const { actionToken } = await seedExpense(id);
    const token = await sign(entraClaims());
    const response = await click({ Authorization: 'Basic dXNlcjpwYXNz', 'Action-Authorization': `Bearer ${token}` }, clickJson(id, actionToken));
    assert.equal(response.status, 200);
  });

  test('performer is upn, then preferred_username, then email', async () => {
    await accepted(await sign(entraClaims({ upn: undefined, preferred_username: APPROVER })));
    await accepted(await sign(entraClaims({ upn: undefined, email: APPROVER })));
    await rejected(await sign(entraClaims({ upn: undefined })), 'no_performer');
  });

  test('no token, a malformed header, or another scheme: 401', async () => {
    const id = `AUTH-${++counter}`;
    const { actionToken } = await seedExpense(id);
    const variants: Record<string, string>[] = [{}, { Authorization: 'Bearer not-a-jwt' }, { Authorization: `Basic ${b64('x')}` }];
    for (const headers of variants) {
      const response = await click(headers, clickJson(id, actionToken));
      assert.equal(response.status, 401);
      assertCardStatus(response, /could not be verified/);
    }
    await assertUnchanged(id);
  });

  test('alg none, and HS256 keyed with the public key, are refused', async () => {
    const kid = standIns.openId.keys[0]?.kid;
    await rejected(`${b64({ alg: 'none', kid, typ: 'JWT' })}.${b64(entraClaims())}.`, 'algorithm');
    const input = `${b64({ alg: 'HS256', kid, typ: 'JWT' })}.${b64(entraClaims())}`;
    const publicKey = JSON.stringify(standIns.openId.keys[0]?.jwk);
    await rejected(`${input}.${createHmac('sha256', publicKey).update(input).digest('base64url')}`, 'algorithm');
  });

  test('RS384/RS512 are outside the allow-list even with a published key', async () => {
    const key = await standIns.openId.addKey({ alg: 'RS512' });
    await rejected(await sign(entraClaims(), { key, alg: 'RS512' }), 'algorithm');
  });

  test('a kid the key server does not publish is refused', async () => {
    const key = await standIns.openId.addKey();
    standIns.openId.removeKey(key.kid);
    await rejected(await sign(entraClaims(), { key }), 'unknown_key');
  });

  test('a forged signature is refused', async () => {
    const good = await sign(entraClaims());
    const other = await sign(entraClaims({ upn: 'mallory@contoso.com' }));
    const [h, p] = good.split('.');
    await rejected(`${h}.${b64(entraClaims({ upn: APPROVER.toLowerCase(), extra: 1 }))}.${other.split('.')[2]}`, 'signature');
    await rejected(`${h}.${p}.${other.split('.')[2]}`, 'signature');
  });

  test('exp and nbf hold with 5 minutes of skew and no more', async () => {
    await accepted(await sign(entraClaims({ exp: NOW_SEC - 299 })));
    await rejected(await sign(entraClaims({ exp: NOW_SEC - 301 })), 'expired');
    await accepted(await sign(entraClaims({ nbf: NOW_SEC + 299 })));
    await rejected(await sign(entraClaims({ nbf: NOW_SEC + 301 })), 'not_yet_valid');
    await rejected(await sign(entraClaims({ exp: undefined })), 'claim_exp');
  });

  test('aud must be one of ACTIONABLE_MESSAGE_AUDIENCE', async () => {
    await rejected(await sign(entraClaims({ aud: 'https://graph.microsoft.com' })), 'audience');
    await rejected(await sign(entraClaims({ aud: 'api://auth-am-someone-else' })), 'audience');
  });

  test('iss must be the v1 or v2 Entra issuer of the token tenant', async () => {
    await rejected(await sign(entraClaims({ iss: 'https://evil.example/' })), 'issuer');
    await rejected(await sign(entraClaims({ iss: `https://login.microsoftonline.com/${TENANT}/v2.0/` })), 'issuer');
    await rejected(await sign(entraClaims({ iss: 'https://sts.windows.net/{tenantid}/' })), 'issuer');
    await rejected(await sign(entraClaims({ iss: LEGACY_ISSUER })), 'issuer');
  });

  test('tid must be the tenant its issuer names', async () => {
    await rejected(await sign(entraClaims({ tid: OTHER_TENANT })), 'issuer');
    await rejected(await sign(entraV2Claims({ tid: OTHER_TENANT })), 'issuer');
    await rejected(await sign(entraClaims({ tid: undefined })), 'tenant');
    await rejected(await sign(entraClaims({ tid: '../common' })), 'tenant');
  });

  test('the calling app must be the Actionable Messages service (azp or appid)', async () => {
    await rejected(await sign(entraClaims({ appid: '00000000-0000-0000-0000-000000000000' })), 'calling_app');
    await rejected(await sign(entraV2Claims({ azp: '00000000-0000-0000-0000-000000000000' })), 'calling_app');
    await rejected(await sign(entraClaims({ appid: undefined })), 'calling_app');
  });

  test('scp must contain ACTIONABLE_MESSAGE_SCOPE when it is set, and need not otherwise', async () => {
    await accepted(await sign(entraClaims({ scp: undefined })));
    await withEnv({ ACTIONABLE_MESSAGE_SCOPE: SCOPE }, async () => {
      await accepted(await sign(entraClaims({ scp: `User.Read ${SCOPE}` })));
      await rejected(await sign(entraClaims({ scp: undefined })), 'scope');
      await rejected(await sign(entraClaims({ scp: 'User.Read' })), 'scope');
      await rejected(await sign(entraClaims({ scp: `${SCOPE}.Extra` })), 'scope');
    });
  });

  test('a single-tenant provider accepts its own tenant only', async () => {
    await withEnv({ ACTIONABLE_MESSAGE_TENANT_ID: TENANT }, async () => {
      await accepted(await sign(entraClaims()));
      await accepted(await sign(entraV2Claims()));
      const other = { tid: OTHER_TENANT, iss: `https://sts.windows.net/${OTHER_TENANT}/` };
      await rejected(await sign(entraClaims(other)), 'tenant');
      await rejected(await sign(entraV2Claims({ tid: OTHER_TENANT, iss: `https://login.microsoftonline.com/${OTHER_TENANT}/v2.0` })), 'issuer');
    });
  });

  test('a multi-tenant provider accepts any tenant whose tid matches its issuer', async () => {
    const other = { tid: OTHER_TENANT, iss: `https://sts.windows.net/${OTHER_TENANT}/` };
    await accepted(await sign(entraClaims(other)));
  });

  test('a key server that cannot be reached is a 503 with a status, not a 401', async () => {
    await withEnv({ ENTRA_AUTHORITY_HOST: 'http://127.0.0.1:9' }, async () => {
      const { response, id } = await clickWith(await sign(entraClaims()));
      assert.equal(response.status, 503);
      assertCardStatus(response, /try again/);
      await assertUnchanged(id);
    });
  });
});

describe('actionableMessage: legacy substrate tokens', () => {
  const legacyKey = async (): Promise<string> => sign(legacyClaims());

  test('are refused while ACTIONABLE_MESSAGE_LEGACY_AUDIENCE is unset', async () => {
    await rejected(await legacyKey(), 'audience');
  });

  test('are accepted with the legacy audience, the Actionable Messages appid and our sender; performer is sub', async () => {
    await withEnv({ ACTIONABLE_MESSAGE_LEGACY_AUDIENCE: LEGACY_AUDIENCE }, async () => {
      await accepted(await legacyKey());
      await accepted(await sign(legacyClaims({ sender: 'EXPENSES@Contoso.com' })));
      // Entra tokens keep working beside them.
      await accepted(await sign(entraClaims()));
    });
  });

  test('every legacy rule is enforced', async () => {
    await withEnv({ ACTIONABLE_MESSAGE_LEGACY_AUDIENCE: LEGACY_AUDIENCE }, async () => {
      await rejected(await sign(legacyClaims({ sender: 'someone@contoso.com' })), 'sender');
      await rejected(await sign(legacyClaims({ sender: undefined })), 'sender');
      await rejected(await sign(legacyClaims({ appid: '00000000-0000-0000-0000-000000000000' })), 'calling_app');
      await rejected(await sign(legacyClaims({ aud: 'https://api.contoso.com' })), 'audience');
      await rejected(await sign(legacyClaims({ iss: 'https://substrate.office.com/sts' })), 'audience');
      await rejected(await sign(legacyClaims({ exp: NOW_SEC - 301 })), 'expired');
      await rejected(await sign(legacyClaims({ sub: undefined })), 'no_performer');
      const kid = standIns.openId.keys[0]?.kid;
      await rejected(`${b64({ alg: 'none', kid })}.${b64(legacyClaims())}.`, 'algorithm');
    });
  });
});
