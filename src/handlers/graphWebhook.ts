import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { handleGraphPost } from '../lib/graph-sync/notifications';

/** Graph's `notificationUrl`: the validation handshake and change notifications (lifecycle events too). */
export function graphWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleGraphPost(request, context, 'notifications');
}
