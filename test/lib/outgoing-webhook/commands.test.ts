import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { BadRequestError } from '../../../src/lib/core/errors';
import { commandText, parseWebhookActivity, parseCommand } from '../../../src/lib/outgoing-webhook/activity';
import { teamsMessage, TIM_OBJECT_ID } from './support';

/** What a person typed, as Teams delivers it in `text`, and the command the webhook reads from it. */

describe('outgoing webhook: reading the command', () => {
  test("Teams' documented example: both mentions removed, the rest kept", () => {
    assert.equal(commandText('<at>MyCustomBot</at> Hello <at>Larry Brown</at>'), 'Hello');
    assert.deepEqual(parseCommand('<at>MyCustomBot</at> Hello <at>Larry Brown</at>'), { name: 'people', query: 'Hello' });
  });

  test('the HTML and entities Teams wraps around a message are dropped', () => {
    const cases: [string, string][] = [
      ['<at>Expenses</at>&nbsp;help\n', 'help'],
      ['<p><at>Expenses</at>&nbsp;adele&nbsp;vance</p>', 'adele vance'],
      [
        '<div><div><span itemscope="" itemtype="http://schema.skype.com/Mention" itemid="0"><at>Expenses</at></span> megan</div></div>',
        'megan',
      ],
      ['<div><at>Expenses</at> Tom &amp; Jerry</div>', 'Tom & Jerry'],
      ['<at>Expenses</at> &lt;b&gt;bold&lt;/b&gt;', '<b>bold</b>'],
      ['<at>Expenses</at> &amp;lt;', '&lt;'],
      ['<at>Expenses</at> caf&#233; &#x1F600;', 'café 😀'],
      ['<at>Expenses</at> a&unknown;b', 'a&unknown;b'],
      ['<AT>Expenses</AT>\u200b help\u00a0', 'help'],
      ['<at>Two\nLines</at> help<br>', 'help'],
      ['<at id="0">Expenses</at>  Zoë   Ångström  ', 'Zoë Ångström'],
    ];
    for (const [text, expected] of cases) assert.equal(commandText(text), expected, JSON.stringify(text));
  });

  test('help or nothing at all gives the command list, in any case', () => {
    for (const text of ['<at>Expenses</at>', '<at>Expenses</at> ', '<at>Expenses</at> help', '<at>Expenses</at> HELP', '<at>Expenses</at>&nbsp;Help']) {
      assert.deepEqual(parseCommand(text), { name: 'help' }, text);
    }
  });

  test('expense <id>: the keyword ignores case, the id keeps it', () => {
    assert.deepEqual(parseCommand('<at>Expenses</at> expense 7F3c-9A'), { name: 'expense', id: '7F3c-9A' });
    assert.deepEqual(parseCommand('<at>Expenses</at> EXPENSE&nbsp;abc'), { name: 'expense', id: 'abc' });
    assert.deepEqual(parseCommand('<at>Expenses</at> expense'), { name: 'expenseUsage' });
    assert.deepEqual(parseCommand('<at>Expenses</at> expense two words'), { name: 'expenseUsage' });
  });

  test('anything else is a people search, including words that merely start like a command', () => {
    assert.deepEqual(parseCommand('<at>Expenses</at> expenses team'), { name: 'people', query: 'expenses team' });
    assert.deepEqual(parseCommand('<at>Expenses</at> helpdesk'), { name: 'people', query: 'helpdesk' });
    assert.deepEqual(parseCommand('<at>Expenses</at> Marketing'), { name: 'people', query: 'Marketing' });
  });
});

describe('outgoing webhook: parsing the activity', () => {
  test("a message shaped like Teams' documented example", () => {
    const activity = parseWebhookActivity(Buffer.from(teamsMessage('<at>Expenses</at> help'), 'utf8'));
    assert.deepEqual(activity, {
      type: 'message',
      id: '1485983408511',
      text: '<at>Expenses</at> help',
      senderObjectId: TIM_OBJECT_ID,
    });
  });

  test('a message without text reads as empty (the command list)', () => {
    assert.deepEqual(parseWebhookActivity(Buffer.from('{"type":"message","text":null}')), { type: 'message', text: '' });
  });

  test('other activity types are told apart, not answered', () => {
    assert.deepEqual(parseWebhookActivity(Buffer.from('{"type":"typing"}')), { type: 'unsupported', activityType: 'typing' });
  });

  test('a body that is no activity is a bad request', () => {
    for (const body of ['[]', '"message"', '{"text":"hi"}', '{"type":"message","text":7}', 'nope']) {
      assert.throws(() => parseWebhookActivity(Buffer.from(body)), BadRequestError, body);
    }
  });
});
