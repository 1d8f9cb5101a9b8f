import { app } from '@azure/functions';

import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/settingsPage';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const settingsPage = lazy(() => require('../handlers/settingsPage') as typeof handlers, 'settingsPage');

app.http('settingsPage', { methods: ['GET'], authLevel: 'anonymous', route: 'settings', handler: settingsPage });
