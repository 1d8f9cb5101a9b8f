import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { NotFoundError } from '../lib/core/errors';
import { getExpense as readExpense, isExpenseId } from '../lib/expenses/store';
import { errorResponse } from '../lib/core/http';

/** Back-office systems (function key) read an expense and its decision. */
export async function getExpense(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const id = request.params.id;
    // An id the app could never have issued cannot exist.
    const expense = isExpenseId(id) ? await readExpense(id) : undefined;
    if (!expense) throw new NotFoundError('no expense with this id');
    return { status: 200, headers: { 'Cache-Control': 'no-store' }, jsonBody: expense };
  } catch (err) {
    return errorResponse(err, context, 'expenses');
  }
}
