import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { parseBotActivity, tokenBoundFields } from '../lib/messaging-extension/activity';
import { verifyBotRequest } from '../lib/messaging-extension/bot-token';
import { handleInvoke } from '../lib/messaging-extension/invokes';
import { featureConfig } from '../lib/config/settings';
import { NotImplementedError } from '../lib/core/errors';
import { errorResponse, readBody } from '../lib/core/http';
import { logEvent } from '../lib/core/log';

/**
 * The messaging extension's Bot Framework endpoint. The body is read (1 MiB at most) because the token
 * is bound to the activity's `serviceUrl` and channel, but nothing in it is acted on before the token is
 * verified; then non-invokes get 200 empty, known invokes their handler's answer, others 501.
 */
export async function composeExtension(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const config = featureConfig('composeExtension');
    const bytes = await readBody(request);
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch {
      body = undefined; // fails the serviceurl check below: 401 before anything else is said
    }
    await verifyBotRequest({ authorization: request.headers.get('authorization'), ...tokenBoundFields(body) }, config);
    const parsed = parseBotActivity(body);
    if (parsed.kind === 'other') return { status: 200 };
    if (parsed.kind === 'unhandledInvoke') throw new NotImplementedError(`invoke ${parsed.activity.name} is not handled`);
    const response = await handleInvoke(parsed.activity, { config, now: new Date(), log: context });
    logEvent(context, 'info', 'composeExtension.invoke', { name: parsed.activity.name });
    return response.body === undefined
      ? { status: response.status }
      : { status: response.status, jsonBody: response.body, headers: { 'Cache-Control': 'no-store' } };
  } catch (err) {
    return errorResponse(err, context, 'composeExtension');
  }
}
