import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/health';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const health = lazy(() => require('../handlers/health') as typeof handlers, 'health');

app.http('health', { methods: ['GET'], authLevel: 'anonymous', route: 'health', handler: health });
