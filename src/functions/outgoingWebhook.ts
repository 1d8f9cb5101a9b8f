import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/outgoingWebhook';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const outgoingWebhook = lazy(() => require('../handlers/outgoingWebhook') as typeof handlers, 'outgoingWebhook');

app.http('outgoingWebhook', { methods: ['POST'], authLevel: 'anonymous', route: 'outgoing-webhook', handler: outgoingWebhook });
