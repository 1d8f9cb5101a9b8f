import { createHmac } from 'node:crypto';

import { HttpRequest } from '@azure/functions';

/**
 * Signing keys of Microsoft's outgoing-webhook sample (OfficeDev/microsoft-teams-sample-outgoing-webhook,
 * AuthProvider.cs): public sample values, used here as two webhooks' security tokens.
 */
export const CONTOSO_TOKEN = 'vqF0En+Z0ucuRTM/01o2GuhMH3hKKk/N2bOmlM31zaA=';
export const FABRIKAM_TOKEN = 'QgyNSToQjf4p6+YzDpjKks1/tXeJQ7FhVHqRwTnugVI=';
export const SECRETS_SETTING = `contoso:${CONTOSO_TOKEN},fabrikam:${FABRIKAM_TOKEN}`;

/** `from.aadObjectId` of the documented example's sender, Tim Jones. */
export const TIM_OBJECT_ID = 'c8a7a3b2-9f0e-4d7b-8a54-2f1a0b9c6d11';

export const URL_BASE = 'http://localhost:7071/api/outgoing-webhook';

/** `HMAC <base64>` as Teams computes it: HMAC-SHA256 keyed with the decoded token over the raw bytes. */
export function hmacHeader(token: string, body: Buffer | string): string {
  const digest = createHmac('sha256', Buffer.from(token, 'base64'))
    .update(typeof body === 'string' ? Buffer.from(body, 'utf8') : body)
    .digest('base64');
  return `HMAC ${digest}`;
}

/**
 * A channel message as Teams posts it to an outgoing webhook, laid out byte for byte like the example
 * in Microsoft's documentation (indentation, a stray space after a value, `<at>` mentions in `text`,
 * the HTML rendering in a text/html attachment, mention entities, channelData).
 */
export function teamsMessage(text: string, options: { html?: string; from?: string; aadObjectId?: string } = {}): string {
  const html = options.html ?? `<div>${text}</div>`;
  return `{
    "type": "message",
    "id": "1485983408511",
    "timestamp": "2017-02-01T21:10:07.437Z",
    "localTimestamp": "2017-02-01T14:10:07.437-07:00",
    "serviceUrl": "https://smba.trafficmanager.net/amer-client-ss.msg/",
    "channelId": "msteams", 
    "from": {
        "id": "29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB39ATiQWA85gQtHieVkHilBZ9XHoq9j7Zaqt7CZ-NJWi7me2kHTL3Bw",
        "name": ${JSON.stringify(options.from ?? 'Tim Jones')},
        "aadObjectId": ${JSON.stringify(options.aadObjectId ?? TIM_OBJECT_ID)}
    },
    "conversation": {
        "isGroup": true,
        "conversationType": "channel",
        "id": "19:253b1f341670408fb6fe51050b6e5ceb@thread.skype;messageid=1485983194839",
        "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"
    },
    "recipient": null,
    "textFormat": "plain",
    "text": ${JSON.stringify(text)},
    "attachments": [{
        "contentType": "text/html",
        "content": ${JSON.stringify(html)}
    }],
    "entities": [{
        "type": "mention",
        "mentioned": {
            "id": "28:c9e8c047-2a74-40a2-b28a-b162d5f5327c", 
            "name": "Expenses"
        },
        "text": "<at>Expenses</at>"
    }, {
        "type": "clientInfo",
        "locale": "en-US",
        "country": "US",
        "platform": "Windows"
    }],
    "channelData": {
        "teamsChannelId": "19:253b1f341670408fb6fe51050b6e5ceb@thread.skype",
        "teamsTeamId": "19:712c61d0ef384e5fa681ba90ca943398@thread.skype",
        "channel": { "id": "19:253b1f341670408fb6fe51050b6e5ceb@thread.skype" },
        "team": { "id": "19:712c61d0ef384e5fa681ba90ca943398@thread.skype" },
        "tenant": { "id": "72f988bf-86f1-41af-91ab-2d7cd011db47" }
    } 
}`;
}

/**
 * A real HttpRequest carrying exactly `body`, signed with `token` unless an Authorization is given
 * (`null`: none). `search` is the callback URL's query string, read from the URL as in streaming mode.
 */
export function webhookRequest(
  body: Buffer | string,
  options: { token?: string; authorization?: string | null; search?: string } = {},
): HttpRequest {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const authorization =
    options.authorization === undefined ? hmacHeader(options.token ?? CONTOSO_TOKEN, bytes) : options.authorization;
  return new HttpRequest({
    method: 'POST',
    url: `${URL_BASE}${options.search ?? ''}`,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      ...(authorization === null ? {} : { authorization }),
    },
    params: {},
    body: { bytes },
  });
}

export interface ReplyBody {
  type: string;
  text?: string;
  textFormat?: string;
  attachments?: { contentType: string; content: Record<string, unknown> }[];
}
