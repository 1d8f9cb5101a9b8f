import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/createExpense';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const createExpense = lazy(() => require('../handlers/createExpense') as typeof handlers, 'createExpense');

app.http('createExpense', { methods: ['POST'], authLevel: 'function', route: 'expenses', handler: createExpense });
