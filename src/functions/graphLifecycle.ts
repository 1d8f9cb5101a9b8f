import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/graphLifecycle';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const graphLifecycle = lazy(() => require('../handlers/graphLifecycle') as typeof handlers, 'graphLifecycle');

app.http('graphLifecycle', { methods: ['POST'], authLevel: 'anonymous', route: 'graph-lifecycle', handler: graphLifecycle });
