import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { outgoingWebhook } from '../../../src/handlers/outgoingWebhook';
import { removeUsers, upsertUsers } from '../../../src/lib/directory/directory';
import { insertExpense, decideExpense } from '../../../src/lib/expenses/store';
import { useAzurite } from '../../support/azurite';
import { setEnv } from '../../../tools/stand-ins/env';
import { testContext } from '../../../tools/stand-ins/functions';
import { assertCardForHost, cardText, openUrls } from '../../support/cards';
import { type ReplyBody, SECRETS_SETTING, teamsMessage, TIM_OBJECT_ID, webhookRequest } from './support';

/**
 * The replies a channel sees, end to end through the handler: signed Teams messages in, the directory
 * and the expense store in a real (in-memory) Azurite.
 */
useAzurite();

let restoreEnv: () => void;
before(() => {
  restoreEnv = setEnv({ OUTGOING_WEBHOOK_SECRETS: SECRETS_SETTING });
});
after(() => {
  restoreEnv();
});

async function ask(text: string): Promise<{ reply: ReplyBody; logs: string[] }> {
  const { context, logs } = testContext('outgoingWebhook');
  const response = await outgoingWebhook(webhookRequest(teamsMessage(text)), context);
  assert.equal(response.status, 200);
  const reply = response.jsonBody as ReplyBody;
  assert.equal(reply.type, 'message');
  return { reply, logs: logs.map((l) => l.message) };
}

function onlyCard(reply: ReplyBody): Record<string, unknown> {
  assert.equal(reply.text, undefined);
  assert.equal(reply.attachments?.length, 1);
  const [attachment] = reply.attachments ?? [];
  assert.equal(attachment?.contentType, 'application/vnd.microsoft.card.adaptive');
  assertCardForHost(attachment?.content, 'teamsOutgoingWebhook');
  return attachment?.content ?? {};
}

const graphUser = (id: string, displayName: string, extra: Record<string, unknown> = {}): Record<string, unknown> => {
  const [given, ...rest] = displayName.split(' ');
  const alias = `${given ?? ''}${(rest[0] ?? '').charAt(0)}`;
  return {
    id,
    displayName,
    givenName: given,
    surname: rest.join(' '),
    mail: `${alias}@contoso.com`,
    userPrincipalName: `${alias}@contoso.onmicrosoft.com`,
    jobTitle: 'Engineer',
    department: 'Research',
    officeLocation: null,
    businessPhones: [],
    accountEnabled: true,
    ...extra,
  };
};

describe('outgoing webhook: people search', () => {
  test('before the first sync the directory is empty, and the reply says so instead of "no one"', async () => {
    const { reply } = await ask('<at>Expenses</at> adele');
    assert.equal(reply.textFormat, 'plain');
    assert.match(reply.text ?? '', /directory is still empty/);
  });

  test('matches come back as one Adaptive Card with chat and mail links per person', async () => {
    await upsertUsers([
      graphUser('a1', 'Adele Vance', { jobTitle: 'Retail Manager', department: 'Retail', businessPhones: ['+1 425 555 0109'] }),
      graphUser('a2', 'Alex Wilber', { jobTitle: 'Marketing Assistant', department: 'Marketing' }),
      graphUser('a3', 'Zoë Ångström', { department: 'Marketing' }),
      graphUser('a4', 'Adam Disabled', { accountEnabled: false }),
    ]);
    const { reply, logs } = await ask('<at>Expenses</at>&nbsp;adele');
    const card = onlyCard(reply);
    const texts = cardText(card);
    assert.equal(texts[0], 'People matching “adele”');
    assert.ok(texts.includes('Adele Vance'));
    assert.ok(texts.includes('Retail Manager · Retail'));
    assert.deepEqual(openUrls(card), [
      { title: 'Chat in Teams', url: 'https://teams.microsoft.com/l/chat/0/0?users=AdeleV@contoso.onmicrosoft.com' },
      { title: 'Send mail', url: 'mailto:AdeleV@contoso.com' },
    ]);
    assert.ok(logs.some((l) => /"outcome":"peopleFound"/.test(l)));
    assert.ok(!logs.some((l) => l.includes('adele')), 'the query is not logged');
  });

  test('the search ignores case and diacritics and reads departments; disabled people never appear', async () => {
    const zoe = cardText(onlyCard((await ask('<at>Expenses</at> ZOE angstrom')).reply));
    assert.ok(zoe.includes('Zoë Ångström'));
    const marketing = cardText(onlyCard((await ask('<at>Expenses</at> marketing')).reply));
    assert.ok(marketing.includes('Alex Wilber') && marketing.includes('Zoë Ångström'));
    const adam = await ask('<at>Expenses</at> adam');
    assert.match(adam.reply.text ?? '', /No one matches “adam”/);
  });

  test('at most five people, with a note that more match', async () => {
    await upsertUsers(
      ['Ann', 'Bea', 'Cal', 'Dee', 'Eve', 'Fay', 'Gus'].map((given, i) =>
        graphUser(`n${i}`, `${given} Nakamura`, { department: 'Finance' }),
      ),
    );
    const card = onlyCard((await ask('<at>Expenses</at> nakamura')).reply);
    const texts = cardText(card);
    assert.equal(texts.filter((t) => t.endsWith(' Nakamura')).length, 5);
    assert.deepEqual(
      texts.filter((t) => t.endsWith(' Nakamura')),
      ['Ann Nakamura', 'Bea Nakamura', 'Cal Nakamura', 'Dee Nakamura', 'Eve Nakamura'],
    );
    assert.match(texts.at(-1) ?? '', /More people match/);
    assert.equal(openUrls(card).length, 10);
  });

  test('no match: a plain message that echoes the words as typed', async () => {
    const { reply } = await ask('<at>Expenses</at> **nobody** [here](https://x.example)');
    assert.deepEqual(Object.keys(reply).sort(), ['text', 'textFormat', 'type']);
    assert.equal(reply.textFormat, 'plain');
    assert.match(reply.text ?? '', /^No one matches “\*\*nobody\*\* \[here\]\(https:\/\/x\.example\)”/);
  });

  test('a query too long to be a name is declined without a search', async () => {
    const { reply } = await ask(`<at>Expenses</at> ${'word '.repeat(40)}`);
    assert.match(reply.text ?? '', /too long/);
  });

  test('people removed from the directory no longer match', async () => {
    await removeUsers(['a1']);
    const { reply } = await ask('<at>Expenses</at> adele');
    assert.match(reply.text ?? '', /No one matches “adele”/);
  });
});

describe('outgoing webhook: expense status', () => {
  test("expense <id> answers its submitter with that expense's status card", async () => {
    // The documented example's sender, Tim, is the submitter (the visibility rule has its own tests).
    await upsertUsers([graphUser(TIM_OBJECT_ID, 'Alex Wilber')]);
    await insertExpense({
      id: 'EXP-1001',
      submitter: 'alexw@contoso.com',
      approver: 'adelev@contoso.com',
      amount: 42.5,
      currency: 'EUR',
      description: 'Team lunch',
    });
    const card = onlyCard((await ask('<at>Expenses</at> Expense EXP-1001')).reply);
    const texts = cardText(card).join('\n');
    assert.match(texts, /Team lunch/);
    assert.match(texts, /EUR\s*42\.50/);
    assert.match(texts, /Waiting for approval/);
    assert.match(texts, /EXP-1001/);
  });

  test('a decided expense shows the decision', async () => {
    await decideExpense('EXP-1001', { decision: 'approve', decidedBy: 'adelev@contoso.com', comment: 'enjoy' });
    const texts = cardText(onlyCard((await ask('<at>Expenses</at> expense EXP-1001')).reply)).join('\n');
    assert.match(texts, /Approved/);
    assert.match(texts, /adelev@contoso\.com/);
  });

  test('an unknown id, or one no expense can have, gets a friendly plain message', async () => {
    for (const id of ['EXP-404', 'a/b', "x'or'1'='1"]) {
      const { reply } = await ask(`<at>Expenses</at> expense ${id}`);
      assert.equal(reply.textFormat, 'plain');
      assert.match(reply.text ?? '', /can't find an expense with the id/, id);
    }
  });

  test('"expense" alone explains how to ask', async () => {
    const { reply } = await ask('<at>Expenses</at> expense');
    assert.match(reply.text ?? '', /followed by its id/);
  });
});
