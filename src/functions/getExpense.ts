import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/getExpense';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const getExpense = lazy(() => require('../handlers/getExpense') as typeof handlers, 'getExpense');

app.http('getExpense', { methods: ['GET'], authLevel: 'function', route: 'expenses/{id}', handler: getExpense });
