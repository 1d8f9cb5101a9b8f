import { app } from '@azure/functions';

import { subscriptionSchedule } from '../lib/config/settings';
import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/maintainSubscriptions';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const maintainSubscriptions = lazy(() => require('../handlers/maintainSubscriptions') as typeof handlers, 'maintainSubscriptions');

app.timer('maintainSubscriptions', { schedule: subscriptionSchedule(), handler: maintainSubscriptions });
