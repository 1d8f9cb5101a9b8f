import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { verifyActionableMessageCaller } from '../lib/expenses/outlook-token';
import { featureConfig } from '../lib/config/settings';
import { AppError, ensureError } from '../lib/core/errors';
import { applyCardAction, parseCardAction } from '../lib/expenses/approval';
import { errorResponse, parseJsonBytes, readBody } from '../lib/core/http';

/** What Outlook shows under the card for each failure; never the performer's name or the time. */
const FAILURE_STATUS: Record<number, string> = {
  400: 'The action could not be read. Please try again.',
  401: 'The action could not be verified.',
  403: 'You are not allowed to act on this expense.',
  404: 'This expense no longer exists.',
  413: 'The action could not be read. Please try again.',
};
const RETRY_STATUS = 'The action could not be completed. Please try again later.';

export interface ActionableMessageOptions {
  /** Verification and decision time; tests freeze it. Not reachable from HTTP. */
  now?: () => Date;
}

/**
 * Outlook's Action.Http click on the approval card. Order matters: the bearer token first (401), so an
 * unauthenticated caller learns nothing about bodies or expenses; then the body (400), the app's action
 * token and the approver (403), the expense (404), and the one decision. Every answer carries
 * CARD-ACTION-STATUS; a success also refreshes the card in place (CARD-UPDATE-IN-BODY).
 */
export async function actionableMessage(
  request: HttpRequest,
  context: InvocationContext,
  options: ActionableMessageOptions = {},
): Promise<HttpResponseInit> {
  try {
    const config = featureConfig('actionableMessages');
    const now = options.now?.();
    const caller = await verifyActionableMessageCaller(request.headers, config, now ? { now } : {});
    const action = parseCardAction(parseJsonBytes(await readBody(request)));
    const result = await applyCardAction(config, caller, action, { now: now ?? new Date(), log: context });
    return {
      status: 200,
      headers: {
        'CARD-ACTION-STATUS': result.statusText,
        'CARD-UPDATE-IN-BODY': 'true',
        'Cache-Control': 'no-store',
      },
      jsonBody: result.card,
    };
  } catch (err) {
    const error = ensureError(err);
    const status = error instanceof AppError ? error.status : 500;
    return errorResponse(error, context, 'actionableMessages', {
      headers: { 'CARD-ACTION-STATUS': FAILURE_STATUS[status] ?? RETRY_STATUS },
    });
  }
}
