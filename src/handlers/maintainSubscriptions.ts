import type { InvocationContext, Timer } from '@azure/functions';

import { maintainGraphSubscription } from '../lib/graph-sync/maintenance';

/** Keeps the one Graph subscription alive and the directory in step with `/users/delta`. */
export function maintainSubscriptions(_timer: Timer, context: InvocationContext): Promise<void> {
  return maintainGraphSubscription(context);
}
