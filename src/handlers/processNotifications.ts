import type { InvocationContext } from '@azure/functions';

import { processNotificationMessage } from '../lib/graph-sync/processing';

/** Applies what the Graph endpoints queued; a failure is thrown so the host retries, then poisons. */
export function processNotifications(message: unknown, context: InvocationContext): Promise<void> {
  return processNotificationMessage(message, context);
}
