import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/composeExtension';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const composeExtension = lazy(() => require('../handlers/composeExtension') as typeof handlers, 'composeExtension');

app.http('composeExtension', { methods: ['POST'], authLevel: 'anonymous', route: 'compose-extension', handler: composeExtension });
