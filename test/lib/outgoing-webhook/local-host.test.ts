import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';

import type { LocalHost } from '../../../tools/local-host/host';
import { setEnv } from '../../../tools/stand-ins/env';
import { appModules, startTestHost } from '../../support/local-host';
import { CONTOSO_TOKEN, hmacHeader, type ReplyBody, SECRETS_SETTING, teamsMessage } from './support';

/**
 * The function as registered (`app.http('outgoingWebhook', …)`), served over HTTP by the local host in
 * streaming mode: the app's setup and this one function file, loaded the way the worker loads `main`.
 */
let host: LocalHost;
let restoreEnv: () => void;

before(async () => {
  restoreEnv = setEnv({ OUTGOING_WEBHOOK_SECRETS: SECRETS_SETTING });
  ({ host } = await startTestHost('outgoing-webhook', appModules('outgoingWebhook')));
});

after(async () => {
  await host.stop();
  restoreEnv();
});

/** POSTs `chunks` as separate writes of a chunked request, as a streaming sender would. */
async function post(path: string, chunks: Buffer[], authorization?: string): Promise<{ status: number; body: string }> {
  const request = http.request(`${host.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8', ...(authorization ? { authorization } : {}) },
  });
  for (const chunk of chunks) request.write(chunk);
  request.end();
  const [response] = (await once(request, 'response')) as [http.IncomingMessage];
  const parts: Buffer[] = [];
  for await (const part of response) parts.push(part as Buffer);
  return { status: response.statusCode ?? 0, body: Buffer.concat(parts).toString('utf8') };
}

describe('outgoing webhook through the local host', () => {
  test('a signed message, sent in chunks that split a multi-byte character, gets the help reply', async () => {
    const body = Buffer.from(teamsMessage('<at>Expenses</at> help', { from: 'Zoë 日本 😀' }), 'utf8');
    const split = body.indexOf(Buffer.from('😀', 'utf8')) + 2; // inside the four bytes of the emoji
    const { status, body: text } = await post('/api/outgoing-webhook?id=contoso', [body.subarray(0, split), body.subarray(split)], hmacHeader(CONTOSO_TOKEN, body));
    assert.equal(status, 200);
    const reply = JSON.parse(text) as ReplyBody;
    assert.equal(reply.type, 'message');
    assert.match(reply.text ?? '', /expense <id>/);
  });

  test('the same message with one byte changed gets 401 and an empty body', async () => {
    const body = Buffer.from(teamsMessage('<at>Expenses</at> help'), 'utf8');
    const authorization = hmacHeader(CONTOSO_TOKEN, body);
    body[body.length - 2] = 0x20;
    const { status, body: text } = await post('/api/outgoing-webhook', [body], authorization);
    assert.equal(status, 401);
    assert.equal(text, '');
  });
});
