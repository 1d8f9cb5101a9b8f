import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { featureConfig } from '../lib/config/settings';
import { UnauthenticatedError } from '../lib/core/errors';
import { errorResponse, readBody } from '../lib/core/http';
import { logEvent } from '../lib/core/log';
import { answerCommand } from '../lib/outgoing-webhook/answers';
import { parseWebhookActivity, parseCommand } from '../lib/outgoing-webhook/activity';
import { verifyOutgoingWebhook } from '../lib/outgoing-webhook/signature';

const FEATURE = 'outgoingWebhook';

/**
 * A Teams outgoing webhook: a channel message that @mentions the webhook, signed with the webhook's
 * security token. The body is read once as bytes, its HMAC checked over exactly those bytes, and only
 * then parsed; the reply activity goes back in the response, well inside Teams' five seconds.
 */
export async function outgoingWebhook(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const { secrets } = featureConfig('outgoingWebhook');
    const body = await readBody(request);
    const secret = verifyOutgoingWebhook(body, request.headers.get('authorization'), request.query.getAll('id'), secrets);
    const activity = parseWebhookActivity(body);
    if (activity.type === 'unsupported') {
      logEvent(context, 'info', 'outgoingWebhook.ignored', { secret, activityType: activity.activityType });
      return { status: 200, headers: { 'Cache-Control': 'no-store' } };
    }
    const { reply, outcome } = await answerCommand(parseCommand(activity.text), activity.senderObjectId, context);
    logEvent(context, 'info', 'outgoingWebhook.answered', { secret, outcome, activityId: activity.id });
    return { status: 200, headers: { 'Cache-Control': 'no-store' }, jsonBody: reply };
  } catch (err) {
    // RFC 9110 asks a 401 to name the scheme; it says nothing the contract does not.
    const headers: Record<string, string> = err instanceof UnauthenticatedError ? { 'WWW-Authenticate': 'HMAC' } : {};
    return errorResponse(err, context, FEATURE, { headers });
  }
}
