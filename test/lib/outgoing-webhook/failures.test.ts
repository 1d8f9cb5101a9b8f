import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { outgoingWebhook } from '../../../src/handlers/outgoingWebhook';
import { answerCommand } from '../../../src/lib/outgoing-webhook/answers';
import { connectionStringFor } from '../../../tools/azurite';
import { testContext, withEnv } from '../../../tools/stand-ins/functions';
import { type ReplyBody, SECRETS_SETTING, teamsMessage, webhookRequest } from './support';

/**
 * When storage fails or stalls, Teams still gets a 200 with an apology it can show (an error status
 * would only show Teams' own "something went wrong"), and the failure is logged. Storage here is a
 * loopback stand-in: one that refuses every request, one that never answers.
 */

type Behaviour = 'refuse' | 'stall';
let behaviour: Behaviour = 'refuse';
const seen: string[] = [];
const stalled: http.ServerResponse[] = [];
const refuse = (res: http.ServerResponse): void => {
  res
    .writeHead(403, { 'content-type': 'application/json' })
    .end(JSON.stringify({ 'odata.error': { code: 'AuthorizationFailure', message: { lang: 'en-US', value: 'refused' } } }));
};
const server = http.createServer((req, res) => {
  seen.push(`${req.method ?? ''} ${req.url ?? ''}`);
  req.resume();
  if (behaviour === 'refuse') return refuse(res);
  stalled.push(res); // answered only when the file ends
  server.emit('stalled');
});

let storage: string;
before(async () => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  storage = connectionStringFor({ blob: port, queue: port, table: port });
});
after(async () => {
  // A refusal, not a dropped connection, so that the abandoned lookups end instead of retrying.
  stalled.forEach(refuse);
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

async function ask(text: string): Promise<{ reply: ReplyBody; logs: string[] }> {
  const { context, logs } = testContext('outgoingWebhook');
  const response = await withEnv({ OUTGOING_WEBHOOK_SECRETS: SECRETS_SETTING, AzureWebJobsStorage: storage }, () =>
    outgoingWebhook(webhookRequest(teamsMessage(text)), context),
  );
  assert.equal(response.status, 200);
  return { reply: response.jsonBody as ReplyBody, logs: logs.map((l) => `${l.level} ${l.message}`) };
}

describe('outgoing webhook: storage failures', () => {
  test('the directory refuses: an apology, and the failure logged as an error', async () => {
    behaviour = 'refuse';
    const { reply, logs } = await ask('<at>Expenses</at> adele');
    assert.equal(reply.type, 'message');
    assert.match(reply.text ?? '', /can't reach the people directory/);
    assert.ok(seen.length > 0, 'storage was asked');
    assert.ok(logs.some((l) => /^error outgoingWebhook\.lookupFailed .*"store":"directory"/.test(l)));
    assert.ok(logs.some((l) => /"outcome":"directoryUnavailable"/.test(l)));
  });

  test('the expense store refuses: an apology, and the failure logged', async () => {
    behaviour = 'refuse';
    const { reply, logs } = await ask('<at>Expenses</at> expense EXP-1');
    assert.match(reply.text ?? '', /can't reach the expense records/);
    assert.ok(logs.some((l) => /^error outgoingWebhook\.lookupFailed .*"store":"expenses"/.test(l)));
  });

  test('the directory never answers: the handler still answers, with an apology, inside its budget', async () => {
    behaviour = 'stall';
    const stalled = once(server, 'stalled');
    const { reply, logs } = await ask('<at>Expenses</at> megan');
    await stalled;
    assert.match(reply.text ?? '', /can't reach the people directory/);
    assert.ok(logs.some((l) => /lookupFailed .*no answer within 3500 ms/.test(l)));
  });

  test('the expense store never answers: the lookup gives up after the budget it is given', async () => {
    behaviour = 'stall';
    const { context, logs } = testContext('outgoingWebhook');
    const answer = await withEnv({ AzureWebJobsStorage: storage }, () =>
      answerCommand({ name: 'expense', id: 'EXP-2' }, 'c8a7a3b2-9f0e-4d7b-8a54-2f1a0b9c6d11', context, 100),
    );
    assert.equal(answer.outcome, 'expenseUnavailable');
    assert.ok(logs.some((l) => /no answer within 100 ms/.test(l.message)));
  });
});
