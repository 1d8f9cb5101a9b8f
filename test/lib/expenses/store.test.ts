import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { issueActionToken, verifyActionToken } from '../../../src/lib/expenses/action-token';
import { approvalMailHtml, expenseApprovalCard, expenseStatusCard, scriptSafeJson } from '../../../src/lib/expenses/cards';
import { decideExpense, type Expense, getExpense, insertExpense, listExpensesForUser } from '../../../src/lib/expenses/store';
import { tableClient } from '../../../src/lib/clients/storage';
import { useAzurite } from '../../support/azurite';
import { cardText as cardTexts } from '../../support/cards';
import { findAll } from './support';

/** The expense store, the action token and the cards, below the HTTP layer. */
useAzurite();

const key = Buffer.alloc(32, 1);
const base = { submitter: 'alice@contoso.com', approver: 'bob@contoso.com', amount: 10, currency: 'EUR', description: 'Taxi' };

describe('action token', () => {
  test('binds expense, approver (any case) and key; anything else fails', () => {
    const token = issueActionToken(key, 'expense-decision', 'E-1', 'Bob@Contoso.com');
    assert.match(token, /^v1\.[A-Za-z0-9_-]{43}$/);
    assert.equal(verifyActionToken(key, token, 'expense-decision', 'E-1', 'bob@contoso.com'), true);
    assert.equal(verifyActionToken(key, token, 'expense-decision', 'E-2', 'bob@contoso.com'), false);
    assert.equal(verifyActionToken(key, token, 'expense-decision', 'E-1', 'eve@contoso.com'), false);
    assert.equal(verifyActionToken(Buffer.alloc(32, 2), token, 'expense-decision', 'E-1', 'bob@contoso.com'), false);
    for (const bad of ['', 'v1.', `${token}=`, token.replace('v1.', 'v2.'), token.slice(0, -1), `${token}A`]) {
      assert.equal(verifyActionToken(key, bad, 'expense-decision', 'E-1', 'bob@contoso.com'), false, bad);
    }
  });

  test('the encoding is unambiguous: moving characters between id and approver changes the token', () => {
    const a = issueActionToken(key, 'expense-decision', 'E-1', 'x@contoso.com');
    const b = issueActionToken(key, 'expense-decision', 'E-1x', '@contoso.com');
    assert.notEqual(a, b);
  });
});

describe('expense cards', () => {
  const expense: Expense = { ...base, id: 'E-CARD', status: 'pending', createdAt: '2026-11-23T10:00:00.000Z' };

  test('the status card is Adaptive Card 1.0 with no Action.Http and no inputs', async () => {
    for (const status of ['pending', 'approved', 'rejected'] as const) {
      const card = await expenseStatusCard({ ...expense, status, ...(status !== 'pending' ? { decidedBy: 'bob@contoso.com' } : {}) });
      assert.equal(card.type, 'AdaptiveCard');
      assert.equal(card.version, '1.0');
      assert.equal(findAll(card, (n) => n.type === 'Action.Http').length, 0);
      assert.equal(findAll(card, (n) => typeof n.type === 'string' && n.type.startsWith('Input.')).length, 0);
      assert.ok(!cardTexts(card).some((t) => t.includes('${')), 'every binding filled');
    }
  });

  test('a decided card shows decision, decider and comment; a pending one hides the empty comment', async () => {
    const decided = await expenseStatusCard({ ...expense, status: 'rejected', decidedBy: 'bob@contoso.com', comment: 'no receipt' });
    const texts = cardTexts(decided).map((t) => t.replace(/\s/g, ' '));
    for (const text of ['✗ Rejected', 'bob@contoso.com', 'no receipt', 'EUR 10.00', 'Taxi', 'E-CARD']) assert.ok(texts.includes(text), text);
    const pending = cardTexts(await expenseStatusCard(expense));
    assert.ok(!pending.includes('Comment'));
    assert.ok(!pending.includes('Decided by'));
  });

  test('the mail head carries the card as script-safe JSON', async () => {
    const hostile = { ...expense, description: '</script><!-- \u2028 & <b>' };
    const card = await expenseApprovalCard(hostile, { originator: 'o', actionUrl: 'https://a.example/api/actionable-message', actionToken: 'v1.x' });
    const json = scriptSafeJson(card);
    assert.doesNotMatch(json, /[<>&\u2028\u2029]/);
    assert.deepEqual(JSON.parse(json), card);
    const html = approvalMailHtml(card, hostile);
    assert.equal((html.match(/<\/script>/g) ?? []).length, 1);
    assert.match(html, /&lt;\/script&gt;&lt;!-- /);
  });
});

describe('expense store', () => {
  test('a decision that loses the race to another one changes nothing', async () => {
    await insertExpense({ ...base, id: 'E-RACE' });
    const table = await tableClient('expenses');
    const update = table.updateEntity.bind(table);
    let interleaved = false;
    // The other click's decision lands between this one's read and its conditional write.
    table.updateEntity = async (...args: Parameters<typeof update>) => {
      if (!interleaved) {
        interleaved = true;
        table.updateEntity = update;
        const other = await decideExpense('E-RACE', { decision: 'reject', decidedBy: 'bob@contoso.com', comment: 'other' });
        assert.equal(other.outcome, 'decided');
      }
      return update(...args);
    };
    const mine = await decideExpense('E-RACE', { decision: 'approve', decidedBy: 'bob@contoso.com', comment: 'mine' });
    assert.ok(interleaved);
    assert.equal(mine.outcome, 'alreadyDecided');
    const stored = await getExpense('E-RACE');
    assert.equal(stored?.status, 'rejected');
    assert.equal(stored.comment, 'other');
  });

  test('lists a user’s expenses (submitted or to approve, any address case) newest first, paged', async () => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    for (let i = 0; i < 7; i++) {
      const mine = i % 2 === 0 ? { submitter: 'Carol@Contoso.com' } : { approver: 'carol.c@contoso.com' };
      await insertExpense({ ...base, ...mine, id: `L-${i}` }, new Date(start + i * 60_000));
    }
    await insertExpense({ ...base, id: 'L-OTHER' }, new Date(start + 3_600_000));
    const addresses = ['carol@contoso.com', 'CAROL.C@contoso.com'];
    const first = await listExpensesForUser(addresses, { skip: 0, count: 3 });
    assert.deepEqual(first.expenses.map((e) => e.id), ['L-6', 'L-5', 'L-4']);
    assert.equal(first.hasMore, true);
    const last = await listExpensesForUser(addresses, { skip: 6, count: 3 });
    assert.deepEqual(last.expenses.map((e) => e.id), ['L-0']);
    assert.equal(last.hasMore, false);
    const exact = await listExpensesForUser(addresses, { skip: 4, count: 3 });
    assert.deepEqual(exact.expenses.map((e) => e.id), ['L-2', 'L-1', 'L-0']);
    assert.equal(exact.hasMore, false);
    assert.deepEqual(await listExpensesForUser(['nobody@contoso.com'], { skip: 0, count: 5 }), { expenses: [], hasMore: false });
    assert.deepEqual(await listExpensesForUser([], { skip: 0, count: 5 }), { expenses: [], hasMore: false });
  });

  test('a listed expense shows its current decision', async () => {
    await decideExpense('L-6', { decision: 'approve', decidedBy: 'bob@contoso.com' });
    const { expenses } = await listExpensesForUser(['carol@contoso.com'], { skip: 0, count: 1 });
    assert.equal(expenses[0]?.status, 'approved');
  });
});
