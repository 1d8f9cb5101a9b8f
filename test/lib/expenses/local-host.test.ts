import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { LocalHost } from '../../../tools/local-host/host';
import { useAzurite } from '../../support/azurite';
import { setEnv } from '../../../tools/stand-ins/env';
import { appModules, startTestHost } from '../../support/local-host';
import {
  ACTION_URL,
  APPROVER,
  assertCardStatus,
  cardActions,
  cardFromMail,
  entraClaims,
  ORIGINATOR,
  outlookBody,
  settings,
  type StandIns,
  startStandIns,
  SUBMITTER,
} from './support';

/**
 * The three functions as registered, served over HTTP by the local host in streaming mode: one round
 * trip from createExpense to the click and getExpense. Here the handler runs on the real clock (HTTP
 * cannot set it), so the token is issued now and valid for an hour.
 */
useAzurite();
let host: LocalHost;
let standIns: StandIns;
let restoreEnv: () => void;

before(async () => {
  standIns = await startStandIns();
  restoreEnv = setEnv(settings(standIns));
  ({ host } = await startTestHost('actionable-messages', appModules('createExpense', 'getExpense', 'actionableMessage')));
});

after(async () => {
  await host.stop();
  restoreEnv();
  await standIns.close();
});

describe('actionable messages through the local host', () => {
  test('create, mail, click Approve, read back', async () => {
    const created = await fetch(`${host.url}/api/expenses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'HOST-1', submitter: SUBMITTER, approver: APPROVER, amount: 80, currency: 'USD', description: 'Books' }),
    });
    assert.equal(created.status, 201);
    assert.deepEqual(await created.json(), { id: 'HOST-1', status: 'pending' });

    const { card } = cardFromMail(standIns.mails.at(-1) ?? assert.fail('no mail'));
    const approve = cardActions(card).find((a) => a.title === 'Approve') ?? assert.fail('no Approve');
    assert.equal(approve.url, ACTION_URL);
    const token = await standIns.openId.sign(entraClaims({}, Math.floor(Date.now() / 1000)));
    // Outlook posts to the card's URL; here that public origin is the local host.
    const clicked = await fetch(approve.url.replace(/^https:\/\/[^/]+/, host.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: outlookBody(approve, 'fine'),
    });
    assert.equal(clicked.status, 200);
    assert.equal(clicked.headers.get('card-update-in-body'), 'true');
    assertCardStatus({ status: 200, headers: Object.fromEntries(clicked.headers) }, /approved/);
    const refreshed = (await clicked.json()) as Record<string, unknown>;
    assert.equal(refreshed.originator, ORIGINATOR);

    const read = await fetch(`${host.url}/api/expenses/HOST-1`);
    assert.equal(read.status, 200);
    const stored = (await read.json()) as Record<string, unknown>;
    assert.equal(stored.status, 'approved');
    assert.equal(stored.comment, 'fine');

    const unauthenticated = await fetch(`${host.url}/api/actionable-message`, { method: 'POST', body: '{}' });
    assert.equal(unauthenticated.status, 401);
    assert.ok(unauthenticated.headers.get('card-action-status'));
  });
});
