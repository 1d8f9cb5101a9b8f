import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/signinStart';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const signinStart = lazy(() => require('../handlers/signinStart') as typeof handlers, 'signinStart');

app.http('signinStart', { methods: ['GET'], authLevel: 'anonymous', route: 'signin/start', handler: signinStart });
