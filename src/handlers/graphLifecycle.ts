import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { handleGraphPost } from '../lib/graph-sync/notifications';

/** Graph's `lifecycleNotificationUrl`: the same handler, since either kind of notification may arrive on either URL. */
export function graphLifecycle(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleGraphPost(request, context, 'lifecycle');
}
