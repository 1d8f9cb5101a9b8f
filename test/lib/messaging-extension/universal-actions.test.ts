import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { actionableMessage } from '../../../src/handlers/actionableMessage';
import { createExpense } from '../../../src/handlers/createExpense';
import { upsertUsers } from '../../../src/lib/directory/directory';
import { issueActionToken } from '../../../src/lib/expenses/action-token';
import { getExpense } from '../../../src/lib/expenses/store';
import { useAzurite } from '../../support/azurite';
import { assertCardForHost, cardText, type HostName } from '../../support/cards';
import { setEnv } from '../../../tools/stand-ins/env';
import { httpRequest, testContext } from '../../../tools/stand-ins/functions';
import type { SigningKey } from '../../../tools/stand-ins/openid-server';
import {
  ACTION_TOKEN_KEY,
  ACTION_URL,
  APPROVER,
  cardFromMail,
  clickJson,
  entraClaims,
  NOW,
  ORIGINATOR,
  seedExpense,
  settings,
  type StandIns,
  startStandIns,
  SUBMITTER,
} from '../expenses/support';
import { type Answer, post } from './requests';
import { type Account, botClaims, type BotStandIn, invokeActivity, LARRY, queryActivity, SERVICE_URL, startBotStandIn, extension } from '../../../tools/stand-ins/bot';

/**
 * Universal Actions end to end: `adaptiveCard/action` invokes signed as the Bot Connector signs them (keys
 * endorsed for `msteams` and for `outlook`) through the real bot endpoint, against a real directory and
 * expense store in Azurite, and the same expense clicked through `Action.Http` at the same time.
 */

useAzurite();

/** The approver as the directory knows them; the Entra token of an Action.Http click carries the same oid. */
const BOB: Account = { id: '29:1bob-teams-id', name: 'Bob Approver', aadObjectId: String(entraClaims().oid) };
/** A stand-in service URL for the Outlook channel (the token's `serviceurl` must equal it). */
const OUTLOOK_SERVICE_URL = 'https://outlook-channel.example.net/';

type Channel = 'msteams' | 'outlook';
let stand: BotStandIn;
let outlookKey: SigningKey;
let standIns: StandIns;
let restoreEnv: () => void;

function cardInvoke(channel: Channel, verb: string, data: Record<string, unknown>, from: Account, trigger = 'manual'): Record<string, unknown> {
  return {
    ...invokeActivity('adaptiveCard/action', { action: { type: 'Action.Execute', verb, data }, trigger }, from),
    channelId: channel,
    serviceUrl: channel === 'outlook' ? OUTLOOK_SERVICE_URL : SERVICE_URL,
  };
}

async function execute(channel: Channel, verb: string, data: Record<string, unknown>, from: Account = BOB, trigger?: string): Promise<Answer> {
  const activity = cardInvoke(channel, verb, data, from, trigger);
  const key = channel === 'outlook' ? outlookKey : stand.teamsKey;
  const token = await stand.server.sign(botClaims({ serviceurl: activity.serviceUrl }), { key });
  return post(activity, `Bearer ${token}`);
}

interface UniversalAnswer {
  statusCode: number;
  type: string;
  value: Record<string, unknown> & { code?: string; message?: string };
}
const universal = (answer: Answer): UniversalAnswer => {
  assert.equal(answer.status, 200, 'an invoke is answered HTTP 200, the outcome in the body');
  return answer.body as UniversalAnswer;
};

const HOST: Record<Channel, HostName> = { msteams: 'teamsUniversalActions', outlook: 'outlookUniversalActions' };

/** A success: the card for the channel's host, valid in the SDK under that host's rules. */
function answeredCard(answer: Answer, channel: Channel): Record<string, unknown> {
  const body = universal(answer);
  assert.equal(body.statusCode, 200);
  assert.equal(body.type, 'application/vnd.microsoft.card.adaptive');
  assertCardForHost(body.value, HOST[channel]);
  return body.value;
}

function assertError(answer: Answer, statusCode: number): void {
  const body = universal(answer);
  assert.equal(body.statusCode, statusCode);
  assert.equal(body.type, 'application/vnd.microsoft.error');
  assert.equal(typeof body.value.code, 'string');
  assert.equal(typeof body.value.message, 'string');
  assert.doesNotMatch(JSON.stringify(body.value), /@|Bob|Larry|alice/i, 'an error never names a person');
}

const verbs = (card: Record<string, unknown>): string[] => ((card.actions as { verb: string }[] | undefined) ?? []).map((a) => a.verb);
const tokenFor = (id: string): string => issueActionToken(ACTION_TOKEN_KEY, 'expense-decision', id, APPROVER);

describe('Universal Actions through the bot', () => {
  before(async () => {
    stand = await startBotStandIn();
    outlookKey = await stand.server.addKey({ endorsements: ['outlook'] });
    standIns = await startStandIns();
    restoreEnv = setEnv({ ...stand.env, ...settings(standIns), ACTIONABLE_MESSAGE_CARD: 'universal' });
    await upsertUsers([
      { id: BOB.aadObjectId, displayName: 'Bob Approver', mail: APPROVER, userPrincipalName: 'bob@contoso.onmicrosoft.com', accountEnabled: true, businessPhones: [] },
      { id: LARRY.aadObjectId, displayName: 'Larry Jin', mail: 'larry@contoso.com', accountEnabled: true, businessPhones: [] },
    ]);
  });
  after(async () => {
    restoreEnv();
    await Promise.all([stand.server.close(), standIns.close()]);
  });

  test('ACTIONABLE_MESSAGE_CARD=universal mails the Action.Execute card: 1.4, originator, the token, a refresh naming the approver', async () => {
    const { context } = testContext('createExpense');
    const body = JSON.stringify({ id: 'UA-MAIL', submitter: SUBMITTER, approver: APPROVER, amount: 12, currency: 'EUR', description: 'Taxi' });
    const created = await createExpense(httpRequest({ method: 'POST', url: 'http://localhost/api/expenses', body }), context);
    assert.equal(created.status, 201);
    const { card } = cardFromMail(standIns.mails.at(-1) ?? assert.fail('no mail'));
    assertCardForHost(card, 'outlookUniversalActions');
    assert.equal(card.version, '1.4');
    assert.equal(card.originator, ORIGINATOR);
    assert.deepEqual(verbs(card), ['approve', 'reject']);
    assert.deepEqual(card.refresh, { action: { type: 'Action.Execute', verb: 'refresh', data: { expenseId: 'UA-MAIL' } }, userIds: [`8:orgid:${BOB.aadObjectId}`] });
    // The button's data is what the invoke brings back: the mailed card round-trips through the bot.
    const approve = (card.actions as { data: Record<string, unknown> }[])[0]?.data ?? assert.fail();
    const answer = await execute('outlook', 'approve', { ...approve, comment: 'ok' });
    assert.deepEqual(verbs(answeredCard(answer, 'outlook')), []);
    assert.equal((await getExpense('UA-MAIL'))?.status, 'approved');
  });

  for (const channel of ['msteams', 'outlook'] as const) {
    for (const verb of ['approve', 'reject'] as const) {
      test(`${channel}: ${verb} by the approver decides once and answers the decided card`, async () => {
        const id = `UA-${channel}-${verb}`;
        await seedExpense(id);
        const answer = await execute(channel, verb, { expenseId: id, actionToken: tokenFor(id), comment: '  see policy  ' });
        const card = answeredCard(answer, channel);
        // Operations see a decision through the bot like one through Action.Http.
        assert.ok(answer.logs.some((l) => l.startsWith('expense.decided ') && l.includes('"tokenType":"bot"')), answer.logs.join('\n'));
        const stored = await getExpense(id);
        assert.equal(stored?.status, verb === 'approve' ? 'approved' : 'rejected');
        assert.equal(stored.decidedBy?.toLowerCase(), APPROVER.toLowerCase());
        assert.equal(stored.comment, 'see policy');
        assert.deepEqual(verbs(card), [], 'no buttons are left');
        assert.equal(card.refresh, undefined, 'a decided card needs no refresh');
        assert.equal(card.originator, channel === 'outlook' ? ORIGINATOR : undefined);
        assert.ok(cardText(card).some((t) => t.includes(verb === 'approve' ? 'Approved' : 'Rejected')));
        // Again, from the other channel: nothing changes, the card says so.
        const other: Channel = channel === 'outlook' ? 'msteams' : 'outlook';
        const second = await execute(other, verb === 'approve' ? 'reject' : 'approve', { expenseId: id, actionToken: tokenFor(id) });
        const again = answeredCard(second, other);
        assert.ok(cardText(again).some((t) => /already/.test(t)));
        assert.ok(second.logs.some((l) => l.startsWith('expense.alreadyDecided ')));
        assert.equal((await getExpense(id))?.status, stored.status);
      });
    }

    test(`${channel}: refresh gives the approver the buttons, the submitter the status, and anyone else the unknown-expense answer`, async () => {
      const id = `UA-${channel}-refresh`;
      await seedExpense(id);
      const mine = answeredCard(await execute(channel, 'refresh', { expenseId: id }, BOB, 'automatic'), channel);
      assert.deepEqual(verbs(mine), ['approve', 'reject']);
      assert.deepEqual((mine.refresh as { userIds: string[] }).userIds, [`8:orgid:${BOB.aadObjectId}`]);
      await upsertUsers([{ id: 'sub-1', displayName: 'Alice', mail: SUBMITTER, accountEnabled: true, businessPhones: [] }]);
      const theirs = answeredCard(await execute(channel, 'refresh', { expenseId: id }, { id: '29:alice', aadObjectId: 'sub-1' }), channel);
      assert.deepEqual(verbs(theirs), []);
      assert.ok(cardText(theirs).some((t) => t.includes('Waiting for approval')));
      // Someone the expense does not concern learns nothing, not even that it exists: as for an unknown id.
      const unknown = await execute(channel, 'refresh', { expenseId: `${id}-none` }, LARRY);
      assertError(unknown, 404);
      assert.deepEqual(universal(await execute(channel, 'refresh', { expenseId: id }, LARRY)), universal(unknown));
      assert.deepEqual(universal(await execute(channel, 'refresh', { expenseId: id }, { id: '29:guest' })), universal(unknown), 'no object id');
      assert.equal((await getExpense(id))?.status, 'pending', 'a refresh changes nothing');
    });

    test(`${channel}: a non-approver, a tampered action token, an unknown expense and a malformed action are refused, nothing changes`, async () => {
      const id = `UA-${channel}-refused`;
      await seedExpense(id);
      assertError(await execute(channel, 'approve', { expenseId: id, actionToken: tokenFor(id) }, LARRY), 403);
      assertError(await execute(channel, 'approve', { expenseId: id, actionToken: tokenFor(id) }, { id: '29:guest' }), 403);
      const token = tokenFor(id);
      const tampered = `${token.slice(0, -2)}${token.endsWith('A') ? 'B' : 'A'}A`;
      assertError(await execute(channel, 'approve', { expenseId: id, actionToken: tampered }), 403);
      assertError(await execute(channel, 'approve', { expenseId: `${id}-other`, actionToken: token }), 403);
      assertError(await execute(channel, 'approve', { expenseId: 'UA-gone', actionToken: tokenFor('UA-gone') }), 404);
      assertError(await execute(channel, 'refresh', { expenseId: 'UA-gone' }), 404);
      assertError(await execute(channel, 'approve', { expenseId: id }), 400);
      assertError(await execute(channel, 'refresh', {}), 400);
      assertError(await execute(channel, 'delete', { expenseId: id, actionToken: token }), 400);
      assert.equal((await getExpense(id))?.status, 'pending');
    });

    test(`${channel}: a bad Bot Framework token is a 401 like every bot request, and nothing is decided`, async () => {
      const id = `UA-${channel}-token`;
      await seedExpense(id);
      const activity = cardInvoke(channel, 'approve', { expenseId: id, actionToken: tokenFor(id) }, BOB);
      assert.equal((await post(activity, undefined)).status, 401);
      // A key endorsed only for the other channel does not vouch for this one.
      const wrongKey = channel === 'outlook' ? stand.teamsKey : outlookKey;
      assert.equal((await post(activity, `Bearer ${await stand.server.sign(botClaims({ serviceurl: activity.serviceUrl }), { key: wrongKey })}`)).status, 401);
      assert.equal((await getExpense(id))?.status, 'pending');
    });
  }

  test('a race of Action.Execute from both channels and Action.Http clicks on one expense ends in exactly one decision', async () => {
    const id = 'UA-RACE';
    const { actionToken } = await seedExpense(id);
    const click = async (decision: string): Promise<{ via: 'http'; status: number; decided: boolean }> => {
      const { context } = testContext('actionableMessage');
      const token = await standIns.openId.sign(entraClaims());
      const request = httpRequest({
        method: 'POST',
        url: ACTION_URL,
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: clickJson(id, actionToken, decision),
      });
      const response = await actionableMessage(request, context, { now: () => NOW });
      const status = new Headers(response.headers).get('CARD-ACTION-STATUS') ?? '';
      return { via: 'http', status: response.status ?? 200, decided: !/already/.test(status) };
    };
    const invoke = async (channel: Channel, decision: string): Promise<{ via: Channel; status: number; decided: boolean }> => {
      const card = answeredCard(await execute(channel, decision, { expenseId: id, actionToken }), channel);
      return { via: channel, status: 200, decided: !cardText(card).some((t) => /already/.test(t)) };
    };
    const outcomes = await Promise.all([
      invoke('msteams', 'approve'),
      invoke('outlook', 'reject'),
      click('approve'),
      invoke('outlook', 'approve'),
      click('reject'),
      invoke('msteams', 'reject'),
    ]);
    assert.ok(outcomes.every((o) => o.status === 200), JSON.stringify(outcomes));
    assert.equal(outcomes.filter((o) => o.decided).length, 1, `exactly one decision: ${JSON.stringify(outcomes)}`);
    const stored = await getExpense(id);
    assert.ok(stored?.status === 'approved' || stored?.status === 'rejected');
  });

  test('Teams My expenses gives the approver the pending expense with buttons and the submitter its status with a refresh', async () => {
    await seedExpense('UA-LIST');
    const asApprover = extension(await sendQuery(BOB));
    const mine = asApprover.attachments?.find((a) => JSON.stringify(a.content).includes('UA-LIST')) ?? assert.fail('listed');
    assertCardForHost(mine.content, 'teamsMessagingExtension');
    assert.deepEqual(verbs(mine.content as Record<string, unknown>), ['approve', 'reject']);
    await upsertUsers([{ id: 'sub-1', displayName: 'Alice', mail: SUBMITTER, accountEnabled: true, businessPhones: [] }]);
    const asSubmitter = extension(await sendQuery({ id: '29:alice', aadObjectId: 'sub-1' }));
    const theirs = asSubmitter.attachments?.find((a) => JSON.stringify(a.content).includes('UA-LIST')) ?? assert.fail('listed');
    assertCardForHost(theirs.content, 'teamsMessagingExtension');
    assert.deepEqual(verbs(theirs.content as Record<string, unknown>), []);
    assert.deepEqual(((theirs.content as Record<string, unknown>).refresh as { userIds: string[] }).userIds, [`8:orgid:${BOB.aadObjectId}`]);
  });
});

async function sendQuery(from: Account): Promise<Answer> {
  const activity = queryActivity('searchExpenses', [{ name: 'query', value: 'UA-LIST' }], {}, from);
  return post(activity, `Bearer ${await stand.server.sign(botClaims({ serviceurl: SERVICE_URL }), { key: stand.teamsKey })}`);
}
