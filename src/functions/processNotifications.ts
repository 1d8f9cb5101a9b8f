import { app } from '@azure/functions';

import { notificationQueueName } from '../lib/config/settings';
import { lazy } from '../lib/core/lazy';
import type * as handlers from '../handlers/processNotifications';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on first invocation (see lazy)
const processNotifications = lazy(() => require('../handlers/processNotifications') as typeof handlers, 'processNotifications');

app.storageQueue('processNotifications', {
  queueName: notificationQueueName(),
  connection: 'AzureWebJobsStorage',
  handler: processNotifications,
});
