import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/graphWebhook';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const graphWebhook = lazy(() => require('../handlers/graphWebhook') as typeof handlers, 'graphWebhook');

app.http('graphWebhook', { methods: ['POST'], authLevel: 'anonymous', route: 'graph-webhook', handler: graphWebhook });
