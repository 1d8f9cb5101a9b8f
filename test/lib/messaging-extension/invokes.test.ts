import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { upsertUsers } from '../../../src/lib/directory/directory';
import { insertExpense } from '../../../src/lib/expenses/store';
import { useAzurite } from '../../support/azurite';
import { assertCardForHost, type HostName, previewProblems } from '../../support/cards';
import { setEnv } from '../../../tools/stand-ins/env';
import { withEnv } from '../../../tools/stand-ins/functions';
import { post, send } from './requests';
import {
  type Account,
  type BotStandIn,
  botToken,
  extension,
  invokeActivity,
  LARRY,
  PUBLIC_BASE_URL,
  queryActivity,
  SERVICE_URL,
  startBotStandIn,
  titles,
} from '../../../tools/stand-ins/bot';

/**
 * Every invoke through the real handler with valid tokens, against a real directory and expense store in
 * Azurite: what a Teams user sees in the compose box.
 */

useAzurite();
let stand: BotStandIn;
let restoreEnv: () => void;

const user = (id: string, displayName: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  displayName,
  accountEnabled: true,
  businessPhones: [],
  ...extra,
});

/** Every attachment of a result as Teams would take it: the card for its host, the preview (when asked) a thumbnail card. */
function assertAttachments(result: ReturnType<typeof extension>, host: HostName, withPreview: boolean): void {
  assert.ok((result.attachments?.length ?? 0) > 0);
  for (const attachment of result.attachments ?? []) {
    assertCardForHost(attachment.content, host);
    if (withPreview) assert.deepEqual(previewProblems(attachment.preview), []);
    else assert.equal(attachment.preview, undefined);
  }
}

// Node 20 runs root-level before hooks concurrently, so the seeding waits for Azurite inside a suite.
describe('messaging extension invokes', () => {
  before(async () => {
    stand = await startBotStandIn();
    restoreEnv = setEnv(stand.env);
    await upsertUsers([
      user('a1', 'Ada Lovelace', { mail: 'ada@contoso.com', department: 'Finance', jobTitle: 'Analyst' }),
      user('a2', 'Adam Smith', { mail: 'adam@contoso.com', department: 'Sales' }),
      user('a3', 'Adele Zoë', { mail: 'adele@contoso.com', department: 'Finance' }),
      user('a4', 'Adrian Off', { mail: 'adrian@contoso.com', department: 'Finance', accountEnabled: false }),
      user(LARRY.aadObjectId as string, 'Larry Jin', { mail: 'Larry@Contoso.com', userPrincipalName: 'larry.jin@contoso.onmicrosoft.com' }),
    ]);
    await insertExpense({ id: 'exp-1', submitter: 'larry@contoso.com', approver: 'ada@contoso.com', amount: 120.5, currency: 'EUR', description: 'Train to Lyon' });
    await insertExpense({ id: 'exp-2', submitter: 'ada@contoso.com', approver: 'LARRY.JIN@contoso.onmicrosoft.com', amount: 40, currency: 'USD', description: 'Team lunch' });
    await insertExpense({ id: 'exp-3', submitter: 'adam@contoso.com', approver: 'ada@contoso.com', amount: 9, currency: 'USD', description: 'Taxi' });
  });
  after(async () => {
    restoreEnv();
    await stand.server.close();
  });

  describe('composeExtension/query', () => {
    test('searchPeople answers an adaptive card per person with a thumbnail preview whose tap invokes selectItem', async () => {
      const answer = await send(stand, queryActivity('searchPeople', [{ name: 'query', value: 'ad' }]));
      assert.equal(answer.status, 200);
      const result = extension(answer);
      assert.equal(result.type, 'result');
      assert.equal(result.attachmentLayout, 'list');
      assert.deepEqual(titles(answer), ['Ada Lovelace', 'Adam Smith', 'Adele Zoë'], 'disabled users never match');
      const first = result.attachments?.[0];
      assert.equal(first?.contentType, 'application/vnd.microsoft.card.adaptive');
      assert.equal(first?.content.type, 'AdaptiveCard');
      assert.equal(first?.preview?.contentType, 'application/vnd.microsoft.card.thumbnail');
      assert.deepEqual(first?.preview?.content.tap, { type: 'invoke', value: { kind: 'person', id: 'a1' } });
      assert.equal(first?.preview?.content.subtitle, 'Analyst · Finance');
      assertAttachments(result, 'teamsMessagingExtension', true);
    });

    test('paging follows queryOptions.skip and count', async () => {
      const page = (skip: number, count: number): Record<string, unknown> =>
        queryActivity('searchPeople', [{ name: 'query', value: 'ad' }], { queryOptions: { skip, count } });
      assert.deepEqual(titles(await send(stand, page(0, 2))), ['Ada Lovelace', 'Adam Smith']);
      assert.deepEqual(titles(await send(stand, page(2, 2))), ['Adele Zoë']);
      assert.deepEqual(titles(await send(stand, page(4, 2))), []);
    });

    test('initialRun lists the most recently changed people', async () => {
      const answer = await send(stand, queryActivity('searchPeople', [{ name: 'initialRun', value: 'true' }]));
      assert.equal(extension(answer).type, 'result');
      assert.deepEqual(new Set(titles(answer)), new Set(['Ada Lovelace', 'Adam Smith', 'Adele Zoë', 'Larry Jin']));
    });

    test('searchExpenses finds the user by aadObjectId and lists expenses they submitted or approve, ignoring case', async () => {
      const answer = await send(stand, queryActivity('searchExpenses', [{ name: 'initialRun', value: 'true' }]));
      const result = extension(answer);
      assert.equal(result.type, 'result');
      assert.deepEqual(new Set(titles(answer)), new Set(['Train to Lyon', 'Team lunch']));
      const lunch = result.attachments?.find((a) => a.preview?.content.title === 'Team lunch');
      assert.deepEqual(lunch?.preview?.content.tap, { type: 'invoke', value: { kind: 'expense', id: 'exp-2' } });
      assert.match(lunch?.preview?.content.subtitle ?? '', /USD\s*40\.00 · waiting for approval/);
      assertAttachments(result, 'teamsMessagingExtension', true);
      // A text filter narrows the user's own expenses only.
      assert.deepEqual(titles(await send(stand, queryActivity('searchExpenses', [{ name: 'query', value: 'lyon' }]))), ['Train to Lyon']);
      assert.deepEqual(titles(await send(stand, queryActivity('searchExpenses', [{ name: 'query', value: 'taxi' }]))), []);
    });

    test('searchExpenses pages by queryOptions.skip and count, with and without a text filter', async () => {
      for (const parameters of [[{ name: 'initialRun', value: 'true' }], [{ name: 'query', value: 'larry' }]]) {
        const page = (skip: number, count: number): Record<string, unknown> =>
          queryActivity('searchExpenses', parameters, { queryOptions: { skip, count } });
        const first = titles(await send(stand, page(0, 1)));
        const second = titles(await send(stand, page(1, 1)));
        assert.equal(first.length, 1, parameters[0]?.name);
        assert.equal(second.length, 1, parameters[0]?.name);
        assert.deepEqual(new Set([...first, ...second]), new Set(['Train to Lyon', 'Team lunch']), parameters[0]?.name);
        assert.deepEqual(titles(await send(stand, page(2, 1))), [], parameters[0]?.name);
      }
    });

    test('searchExpenses for someone who is not in the directory answers a message', async () => {
      const stranger: Account = { id: '29:stranger', aadObjectId: '00000000-0000-0000-0000-000000000001' };
      const result = extension(await send(stand, queryActivity('searchExpenses', [], {}, stranger)));
      assert.equal(result.type, 'message');
    });

    test('the documented example query (an unknown command) answers type message', async () => {
      const documented = {
        name: 'composeExtension/query',
        value: { commandId: 'searchCmd', parameters: [{ name: 'searchKeywords', value: 'Toronto' }], queryOptions: { skip: 0, count: 25 } },
        type: 'invoke',
        timestamp: '2017-05-01T15:45:51.876Z',
        localTimestamp: '2017-05-01T08:45:51.876-07:00',
        id: 'f:622749630322482883',
        channelId: 'msteams',
        serviceUrl: 'https://smba.trafficmanager.net/amer-client-ss.msg/',
        from: LARRY,
        conversation: { id: '19:skypespaces_8198cfe0dd2647ae91930f0974768a40@thread.skype' },
        recipient: { id: '28:b4922ea1-5315-4fd0-9b21-d941ab06e39f', name: 'TheComposeExtensionDev' },
        entities: [{ type: 'clientInfo', country: 'US', platform: 'Windows' }],
      };
      const answer = await send(stand, documented);
      assert.equal(answer.status, 200);
      assert.equal(extension(answer).type, 'message');
      assert.match(extension(answer).text ?? '', /searchCmd/);
    });

    test('a malformed query value is a 400 and nothing is searched', async () => {
      const answer = await send(stand, invokeActivity('composeExtension/query', { commandId: 'searchPeople', parameters: 'ada' }));
      assert.equal(answer.status, 400);
    });
  });

  describe('composeExtension/selectItem', () => {
    test('the tap value of a person or an expense gives back the one full card, without a preview', async () => {
      const person = extension(await send(stand, invokeActivity('composeExtension/selectItem', { kind: 'person', id: 'a1' })));
      assert.equal(person.type, 'result');
      assert.equal(person.attachments?.length, 1);
      assert.equal(person.attachments?.[0]?.preview, undefined);
      assert.match(JSON.stringify(person.attachments?.[0]?.content), /Ada Lovelace/);
      const expense = extension(await send(stand, invokeActivity('composeExtension/selectItem', { kind: 'expense', id: 'exp-1' })));
      assert.equal(expense.attachments?.length, 1);
      assert.match(JSON.stringify(expense.attachments?.[0]?.content), /Train to Lyon/);
      assertAttachments(person, 'teamsMessagingExtension', false);
      assertAttachments(expense, 'teamsMessagingExtension', false);
    });

    test('the documented example value, or a person who left, answers a message', async () => {
      const documented = { Item1: 'Package_Name', Item2: 'Version', Item3: 'Package Description' };
      assert.equal(extension(await send(stand, invokeActivity('composeExtension/selectItem', documented))).type, 'message');
      assert.equal(extension(await send(stand, invokeActivity('composeExtension/selectItem', { kind: 'person', id: 'a4' }))).type, 'message');
    });
  });

  describe('composeExtension/queryLink', () => {
    test("a link to one of the app's expenses unfurls into its card; other links get an empty result", async () => {
      const link = extension(await send(stand, invokeActivity('composeExtension/queryLink', { url: `${PUBLIC_BASE_URL}/api/expenses/exp-1` })));
      assert.equal(link.type, 'result');
      assert.equal(link.attachments?.length, 1);
      assert.equal(link.attachments?.[0]?.preview?.content.title, 'Train to Lyon');
      assertAttachments(link, 'teamsLinkUnfurl', true);
      for (const url of [
        'https://theurlsubmittedbyyouruser.trackeddomain.com/id/1234',
        `${PUBLIC_BASE_URL}/api/expenses/unknown`,
        `${PUBLIC_BASE_URL}/api/health`,
        'https://evil.example/api/expenses/exp-3',
        'not a url',
      ]) {
        const other = extension(await send(stand, invokeActivity('composeExtension/queryLink', { url })));
        assert.deepEqual(other, { type: 'result', attachmentLayout: 'list', attachments: [] }, url);
      }
    });
  });

  describe('settings', () => {
    const sam: Account = { id: '29:sam-settings', aadObjectId: 'a2' };

    test('querySettingUrl opens the settings page; setting stores the department filter that people search then applies', async () => {
      const config = extension(await send(stand, invokeActivity('composeExtension/querySettingUrl', { commandId: 'searchPeople' }, sam)));
      assert.equal(config.type, 'config');
      assert.equal(config.suggestedActions?.actions[0]?.type, 'openUrl');
      assert.equal(config.suggestedActions?.actions[0]?.value, `${PUBLIC_BASE_URL}/api/settings`);

      const saved = await send(stand, invokeActivity('composeExtension/setting', { state: JSON.stringify({ department: 'finance' }) }, sam));
      assert.equal(saved.status, 200);
      assert.equal(saved.body, undefined);

      const search = (params: { name: string; value: string }[], from: Account): Promise<string[]> =>
        send(stand, queryActivity('searchPeople', params, {}, from)).then(titles);
      assert.deepEqual(await search([{ name: 'query', value: 'ad' }], sam), ['Ada Lovelace', 'Adele Zoë']);
      assert.deepEqual(new Set(await search([{ name: 'initialRun', value: 'true' }], sam)), new Set(['Ada Lovelace', 'Adele Zoë']));
      assert.deepEqual(await search([{ name: 'query', value: 'ad' }], LARRY), ['Ada Lovelace', 'Adam Smith', 'Adele Zoë'], 'per user');

      const reopened = extension(await send(stand, invokeActivity('composeExtension/querySettingUrl', {}, sam)));
      assert.equal(reopened.suggestedActions?.actions[0]?.value, `${PUBLIC_BASE_URL}/api/settings?department=finance`);

      // Closing the page without saving changes nothing; saving an empty department clears the filter.
      assert.equal((await send(stand, invokeActivity('composeExtension/setting', {}, sam))).status, 200);
      assert.deepEqual(await search([{ name: 'query', value: 'ad' }], sam), ['Ada Lovelace', 'Adele Zoë']);
      await send(stand, invokeActivity('composeExtension/setting', { state: JSON.stringify({ department: '' }) }, sam));
      assert.deepEqual(await search([{ name: 'query', value: 'ad' }], sam), ['Ada Lovelace', 'Adam Smith', 'Adele Zoë']);
    });

    test('a setting state that is not the settings JSON is a 400 and changes nothing', async () => {
      const answer = await send(stand, invokeActivity('composeExtension/setting', { state: 'finance' }, sam));
      assert.equal(answer.status, 400);
    });
  });

  describe('other activities', () => {
    test('unknown invokes get 501; non-invokes 200 with no body', async () => {
      for (const name of ['composeExtension/fetchTask', 'signin/verifyState', 'task/fetch', '']) {
        assert.equal((await send(stand, invokeActivity(name, {}))).status, 501, name);
      }
      for (const type of ['message', 'conversationUpdate', 'typing']) {
        const answer = await send(stand, { ...invokeActivity('x', undefined), type });
        assert.equal(answer.status, 200, type);
        assert.equal(answer.body, undefined);
      }
    });

    test('an invoke with a token for another serviceUrl gets 401 and is not acted on', async () => {
      const activity = invokeActivity('composeExtension/setting', { state: JSON.stringify({ department: 'Sales' }) });
      const answer = await post(activity, `Bearer ${await botToken(stand, { serviceurl: 'https://smba.trafficmanager.net/emea/' })}`);
      assert.equal(answer.status, 401);
      assert.deepEqual(titles(await send(stand, queryActivity('searchPeople', [{ name: 'query', value: 'ad' }]))).length, 3);
      assert.equal(SERVICE_URL.endsWith('/'), true);
    });

    test('a validly signed body over 1 MiB gets 413 and is not acted on', async () => {
      const activity = invokeActivity('composeExtension/setting', { state: JSON.stringify({ department: 'Sales' }) });
      const answer = await send(stand, { ...activity, padding: 'x'.repeat(1024 * 1024) });
      assert.equal(answer.status, 413);
      assert.equal(titles(await send(stand, queryActivity('searchPeople', [{ name: 'query', value: 'ad' }]))).length, 3);
    });

    test('without BOT_APP_ID the endpoint answers 503 and names the setting in one log line', async () => {
      const activity = queryActivity('searchPeople', [{ name: 'query', value: 'ad' }]);
      const token = await botToken(stand, { serviceurl: SERVICE_URL });
      const answer = await withEnv({ BOT_APP_ID: undefined }, () => post(activity, `Bearer ${token}`));
      assert.equal(answer.status, 503);
      assert.equal(answer.logs.filter((line) => /feature\.notConfigured.*BOT_APP_ID/.test(line)).length, 1);
    });
  });
});
