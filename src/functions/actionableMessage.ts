import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/actionableMessage';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const actionableMessage = lazy(() => require('../handlers/actionableMessage') as typeof handlers, 'actionableMessage');

app.http('actionableMessage', {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: 'actionable-message',
  // Only the request and context: the handler's options are for tests, never reachable from HTTP.
  handler: (request, context) => actionableMessage(request, context),
});
