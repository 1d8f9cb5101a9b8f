import { app, type InvocationContext, type Timer } from '@azure/functions';

import { subscriptionSchedule } from '../lib/config';
import { maintainGraphSubscription } from '../lib/graph-maintenance';

/** Keeps the one Graph subscription alive and the directory in step with `/users/delta`. */
export function maintainSubscriptions(_timer: Timer, context: InvocationContext): Promise<void> {
  return maintainGraphSubscription(context);
}

app.timer('maintainSubscriptions', { schedule: subscriptionSchedule(), handler: maintainSubscriptions });
