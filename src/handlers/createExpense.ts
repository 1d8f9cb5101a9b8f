import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { featureConfig } from '../lib/config/settings';
import { sendApprovalMail } from '../lib/expenses/approval';
import { type Expense, insertExpense, type NewExpense, parseNewExpense } from '../lib/expenses/store';
import { errorResponse, parseJsonBytes, readBody } from '../lib/core/http';
import { logEvent } from '../lib/core/log';

const sameRequest = (stored: Expense, input: NewExpense): boolean =>
  stored.submitter.toLowerCase() === input.submitter.toLowerCase() &&
  stored.approver.toLowerCase() === input.approver.toLowerCase() &&
  stored.amount === input.amount &&
  stored.currency === input.currency &&
  stored.description === input.description;

/**
 * Back-office systems (function key) submit an expense: it is stored as pending and the approver is
 * mailed the actionable card. 201 for a new expense. A repeated `id` with the same content creates
 * nothing: 200, the card mailed again while the expense is still pending (`mailResent`); the same id
 * with other content is a 409. If Graph fails the answer is 502 and the expense stays stored, so a retry
 * with the same id sends the mail.
 */
export async function createExpense(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const config = featureConfig('expenses');
    const input = parseNewExpense(parseJsonBytes(await readBody(request)));
    const { expense, created } = await insertExpense(input);
    if (!created && !sameRequest(expense, input)) {
      logEvent(context, 'warn', 'expense.idConflict', { expenseId: expense.id });
      return {
        status: 409,
        headers: { 'Cache-Control': 'no-store' },
        jsonBody: { error: { code: 'ERR_CONFLICT', message: 'an expense with this id and different content exists' } },
      };
    }
    const mail = expense.status === 'pending';
    if (mail) await sendApprovalMail(config, expense);
    logEvent(context, 'info', created ? 'expense.created' : 'expense.repeated', { expenseId: expense.id, mailed: mail });
    const headers = { 'Cache-Control': 'no-store', Location: `/api/expenses/${expense.id}` };
    return created
      ? { status: 201, headers, jsonBody: { id: expense.id, status: expense.status } }
      : { status: 200, headers, jsonBody: { id: expense.id, status: expense.status, created: false, mailResent: mail } };
  } catch (err) {
    return errorResponse(err, context, 'expenses');
  }
}
