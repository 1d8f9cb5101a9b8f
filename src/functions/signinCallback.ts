import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/signinCallback';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const signinCallback = lazy(() => require('../handlers/signinCallback') as typeof handlers, 'signinCallback');

app.http('signinCallback', { methods: ['GET'], authLevel: 'anonymous', route: 'signin/callback', handler: signinCallback });
