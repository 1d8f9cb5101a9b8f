import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { HttpResponseInit } from '@azure/functions';

import { actionableMessage } from '../../../src/handlers/actionableMessage';
import { createExpense } from '../../../src/handlers/createExpense';
import { getExpense } from '../../../src/handlers/getExpense';
import { issueActionToken } from '../../../src/lib/expenses/action-token';
import { assertCardForHost, cardText as cardTexts } from '../../support/cards';
import { graphError } from '../../../tools/stand-ins/graph-server';
import { useAzurite } from '../../support/azurite';
import { httpRequest, testContext, withEnv } from '../../../tools/stand-ins/functions';
import {
  ACTION_TOKEN_KEY,
  ACTION_URL,
  APPROVER,
  assertCardStatus,
  assertUnchanged,
  cardActions,
  cardFromMail,
  clickJson,
  entraClaims,
  findAll,
  header,
  NOW,
  ORIGINATOR,
  outlookBody,
  SENDER,
  seedExpense,
  useStandIns,
  SUBMITTER,
} from './support';

/**
 * The approval round trip as its users see it: a back-office system creates an expense, the approver
 * gets the mail, Outlook finds the card in its head and posts a button's body with the comment filled
 * in, and the answer refreshes the card. Then everything a forged or misdirected click can try.
 */
useAzurite();
const standIns = useStandIns();

async function create(body: unknown): Promise<HttpResponseInit> {
  const { context } = testContext('createExpense');
  const raw = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return createExpense(httpRequest({ method: 'POST', url: 'http://localhost/api/expenses', body: raw }), context);
}

async function read(id: string): Promise<HttpResponseInit> {
  const { context } = testContext('getExpense');
  return getExpense(httpRequest({ url: `http://localhost/api/expenses/${id}`, params: { id } }), context);
}

async function post(body: string | Buffer, claims: Record<string, unknown> = entraClaims(), headers: Record<string, string> = {}): Promise<HttpResponseInit> {
  const { context } = testContext('actionableMessage');
  const token = await standIns.openId.sign(claims);
  const request = httpRequest({
    method: 'POST',
    url: ACTION_URL,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', ...headers },
    body,
  });
  return actionableMessage(request, context, { now: () => NOW });
}

const expense = {
  id: 'EXP-2026-0001',
  submitter: SUBMITTER,
  approver: APPROVER,
  amount: 1234.5,
  currency: 'EUR',
  description: 'Flight to the Contoso summit </script><script>alert(1)</script> ${approver} **bold**',
};

describe('expense approval round trip', () => {
  test('createExpense stores a pending expense and mails the approver an actionable card', async () => {
    const response = await create(expense);
    assert.equal(response.status, 201);
    assert.deepEqual(response.jsonBody, { id: expense.id, status: 'pending' });
    assert.equal(standIns.mails.length, 1);
    const mail = standIns.mails[0];
    assert.ok(mail);
    assert.equal(mail.path, `/v1.0/users/${encodeURIComponent(SENDER)}/sendMail`);
    assert.equal(mail.headers.authorization, 'Bearer graph-token');
    const { card, html, to, subject } = cardFromMail(mail);
    assert.equal(to, APPROVER);
    assert.match(subject, /EUR\s*1,234\.50/);
    // The card: originator, the original body kept, a comment input and two Action.Http buttons.
    assertCardForHost(card, 'outlookActionableMessage');
    assert.equal(card.originator, ORIGINATOR);
    assert.equal(card.hideOriginalBody, false);
    assert.equal(findAll(card, (n) => n.type === 'Input.Text' && n.id === 'comment').length, 1);
    const actions = cardActions(card);
    assert.deepEqual(actions.map((a) => [a.type, a.title, a.method, a.url]), [
      ['Action.Http', 'Approve', 'POST', ACTION_URL],
      ['Action.Http', 'Reject', 'POST', ACTION_URL],
    ]);
    for (const action of actions) {
      const body = JSON.parse(action.body) as Record<string, unknown>;
      assert.equal(body.expenseId, expense.id);
      assert.equal(body.comment, '{{comment.value}}');
      assert.match(String(body.actionToken), /^v1\.[A-Za-z0-9_-]{43}$/);
    }
    // The description is data, shown as written: it neither breaks out of the script nor expands.
    assert.ok(cardTexts(card).includes(expense.description));
    assert.equal((html.match(/<script/g) ?? []).length, 1);
    // The HTML fallback reads on its own, escaped.
    assert.match(html, /Flight to the Contoso summit &lt;\/script&gt;/);
    assert.match(html, /EUR\s*1,234\.50/);
  });

  test('getExpense answers the stored expense', async () => {
    const response = await read(expense.id);
    assert.equal(response.status, 200);
    const body = response.jsonBody as Record<string, unknown>;
    assert.deepEqual(
      { ...body, createdAt: typeof body.createdAt },
      { ...expense, status: 'pending', createdAt: 'string' },
    );
    assert.equal((await read('NO-SUCH')).status, 404);
    assert.equal((await read('../etc')).status, 404);
  });

  test('clicking Approve as Outlook does approves once, records the comment and refreshes the card', async () => {
    const { card } = cardFromMail(standIns.mails[0] ?? assert.fail('no mail'));
    const approve = cardActions(card).find((a) => a.title === 'Approve') ?? assert.fail('no Approve');
    const comment = 'OK, "economy" next time \\ thanks\nBob';
    const response = await post(outlookBody(approve, comment));
    assert.equal(response.status, 200);
    assert.equal(header(response, 'CARD-UPDATE-IN-BODY'), 'true');
    assertCardStatus(response, /approved/i);
    const refreshed = response.jsonBody as Record<string, unknown>;
    assertCardForHost(refreshed, 'outlookActionableMessage');
    assert.equal(refreshed.originator, ORIGINATOR);
    assert.equal(findAll(refreshed, (n) => typeof n.type === 'string' && n.type.startsWith('Action.')).length, 0);
    assert.equal(findAll(refreshed, (n) => typeof n.type === 'string' && n.type.startsWith('Input.')).length, 0);
    assert.ok(cardTexts(refreshed).includes('✓ Approved'));
    assert.ok(cardTexts(refreshed).includes(comment));

    const stored = (await read(expense.id)).jsonBody as Record<string, unknown>;
    assert.equal(stored.status, 'approved');
    assert.equal(stored.comment, comment);
    assert.equal(String(stored.decidedBy).toLowerCase(), APPROVER.toLowerCase());
    assert.equal(stored.decidedAt, NOW.toISOString());
  });

  test('a second click (Reject this time) changes nothing and says it was already decided', async () => {
    const { card } = cardFromMail(standIns.mails[0] ?? assert.fail('no mail'));
    const reject = cardActions(card).find((a) => a.title === 'Reject') ?? assert.fail('no Reject');
    const response = await post(outlookBody(reject, 'changed my mind'));
    assert.equal(response.status, 200);
    assertCardStatus(response, /already approved/i);
    const stored = (await read(expense.id)).jsonBody as Record<string, unknown>;
    assert.equal(stored.status, 'approved');
    assert.equal(stored.comment, 'OK, "economy" next time \\ thanks\nBob');
  });

  test('creating the same id again creates nothing and mails no more once decided', async () => {
    const before = standIns.mails.length;
    const response = await create(expense);
    assert.equal(response.status, 200);
    assert.deepEqual(response.jsonBody, { id: expense.id, status: 'approved', created: false, mailResent: false });
    assert.equal(standIns.mails.length, before);
  });

  test('Reject with an empty comment rejects without a comment', async () => {
    assert.equal((await create({ ...expense, id: 'EXP-REJECT' })).status, 201);
    const { card } = cardFromMail(standIns.mails.at(-1) ?? assert.fail('no mail'));
    const reject = cardActions(card).find((a) => a.title === 'Reject') ?? assert.fail('no Reject');
    const response = await post(outlookBody(reject, ''));
    assert.equal(response.status, 200);
    assertCardStatus(response, /rejected/i);
    const stored = (await read('EXP-REJECT')).jsonBody as Record<string, unknown>;
    assert.equal(stored.status, 'rejected');
    assert.equal(stored.comment, undefined);
    assert.ok(cardTexts(response.jsonBody).includes('✗ Rejected'));
  });

  test('two clicks racing each other record exactly one decision', async () => {
    for (let round = 0; round < 5; round++) {
      const id = `EXP-RACE-${round}`;
      const { actionToken } = await seedExpense(id);
      const [a, b] = await Promise.all([
        post(clickJson(id, actionToken, 'approve', 'first')),
        post(clickJson(id, actionToken, 'reject', 'second')),
      ]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      const statuses = [header(a, 'CARD-ACTION-STATUS'), header(b, 'CARD-ACTION-STATUS')];
      assert.equal(statuses.filter((s) => /already/.test(s ?? '')).length, 1, `one click loses: ${statuses.join(' / ')}`);
      const stored = (await read(id)).jsonBody as Record<string, unknown>;
      const winner = /already/.test(statuses[0] ?? '') ? 'second' : 'first';
      assert.equal(stored.comment, winner);
      assert.equal(stored.status, winner === 'first' ? 'approved' : 'rejected');
    }
  });
});

describe('createExpense: repeated ids, validation and Graph failures', () => {
  test('a repeated id while pending re-sends the mail and creates nothing', async () => {
    const body = { ...expense, id: 'EXP-REPEAT' };
    assert.equal((await create(body)).status, 201);
    const before = standIns.mails.length;
    const again = await create({ ...body, approver: APPROVER.toUpperCase() });
    assert.equal(again.status, 200);
    assert.deepEqual(again.jsonBody, { id: 'EXP-REPEAT', status: 'pending', created: false, mailResent: true });
    assert.equal(standIns.mails.length, before + 1);
    assert.equal(cardFromMail(standIns.mails.at(-1) ?? assert.fail()).to, APPROVER);
  });

  test('the same id with different content is a 409 and changes nothing', async () => {
    const before = standIns.mails.length;
    const response = await create({ ...expense, id: 'EXP-REPEAT', amount: 99 });
    assert.equal(response.status, 409);
    assert.equal(standIns.mails.length, before);
    assert.equal(((await read('EXP-REPEAT')).jsonBody as Record<string, unknown>).amount, expense.amount);
  });

  test('without an id, one is assigned', async () => {
    const response = await create({ ...expense, id: undefined });
    assert.equal(response.status, 201);
    const id = (response.jsonBody as { id: string }).id;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.equal((await read(id)).status, 200);
  });

  test('an invalid body is a 400 that lists every bad field, and stores and mails nothing', async () => {
    const before = standIns.mails.length;
    const cases: [unknown, string[]][] = [
      [
        { submitter: 'alice', approver: 'bob@', amount: -1, currency: 'EURO', description: '', id: 'bad id/1' },
        ['submitter', 'approver', 'currency', 'amount', 'description', 'id'],
      ],
      [{ ...expense, id: 'V1', amount: 0 }, ['amount']],
      [{ ...expense, id: 'V2', amount: '12' }, ['amount']],
      [{ ...expense, id: 'V3', amount: 12.345 }, ['amount']],
      [{ ...expense, id: 'V4', amount: 5.5, currency: 'JPY' }, ['amount']],
      [{ ...expense, id: 'V5', amount: 1e300 }, ['amount']],
      [{ ...expense, id: 'V6', currency: 'XYZ' }, ['currency']],
      [{ ...expense, id: 'V7', description: 'x'.repeat(1001) }, ['description']],
      [{ ...expense, id: 'V8', description: '   ' }, ['description']],
      [[], ['submitter', 'approver', 'amount', 'currency', 'description']],
    ];
    for (const [body, fields] of cases) {
      const response = await create(body);
      assert.equal(response.status, 400, JSON.stringify(body));
      const error = (response.jsonBody as { error: { fields: string[]; message: string } }).error;
      assert.deepEqual([...error.fields].sort(), [...fields].sort());
    }
    assert.equal((await create('{not json')).status, 400);
    assert.equal(standIns.mails.length, before);
    for (const id of ['V1', 'V2', 'V3', 'V4', 'V5', 'V6', 'V7', 'V8']) assert.equal((await read(id)).status, 404);
  });

  test('text that is not well-formed Unicode is a 400 naming the field, and stores and mails nothing', async () => {
    const before = standIns.mails.length;
    // JSON.stringify writes a lone surrogate as the escape "\ud800", exactly what a careless client sends.
    const cases: [string | Buffer, string[]][] = [
      [JSON.stringify({ ...expense, id: 'U1', approver: 'bob\ud800@contoso.com' }), ['approver']],
      [JSON.stringify({ ...expense, id: 'U2', description: 'Taxi \udfff' }), ['description']],
      [JSON.stringify({ ...expense, id: 'U3', description: 'ok', extra: ['fine', 'bad \ud83d'] }), ['extra[1]']],
      [Buffer.concat([Buffer.from(JSON.stringify({ ...expense, id: 'U4' }).slice(0, -1)), Buffer.from(',"x":"\xff\xfe"}', 'latin1')]), []],
    ];
    for (const [body, fields] of cases) {
      const response = await create(body);
      assert.equal(response.status, 400, body.toString());
      const error = (response.jsonBody as { error: { fields?: string[] } }).error;
      assert.deepEqual(error.fields ?? [], fields);
    }
    assert.equal(standIns.mails.length, before);
    for (const id of ['U1', 'U2', 'U3', 'U4']) assert.equal((await read(id)).status, 404);
  });

  test('a body over 1 MiB is a 413 that stores and mails nothing', async () => {
    const before = standIns.mails.length;
    const response = await create({ ...expense, id: 'BIG-1', description: 'Big', padding: 'x'.repeat(1024 * 1024) });
    assert.equal(response.status, 413);
    assert.equal(standIns.mails.length, before);
    assert.equal((await read('BIG-1')).status, 404);
  });

  test('a currency with three decimals and a lower-case code are accepted', async () => {
    const response = await create({ ...expense, id: 'EXP-KWD', amount: 12.345, currency: 'kwd' });
    assert.equal(response.status, 201);
    assert.equal(((await read('EXP-KWD')).jsonBody as Record<string, unknown>).currency, 'KWD');
  });

  test('a Graph failure is a 502 and the expense is kept; a retry with the same id mails it', async () => {
    standIns.graph.on('POST', /sendMail$/, () => graphError(403, 'ErrorAccessDenied', 'Access is denied.'));
    const response = await create({ ...expense, id: 'EXP-GRAPH-DOWN' });
    assert.equal(response.status, 502);
    assert.equal(((await read('EXP-GRAPH-DOWN')).jsonBody as Record<string, unknown>).status, 'pending');
    standIns.graph.on('POST', /sendMail$/, (request) => {
      standIns.mails.push(request);
      return { status: 202 };
    });
    const retry = await create({ ...expense, id: 'EXP-GRAPH-DOWN' });
    assert.equal(retry.status, 200);
    assert.equal((retry.jsonBody as { mailResent: boolean }).mailResent, true);
  });

  test('unconfigured, createExpense answers 503 naming no values', async () => {
    await withEnv({ ACTIONABLE_MESSAGE_ORIGINATOR: undefined }, async () => {
      const response = await create(expense);
      assert.equal(response.status, 503);
    });
  });
});

describe('forged and misdirected clicks', () => {
  async function refused(response: HttpResponseInit, status: number, id: string | undefined, text?: RegExp): Promise<void> {
    assert.equal(response.status, status);
    assertCardStatus(response, text);
    assert.equal(header(response, 'CARD-UPDATE-IN-BODY'), undefined);
    if (id) await assertUnchanged(id);
  }

  test('an action token for another expense, or a tampered one, is a 403', async () => {
    const { actionToken } = await seedExpense('FORGE-1');
    const other = await seedExpense('FORGE-2');
    await refused(await post(clickJson('FORGE-1', other.actionToken)), 403, 'FORGE-1', /not allowed/);
    const tampered = `${actionToken.slice(0, -2)}${actionToken.endsWith('AA') ? 'AB' : 'AA'}`;
    await refused(await post(clickJson('FORGE-1', tampered)), 403, 'FORGE-1');
    await refused(await post(clickJson('FORGE-1', 'v2.anything')), 403, 'FORGE-1');
    const foreignKey = issueActionToken(Buffer.alloc(32, 9), 'expense-decision', 'FORGE-1', APPROVER);
    await refused(await post(clickJson('FORGE-1', foreignKey)), 403, 'FORGE-1');
  });

  test('a valid token of someone who is not the approver is a 403', async () => {
    const { actionToken } = await seedExpense('FORGE-3');
    await refused(await post(clickJson('FORGE-3', actionToken), entraClaims({ upn: 'mallory@contoso.com' })), 403, 'FORGE-3');
    // Even with an action token issued to them (e.g. the card of an expense they approve).
    const mallorys = issueActionToken(ACTION_TOKEN_KEY, 'expense-decision', 'FORGE-3', 'mallory@contoso.com');
    await refused(await post(clickJson('FORGE-3', mallorys), entraClaims({ upn: 'mallory@contoso.com' })), 403, 'FORGE-3');
  });

  test('a performer outside ACTIONABLE_MESSAGE_ALLOWED_PERFORMER_DOMAINS is a 403', async () => {
    const { actionToken } = await seedExpense('FORGE-4');
    await withEnv({ ACTIONABLE_MESSAGE_ALLOWED_PERFORMER_DOMAINS: 'fabrikam.com' }, async () => {
      await refused(await post(clickJson('FORGE-4', actionToken)), 403, 'FORGE-4');
    });
    await withEnv({ ACTIONABLE_MESSAGE_ALLOWED_PERFORMER_DOMAINS: 'fabrikam.com, Contoso.com' }, async () => {
      assert.equal((await post(clickJson('FORGE-4', actionToken))).status, 200);
    });
  });

  test('an unknown expense is a 404, but only to an authenticated caller with a valid action token', async () => {
    const actionToken = issueActionToken(ACTION_TOKEN_KEY, 'expense-decision', 'GONE-1', APPROVER);
    await refused(await post(clickJson('GONE-1', actionToken)), 404, undefined, /no longer exists/);
    await refused(await post(clickJson('GONE-1', actionToken), entraClaims({ aud: 'other' })), 401, undefined);
    await refused(await post(clickJson('GONE-2', actionToken)), 403, undefined);
  });

  test('a malformed body is a 400; without a valid token it is a 401', async () => {
    const { actionToken } = await seedExpense('FORGE-5');
    const bodies = [
      '{not json',
      '[]',
      JSON.stringify({ expenseId: 'FORGE-5', decision: 'maybe', actionToken }),
      JSON.stringify({ expenseId: 'FORGE-5', actionToken }),
      JSON.stringify({ expenseId: 'FORGE-5', decision: 'approve' }),
      JSON.stringify({ expenseId: 'FORGE-5', decision: 'approve', actionToken, comment: 'x'.repeat(1001) }),
      JSON.stringify({ expenseId: 'FORGE-5', decision: 'approve', actionToken, comment: 42 }),
      JSON.stringify({ expenseId: '../FORGE-5', decision: 'approve', actionToken }),
    ];
    for (const body of bodies) await refused(await post(body), 400, 'FORGE-5', /could not be read/);
    await refused(await post('{not json', entraClaims({ exp: 1 })), 401, 'FORGE-5');
  });

  test('a body over 1 MiB is a 413 with a status', async () => {
    const { actionToken } = await seedExpense('FORGE-6');
    const big = JSON.stringify({ expenseId: 'FORGE-6', decision: 'approve', actionToken, comment: 'x'.repeat(1024 * 1024) });
    await refused(await post(big), 413, 'FORGE-6');
  });

  test('an unconfigured feature is a 503 with a status', async () => {
    const { actionToken } = await seedExpense('FORGE-7');
    await withEnv({ ACTIONABLE_MESSAGE_AUDIENCE: undefined }, async () => {
      await refused(await post(clickJson('FORGE-7', actionToken)), 503, 'FORGE-7', /try again/);
    });
  });
});
