import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import type { HttpResponseInit } from '@azure/functions';

import { actionableMessage } from '../../../src/handlers/actionableMessage';
import { upsertUsers } from '../../../src/lib/directory/directory';
import { getExpense } from '../../../src/lib/expenses/store';
import { useAzurite } from '../../support/azurite';
import { httpRequest, testContext, withEnv } from '../../../tools/stand-ins/functions';
import {
  ACTION_URL,
  clickJson,
  entraClaims,
  entraV2Claims,
  LEGACY_AUDIENCE,
  legacyClaims,
  NOW,
  seedExpense,
  useStandIns,
} from './support';

/**
 * An approver is named by an address, which in many tenants is the user's `mail` while their token
 * carries the `userPrincipalName`. The click is matched by object id through the directory, so such an
 * approver can act, and nobody else can, whatever address their token shows.
 */
useAzurite();
const standIns = useStandIns();

const user = (id: string, mail: string, userPrincipalName: string, accountEnabled = true): Record<string, unknown> => ({
  id,
  displayName: `User ${id.slice(-2)}`,
  mail,
  userPrincipalName,
  accountEnabled,
});

async function click(id: string, actionToken: string, claims: Record<string, unknown>): Promise<HttpResponseInit> {
  const { context } = testContext('actionableMessage');
  const token = await standIns.openId.sign(claims);
  const request = httpRequest({
    method: 'POST',
    url: ACTION_URL,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: clickJson(id, actionToken),
  });
  return actionableMessage(request, context, { now: () => NOW });
}

async function statusOf(id: string): Promise<string | undefined> {
  return (await getExpense(id))?.status;
}

describe('actionableMessage: the approver recognised by object id', () => {
  const CAROL = 'c0ffee00-0000-4000-8000-0000000000c1';
  const DAVE = 'c0ffee00-0000-4000-8000-0000000000d1';
  const CAROL_MAIL = 'Carol.Finance@contoso.com';
  const CAROL_UPN = 'cfinance@contoso.onmicrosoft.com';

  before(async () => {
    await upsertUsers([
      user(CAROL, CAROL_MAIL, CAROL_UPN),
      user(DAVE, 'dave@contoso.com', 'dave.x@contoso.com'),
      user('c0ffee00-0000-4000-8000-0000000000e1', 'erin@contoso.com', 'erin@contoso.com', false),
    ]);
  });

  test('an approver named by mail acts with a token that carries their UPN (v1 and v2 tokens)', async () => {
    const one = await seedExpense('OID-1', CAROL_MAIL);
    const response = await click('OID-1', one.actionToken, entraClaims({ oid: CAROL, upn: CAROL_UPN }));
    assert.equal(response.status, 200);
    assert.equal(await statusOf('OID-1'), 'approved');
    assert.equal((await getExpense('OID-1'))?.decidedBy, CAROL_UPN);

    const two = await seedExpense('OID-2', CAROL_MAIL);
    const v2 = await click('OID-2', two.actionToken, entraV2Claims({ oid: CAROL.toUpperCase(), preferred_username: CAROL_UPN }));
    assert.equal(v2.status, 200);
    assert.equal(await statusOf('OID-2'), 'approved');
  });

  test('an approver named by UPN acts with a token that carries it, matched by oid too', async () => {
    const { actionToken } = await seedExpense('OID-3', CAROL_UPN);
    assert.equal((await click('OID-3', actionToken, entraClaims({ oid: CAROL, upn: CAROL_UPN }))).status, 200);
    assert.equal(await statusOf('OID-3'), 'approved');
  });

  test("someone else's oid is a 403 even when their token shows the approver's address", async () => {
    const { actionToken } = await seedExpense('OID-4', CAROL_MAIL);
    for (const claims of [
      entraClaims({ oid: DAVE, upn: CAROL_MAIL.toLowerCase() }),
      entraClaims({ oid: 'c0ffee00-0000-4000-8000-00000000dead', upn: CAROL_MAIL }),
      entraClaims({ oid: undefined, upn: CAROL_MAIL }),
      entraClaims({ oid: 'not-a-guid', upn: CAROL_MAIL }),
    ]) {
      assert.equal((await click('OID-4', actionToken, claims)).status, 403);
    }
    assert.equal(await statusOf('OID-4'), 'pending');
  });

  test('a disabled approver cannot act', async () => {
    const { actionToken } = await seedExpense('OID-5', 'erin@contoso.com');
    const response = await click('OID-5', actionToken, entraClaims({ oid: 'c0ffee00-0000-4000-8000-0000000000e1', upn: 'erin@contoso.com' }));
    assert.equal(response.status, 403);
    assert.equal(await statusOf('OID-5'), 'pending');
  });

  test('an approver the directory does not know is recognised by address, ignoring case', async () => {
    const { actionToken } = await seedExpense('OID-6', 'Outside.Approver@fabrikam.com');
    const other = await click('OID-6', actionToken, entraClaims({ oid: DAVE, upn: 'someone@fabrikam.com' }));
    assert.equal(other.status, 403);
    const response = await click('OID-6', actionToken, entraClaims({ oid: 'c0ffee00-0000-4000-8000-0000000000f1', upn: 'outside.approver@FABRIKAM.com' }));
    assert.equal(response.status, 200);
    assert.equal(await statusOf('OID-6'), 'approved');
  });

  test('a legacy token, which has no oid, is matched by its sub address', async () => {
    await withEnv({ ACTIONABLE_MESSAGE_LEGACY_AUDIENCE: LEGACY_AUDIENCE }, async () => {
      const { actionToken } = await seedExpense('OID-7', CAROL_MAIL);
      assert.equal((await click('OID-7', actionToken, legacyClaims({ sub: CAROL_UPN }))).status, 403);
      assert.equal((await click('OID-7', actionToken, legacyClaims({ sub: CAROL_MAIL }))).status, 200);
      assert.equal(await statusOf('OID-7'), 'approved');
    });
  });
});
