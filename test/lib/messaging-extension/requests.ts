import { composeExtension } from '../../../src/handlers/composeExtension';
import { httpRequest, testContext } from '../../../tools/stand-ins/functions';
import { type BotStandIn, botToken } from '../../../tools/stand-ins/bot';

/** Requests to the real composeExtension handler (kept apart from support.ts, which loads no Functions code). */

export interface Answer {
  status: number;
  body: unknown;
  headers: Headers;
  /** The handler's log lines, e.g. `auth.rejected {"reason":"serviceurl",…}`. */
  logs: string[];
}

/** POSTs the exact bytes of `activity` to the real handler with the given Authorization header. */
export async function post(activity: unknown, authorization: string | undefined): Promise<Answer> {
  const { context, logs } = testContext('composeExtension');
  const request = httpRequest({
    method: 'POST',
    url: 'http://localhost:7071/api/compose-extension',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body: typeof activity === 'string' ? activity : JSON.stringify(activity),
  });
  const response = await composeExtension(request, context);
  return { status: response.status ?? 200, body: response.jsonBody, headers: new Headers(response.headers), logs: logs.map((l) => l.message) };
}

/** The activity sent with a fresh valid token for it. */
export async function send(stand: BotStandIn, activity: Record<string, unknown>): Promise<Answer> {
  return post(activity, `Bearer ${await botToken(stand, { serviceurl: activity.serviceUrl })}`);
}

