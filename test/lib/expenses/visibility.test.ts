import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { outgoingWebhook } from '../../../src/handlers/outgoingWebhook';
import { upsertUsers } from '../../../src/lib/directory/directory';
import { insertExpense } from '../../../src/lib/expenses/store';
import { useAzurite } from '../../support/azurite';
import { ACTION_TOKEN_KEY } from './support';
import { setEnv } from '../../../tools/stand-ins/env';
import { testContext } from '../../../tools/stand-ins/functions';
import { send } from '../messaging-extension/requests';
import { type Account, type BotStandIn, invokeActivity, PUBLIC_BASE_URL, queryActivity, startBotStandIn } from '../../../tools/stand-ins/bot';
import { SECRETS_SETTING, teamsMessage, webhookRequest } from '../outgoing-webhook/support';

/**
 * Who sees an expense in Teams, on every path that shows one, through the real handlers with real
 * signatures and tokens, the directory and the store in Azurite. Back-office ids are guessable, so a
 * refusal must read exactly like an unknown id.
 */

useAzurite();

const EXPENSE_ID = 'EXP-2026-0002';
const UNKNOWN_ID = 'EXP-2026-0003';

interface Persona {
  name: string;
  objectId: string;
  allowed: boolean;
}

const SUBMITTER: Persona = { name: 'submitter', objectId: '0b1e2f3a-0000-4000-8000-000000000001', allowed: true };
const APPROVER: Persona = { name: 'approver (by UPN, mail differs)', objectId: '0b1e2f3a-0000-4000-8000-000000000002', allowed: true };
const READER_BY_ADDRESS: Persona = { name: 'reader by address', objectId: '0b1e2f3a-0000-4000-8000-000000000003', allowed: true };
const READER_BY_ID: Persona = { name: 'reader by object id', objectId: '0b1e2f3a-0000-4000-8000-000000000004', allowed: true };
const OTHER: Persona = { name: 'another user', objectId: '0b1e2f3a-0000-4000-8000-000000000005', allowed: false };
const DISABLED_READER: Persona = { name: 'a disabled reader', objectId: '0b1e2f3a-0000-4000-8000-000000000006', allowed: false };
const STRANGER: Persona = { name: 'a user not in the directory', objectId: '0b1e2f3a-0000-4000-8000-000000000007', allowed: false };
const PERSONAS = [SUBMITTER, APPROVER, READER_BY_ADDRESS, READER_BY_ID, OTHER, DISABLED_READER, STRANGER];

const directoryUser = (persona: Persona, mail: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id: persona.objectId,
  displayName: persona.name,
  mail,
  userPrincipalName: mail.replace('@contoso.com', '@contoso.onmicrosoft.com'),
  accountEnabled: true,
  businessPhones: [],
  ...extra,
});

const account = (persona: Persona): Account => ({ id: `29:${persona.objectId}`, name: persona.name, aadObjectId: persona.objectId });

let stand: BotStandIn;
let restoreEnv: () => void;

/** Each path's answer for `persona` asking for `id`, with the id written as ID so answers compare. */
type Path = (persona: Persona, id: string) => Promise<{ answer: string; logs: string[] }>;

const PATHS: Record<string, Path> = {
  async 'outgoing webhook `expense <id>`'(persona, id) {
    const { context, logs } = testContext('outgoingWebhook');
    const response = await outgoingWebhook(
      webhookRequest(teamsMessage(`<at>Expenses</at> expense ${id}`, { aadObjectId: persona.objectId })),
      context,
    );
    assert.equal(response.status, 200);
    return { answer: JSON.stringify(response.jsonBody).replaceAll(id, 'ID'), logs: logs.map((l) => l.message) };
  },
  async 'queryLink (a pasted link)'(persona, id) {
    const answer = await send(stand, invokeActivity('composeExtension/queryLink', { url: `${PUBLIC_BASE_URL}/api/expenses/${id}` }, account(persona)));
    assert.equal(answer.status, 200);
    return { answer: JSON.stringify(answer.body).replaceAll(id, 'ID'), logs: answer.logs };
  },
  async 'selectItem (a tapped result)'(persona, id) {
    const answer = await send(stand, invokeActivity('composeExtension/selectItem', { kind: 'expense', id }, account(persona)));
    assert.equal(answer.status, 200);
    return { answer: JSON.stringify(answer.body).replaceAll(id, 'ID'), logs: answer.logs };
  },
  async 'Universal Actions refresh (a card shown in a chat)'(persona, id) {
    const value = { action: { type: 'Action.Execute', verb: 'refresh', data: { expenseId: id } }, trigger: 'automatic' };
    const answer = await send(stand, invokeActivity('adaptiveCard/action', value, account(persona)));
    assert.equal(answer.status, 200);
    return { answer: JSON.stringify(answer.body).replaceAll(id, 'ID'), logs: answer.logs };
  },
};

describe('expense visibility in Teams', () => {
  before(async () => {
    stand = await startBotStandIn();
    restoreEnv = setEnv({
      ...stand.env,
      OUTGOING_WEBHOOK_SECRETS: SECRETS_SETTING,
      ACTION_TOKEN_KEY: ACTION_TOKEN_KEY.toString('base64'),
      EXPENSE_READERS: ` Rita@Contoso.com, ${READER_BY_ID.objectId.toUpperCase()}, dora@contoso.com`,
    });
    await upsertUsers([
      directoryUser(SUBMITTER, 'sam@contoso.com'),
      directoryUser(APPROVER, 'ann@contoso.com', { userPrincipalName: 'ann.b@contoso.onmicrosoft.com' }),
      directoryUser(READER_BY_ADDRESS, 'rita@contoso.com'),
      directoryUser(READER_BY_ID, 'ivan@contoso.com'),
      directoryUser(OTHER, 'otto@contoso.com'),
      directoryUser(DISABLED_READER, 'dora@contoso.com', { accountEnabled: false }),
    ]);
    await insertExpense({
      id: EXPENSE_ID,
      submitter: 'Sam@Contoso.com',
      approver: 'ann.b@contoso.onmicrosoft.com',
      amount: 1234.5,
      currency: 'EUR',
      description: 'Offsite venue',
    });
  });
  after(async () => {
    restoreEnv();
    await stand.server.close();
  });

  for (const [pathName, ask] of Object.entries(PATHS)) {
    describe(pathName, () => {
      for (const persona of PERSONAS) {
        test(`${persona.name}: ${persona.allowed ? 'sees the expense' : 'gets exactly the unknown-id answer'}`, async () => {
          const seen = await ask(persona, EXPENSE_ID);
          const unknown = await ask(persona, UNKNOWN_ID);
          if (persona.allowed) {
            assert.match(seen.answer, /Offsite venue/);
            assert.notEqual(seen.answer, unknown.answer);
          } else {
            assert.equal(seen.answer, unknown.answer);
            assert.doesNotMatch(seen.answer, /Offsite|1234|sam@|ann/i);
            assert.ok(seen.logs.some((l) => l.startsWith('expenses.viewRefused ')), 'the refusal is logged');
            assert.ok(!unknown.logs.some((l) => l.startsWith('expenses.viewRefused ')), 'an unknown id is no refusal');
          }
          for (const line of [...seen.logs, ...unknown.logs]) assert.ok(!line.includes('EXP-2026'), `no id in the log: ${line}`);
        });
      }
    });
  }

  test('My expenses lists only the user’s own, readers included', async () => {
    const mine = async (persona: Persona): Promise<string> =>
      JSON.stringify((await send(stand, queryActivity('searchExpenses', [{ name: 'query', value: '' }], {}, account(persona)))).body);
    assert.match(await mine(SUBMITTER), /Offsite venue/);
    assert.match(await mine(APPROVER), /Offsite venue/);
    assert.doesNotMatch(await mine(READER_BY_ADDRESS), /Offsite venue/);
    assert.doesNotMatch(await mine(OTHER), /Offsite venue/);
  });
});
