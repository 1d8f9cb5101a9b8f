import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import type { HttpResponseInit, InvocationContext, HttpRequest } from '@azure/functions';
import fc from 'fast-check';

import { actionableMessage } from '../../src/handlers/actionableMessage';
import { composeExtension } from '../../src/handlers/composeExtension';
import { createExpense } from '../../src/handlers/createExpense';
import { getExpense } from '../../src/handlers/getExpense';
import { graphLifecycle } from '../../src/handlers/graphLifecycle';
import { graphWebhook } from '../../src/handlers/graphWebhook';
import { health } from '../../src/handlers/health';
import { outgoingWebhook } from '../../src/handlers/outgoingWebhook';
import { settingsPage } from '../../src/handlers/settingsPage';
import { signinCallback } from '../../src/handlers/signinCallback';
import { signinStart } from '../../src/handlers/signinStart';
import { issueActionToken } from '../../src/lib/expenses/action-token';
import { listExpensesForUser } from '../../src/lib/expenses/store';
import { escapeHtml } from '../../src/lib/core/escape-html';
import {
  ACTION_TOKEN_KEY,
  APPROVER,
  entraClaims,
  seedExpense,
  settings as actionableSettings,
  type StandIns,
  startStandIns,
} from '../lib/expenses/support';
import { type BotStandIn, botToken, invokeActivity, queryActivity, SERVICE_URL, startBotStandIn } from '../../tools/stand-ins/bot';
import { CLIENT_STATE, userId } from '../lib/graph-sync/setup';
import { CONTOSO_TOKEN, FABRIKAM_TOKEN, hmacHeader, SECRETS_SETTING, teamsMessage } from '../lib/outgoing-webhook/support';
import { useAzurite } from '../support/azurite';
import { setEnv } from '../../tools/stand-ins/env';
import { httpRequest, type LogLine, testContext } from '../../tools/stand-ins/functions';
import { storageSnapshot, watchUnhandledRejections } from '../support/storage-snapshot';

/**
 * Hostile input through every HTTP endpoint, with real HttpRequests from exact bytes, real Azurite, real
 * RS256 tokens from the stand-ins and HMACs computed here. For any client-side input: never a 5xx, never an
 * unhandled rejection; unauthenticated requests write nothing to queues or tables; no configured secret,
 * token or signature sent ever reaches a log line; values echoed into pages are always escaped.
 */

useAzurite();
fc.configureGlobal({ includeErrorInReport: true });
const rejections = watchUnhandledRejections();
const SIGNIN_CLIENT_SECRET = 'signin-secret-7Qm2vX9pL4rT8wZ1';
let am: StandIns;
let bot: BotStandIn;

/** Everything that must never appear in a log line; tokens and signatures sent are added as they are made. */
const secrets = new Set<string>([CLIENT_STATE, CONTOSO_TOKEN, FABRIKAM_TOKEN, ACTION_TOKEN_KEY.toString('base64'), SIGNIN_CLIENT_SECRET]);
const allLogs: LogLine[] = [];
/** Only values long enough to be a token or signature are checked, so that short random strings do not match by chance. */
function sentSecret(value: string | undefined): void {
  const secret = value?.replace(/^\S+ +/, '');
  if (secret && secret.length >= 16) secrets.add(secret);
}

let restoreEnv: () => void;
before(async () => {
  am = await startStandIns();
  bot = await startBotStandIn();
  restoreEnv = setEnv({
    ...actionableSettings(am),
    ...bot.env,
    ENTRA_AUTHORITY_HOST: am.openId.url,
    GRAPH_CLIENT_STATE: CLIENT_STATE,
    NOTIFICATION_QUEUE: 'hardeningqueue',
    OUTGOING_WEBHOOK_SECRETS: SECRETS_SETTING,
    SIGNIN_CLIENT_ID: '0f6a1c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b',
    SIGNIN_CLIENT_SECRET,
    SIGNIN_TENANT_ID: '9188040d-6c67-4c5b-b112-36a304b66dad',
  });
});

after(async () => {
  restoreEnv();
  await Promise.all([am.close(), bot.server.close()]);
});

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

interface Sent {
  method?: string;
  path: string;
  query?: Record<string, string>;
  params?: Record<string, string>;
  headers?: Record<string, string>;
  body?: Buffer;
}

/** One request through the real handler; its log lines are kept for the secrets check. */
async function call(handler: Handler, sent: Sent): Promise<{ status: number; response: HttpResponseInit; logs: LogLine[] }> {
  const url = new URL(`http://localhost:7071/api/${sent.path}`);
  for (const [k, v] of Object.entries(sent.query ?? {})) url.searchParams.set(k, v);
  const { context, logs } = testContext(sent.path);
  const response = await handler(
    httpRequest({
      method: sent.method ?? 'POST',
      url: url.href,
      headers: sent.headers ?? {},
      query: sent.query ?? {},
      params: sent.params ?? {},
      ...(sent.body ? { body: sent.body } : {}),
    }),
    context,
  );
  allLogs.push(...logs);
  return { status: response.status ?? 200, response, logs };
}

/** 2xx or 4xx; 501 only where the contract names it (an invoke the messaging extension does not handle). */
function assertClientAnswer(answer: { status: number; logs: LogLine[] }, what: string, allowed: number[] = []): void {
  const { status } = answer;
  assert.ok(allowed.includes(status) || (status >= 200 && status < 500 && !(status >= 300 && status < 400)), `${what}: status ${status} ${answer.logs.map((l) => l.message).join(' | ')}`);
}

function assertNoSecretLogged(): void {
  for (const line of allLogs) {
    for (const secret of secrets) assert.ok(!line.message.includes(secret), `a secret reached the log: ${line.message.slice(0, 200)}`);
  }
}

// ---------------------------------------------------------------------------------------------------
// Generators of hostile input

const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Random bytes, random JSON, and a real payload truncated, with a byte flipped, or with text spliced in. */
function hostileBody(real: string): fc.Arbitrary<Buffer> {
  const realBytes = bytes(real);
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.json({ maxDepth: 3 }).map(bytes),
    fc.nat(realBytes.length).map((n) => realBytes.subarray(0, n)),
    fc.tuple(fc.nat(realBytes.length - 1), fc.integer({ min: 1, max: 255 })).map(([at, x]) => {
      const copy = Buffer.from(realBytes);
      copy[at] = (copy[at] ?? 0) ^ x;
      return copy;
    }),
    fc.tuple(fc.nat(realBytes.length), fc.string({ maxLength: 20 })).map(([at, text]) =>
      Buffer.concat([realBytes.subarray(0, at), bytes(text), realBytes.subarray(at)]),
    ),
  );
}

/** Header names and values an HTTP client can send (visible ASCII). */
const headerName = fc.stringMatching(/^[a-z][a-z0-9-]{0,14}$/).filter((n) => n !== 'content-length' && n !== 'host');
const headerValue = fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,40}$/);
const randomHeaders = fc.dictionary(headerName, headerValue, { maxKeys: 4 });

/** Query values with markup, quotes, closing tags and non-ASCII text. */
const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "'; alert(1); '", '</main><script>', '&lt;&amp;', 'Zoë </script> «»'),
  fc.tuple(fc.string({ maxLength: 10 }), fc.constantFrom('<', '>', '"', "'", '</', '&', '`'), fc.string({ maxLength: 10 })).map((p) => p.join('')),
);

const realNotification = JSON.stringify({
  value: [
    {
      changeType: 'updated',
      clientState: 'not-the-client-state',
      resource: `Users/${userId(1)}`,
      resourceData: { '@odata.type': '#Microsoft.Graph.User', '@odata.id': `Users/${userId(1)}`, id: userId(1), organizationId: 'org', sequenceNumber: '1' },
      subscriptionId: '0fc0d6db-0073-42e5-a186-853da75fb308',
      tenantId: '84bd8158-6d4d-4958-8b9f-9d6445542f95',
    },
  ],
  validationTokens: ['eyJ0eXAiOiJKV1Qi.eyJhdWQiOiJ.sig'],
});

/** Bearer headers that prove nothing: absent, random, malformed, signed by an unpublished key, tampered. */
async function forgedBearers(sign: (claims?: Record<string, unknown>) => Promise<string>): Promise<fc.Arbitrary<string | undefined>> {
  const good = await sign();
  const [h, p, s] = good.split('.') as [string, string, string];
  const otherClaims = (await sign({ upn: 'mallory@contoso.com', aud: 'other' })).split('.')[1] ?? '';
  return fc.oneof(
    fc.constant(undefined),
    headerValue,
    fc.string({ maxLength: 30 }).map((t) => `Bearer ${t}`),
    fc.constant(`Bearer ${h}.${otherClaims}.${s}`),
    fc.constant(`Bearer ${h}.${p}.${s.slice(0, -4)}AAAA`),
    fc.constant(`Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`),
    fc.constant(`Basic ${good}`),
  );
}

// ---------------------------------------------------------------------------------------------------

describe('Graph endpoints under hostile input', () => {
  test('no 5xx; without the clientState nothing is enqueued; no secret logged', async () => {
    const before = await storageSnapshot();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(graphWebhook, graphLifecycle),
        hostileBody(realNotification),
        randomHeaders,
        fc.option(hostileText, { freq: 4 }),
        async (handler, body, headers, validationToken) => {
          fc.pre(!body.includes(CLIENT_STATE));
          const { status, response, logs } = await call(handler, {
            path: 'graph-webhook',
            headers,
            body,
            ...(validationToken === null ? {} : { query: { validationToken } }),
          });
          assertClientAnswer({ status, logs }, 'graph');
          if (validationToken !== null && /[\p{Cc}]/u.test(validationToken)) {
            assert.equal(status, 400, 'a token with control characters cannot be one');
          } else if (validationToken !== null) {
            assert.equal(status, 200);
            assert.equal(response.body, validationToken);
            assert.match(new Headers(response.headers).get('content-type') ?? '', /^text\/plain/);
          } else {
            assert.ok([202, 400].includes(status), `graph: ${status}`);
          }
        },
      ),
      { numRuns: 120 },
    );
    assert.deepEqual(await storageSnapshot(), before);
    assertNoSecretLogged();
  });

  test('with the right clientState, mutated notifications still get 202 or 400', async () => {
    const real = realNotification.replace('not-the-client-state', CLIENT_STATE);
    await fc.assert(
      fc.asyncProperty(hostileBody(real), async (body) => {
        const { status } = await call(graphWebhook, { path: 'graph-webhook', body });
        assert.ok([202, 400].includes(status), `graph: ${status}`);
      }),
      { numRuns: 60 },
    );
    assertNoSecretLogged();
  });
});

describe('outgoing webhook under hostile input', () => {
  const message = teamsMessage('<at>Expenses</at> adele');

  test('unsigned or wrongly signed requests get 401 (413 at most), write nothing and log no signature', async () => {
    const before = await storageSnapshot();
    const authorization = fc.oneof(
      fc.constant(undefined),
      headerValue,
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((d) => `HMAC ${Buffer.from(d).toString('base64')}`),
      fc.constant(hmacHeader(CONTOSO_TOKEN, 'another body')),
      fc.constant(`HMAC ${CONTOSO_TOKEN}`),
    );
    await fc.assert(
      fc.asyncProperty(hostileBody(message), authorization, fc.option(fc.constantFrom('contoso', 'fabrikam', 'nobody', '')), randomHeaders, async (body, auth, id, headers) => {
        sentSecret(auth);
        const valid = (token: string): boolean => auth === hmacHeader(token, body);
        fc.pre(!valid(CONTOSO_TOKEN) && !valid(FABRIKAM_TOKEN));
        const { status, response } = await call(outgoingWebhook, {
          path: 'outgoing-webhook',
          headers: { ...headers, ...(auth === undefined ? {} : { authorization: auth }) },
          body,
          ...(id === null ? {} : { query: { id } }),
        });
        assert.equal(status, 401);
        assert.equal(response.jsonBody, undefined);
      }),
      { numRuns: 120 },
    );
    assert.deepEqual(await storageSnapshot(), before);
    assertNoSecretLogged();
  });

  test('correctly signed hostile bodies get 200 or 400, never a 5xx', async () => {
    await fc.assert(
      fc.asyncProperty(hostileBody(message), fc.constantFrom(CONTOSO_TOKEN, FABRIKAM_TOKEN), async (body, token) => {
        fc.pre(body.length > 0);
        const auth = hmacHeader(token, body);
        sentSecret(auth);
        const { status } = await call(outgoingWebhook, { path: 'outgoing-webhook', headers: { authorization: auth }, body });
        assert.ok([200, 400].includes(status), `outgoing webhook: ${status}`);
      }),
      { numRuns: 80 },
    );
    assertNoSecretLogged();
  });
});

describe('messaging extension under hostile input', () => {
  const activities = [
    JSON.stringify(queryActivity('searchPeople', [{ name: 'query', value: 'adele' }])),
    JSON.stringify(invokeActivity('composeExtension/setting', { state: '{"department":"Sales"}' })),
    JSON.stringify(invokeActivity('composeExtension/selectItem', { kind: 'person', id: userId(1) })),
    JSON.stringify(invokeActivity('composeExtension/queryLink', { url: 'https://contoso-m365.example.net/api/expenses/E-1' })),
  ];

  test('forged, missing or tampered Bot Framework tokens get 401 and write nothing', async () => {
    const forged = await forgedBearers(async (claims) => botToken(bot, claims));
    const unpublished = await bot.server.addKey({ endorsements: ['msteams'] });
    bot.server.removeKey(unpublished.kid);
    const byUnpublished = `Bearer ${await bot.server.sign({ iss: 'https://api.botframework.com', aud: bot.env.BOT_APP_ID, serviceurl: SERVICE_URL, exp: Math.floor(Date.now() / 1000) + 600 }, { key: unpublished })}`;
    const before = await storageSnapshot();
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...activities).chain(hostileBody), fc.oneof(forged, fc.constant(byUnpublished)), async (body, auth) => {
        sentSecret(auth);
        const answer = await call(composeExtension, {
          path: 'compose-extension',
          headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
          body,
        });
        assert.equal(answer.status, 401, answer.logs.map((l) => l.message).join(' | '));
      }),
      { numRuns: 100 },
    );
    assert.deepEqual(await storageSnapshot(), before);
    assertNoSecretLogged();
  });

  test('validly signed hostile activities never get a 5xx', async () => {
    const token = await botToken(bot, { serviceurl: SERVICE_URL });
    secrets.add(token);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...activities).chain(hostileBody), randomHeaders, async (body, headers) => {
        const answer = await call(composeExtension, {
          path: 'compose-extension',
          headers: { ...headers, authorization: `Bearer ${token}` },
          body,
        });
        assertClientAnswer(answer, 'composeExtension', [501]);
      }),
      { numRuns: 100 },
    );
    assertNoSecretLogged();
  });
});

describe('actionable messages and expenses under hostile input', () => {
  test('clicks without a valid Entra token get 401 and change nothing', async () => {
    const { actionToken } = await seedExpense('EXP-FUZZ-1');
    secrets.add(actionToken);
    const nowSec = Math.floor(Date.now() / 1000);
    const forged = await forgedBearers((claims) => am.openId.sign(entraClaims(claims, nowSec)));
    const click = JSON.stringify({ expenseId: 'EXP-FUZZ-1', decision: 'approve', comment: '', actionToken });
    const before = await storageSnapshot();
    await fc.assert(
      fc.asyncProperty(hostileBody(click), forged, fc.constantFrom('authorization', 'action-authorization'), randomHeaders, async (body, auth, name, headers) => {
        sentSecret(auth);
        const { status, response } = await call(actionableMessage, { path: 'actionable-message', headers: { ...headers, ...(auth ? { [name]: auth } : {}) }, body });
        assert.equal(status, 401);
        assert.ok(new Headers(response.headers).get('CARD-ACTION-STATUS'));
      }),
      { numRuns: 100 },
    );
    assert.deepEqual(await storageSnapshot(), before);
    assertNoSecretLogged();
  });

  test('a valid bearer with hostile click bodies or forged action tokens gets 4xx and changes nothing', async () => {
    await seedExpense('EXP-FUZZ-2');
    const bearer = await am.openId.sign(entraClaims({}, Math.floor(Date.now() / 1000)));
    secrets.add(bearer);
    const forgedActionToken = fc.oneof(
      fc.string({ maxLength: 50 }),
      fc.constant(issueActionToken(Buffer.alloc(32, 9), 'expense-decision', 'EXP-FUZZ-2', APPROVER)),
      fc.constant(issueActionToken(ACTION_TOKEN_KEY, 'expense-decision', 'EXP-OTHER', APPROVER)),
      fc.constant(issueActionToken(ACTION_TOKEN_KEY, 'other-purpose' as 'expense-decision', 'EXP-FUZZ-2', APPROVER)),
    );
    const click = fc.record(
      {
        expenseId: fc.oneof(fc.constant('EXP-FUZZ-2'), fc.string({ maxLength: 70 }), fc.jsonValue()),
        decision: fc.oneof(fc.constantFrom('approve', 'reject', 'APPROVE', ''), fc.jsonValue()),
        comment: fc.oneof(fc.string({ maxLength: 50 }), fc.jsonValue(), fc.string({ minLength: 1001, maxLength: 1100 })),
        actionToken: forgedActionToken,
      },
      { requiredKeys: [] },
    );
    const before = await storageSnapshot();
    await fc.assert(
      fc.asyncProperty(fc.oneof(click.map((c) => bytes(JSON.stringify(c))), hostileBody('{"expenseId":"EXP-FUZZ-2"}')), async (body) => {
        const { status } = await call(actionableMessage, { path: 'actionable-message', headers: { authorization: `Bearer ${bearer}` }, body });
        assert.ok(status >= 400 && status < 500, `actionableMessage: ${status}`);
      }),
      { numRuns: 100 },
    );
    assert.deepEqual(await storageSnapshot(), before);
    assertNoSecretLogged();
  });

  test('an address with characters Table storage refuses in keys (# / ? \\) is stored, indexed and listed', async () => {
    const submitter = 'o#n/e?x\\y%41@contoso.com';
    const body = bytes(JSON.stringify({ id: 'EXP-KEYS', submitter, approver: 'bob@contoso.com', amount: 3, currency: 'EUR', description: 'Keys' }));
    const { status } = await call(createExpense, { path: 'expenses', body });
    assert.equal(status, 201);
    assert.deepEqual((await listExpensesForUser([submitter.toUpperCase()], { skip: 0, count: 5 })).expenses.map((e) => e.id), ['EXP-KEYS']);
    assert.deepEqual((await listExpensesForUser(['o#n/e?x\\yA@contoso.com'], { skip: 0, count: 5 })).expenses, []);
  });

  test('createExpense and getExpense answer any body or id with 2xx or 4xx', async () => {
    const real = JSON.stringify({ id: 'EXP-9', submitter: 'alice@contoso.com', approver: 'bob@contoso.com', amount: 12.5, currency: 'EUR', description: 'Taxi' });
    const fields = fc.record(
      {
        id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), fc.jsonValue()),
        submitter: fc.oneof(fc.emailAddress(), fc.string()),
        approver: fc.oneof(fc.emailAddress(), fc.string()),
        amount: fc.oneof(fc.double(), fc.integer(), fc.string()),
        currency: fc.oneof(fc.constantFrom('EUR', 'jpy', 'KWD', 'XXX', 'EU'), fc.string()),
        description: fc.oneof(fc.string({ maxLength: 30 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(hostileBody(real), fields.map((f) => bytes(JSON.stringify(f)))), async (body) => {
        const { status, logs } = await call(createExpense, { path: 'expenses', body });
        assert.ok([200, 201, 400, 409].includes(status), `createExpense: ${status} ${body.toString('utf8')} ${logs.map((l) => l.message).join(' | ')}`);
      }),
      { numRuns: 80 },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string({ maxLength: 80 }), fc.constant('EXP-9')), async (id) => {
        const { status } = await call(getExpense, { method: 'GET', path: `expenses/${encodeURIComponent(id)}`, params: { id } });
        assert.ok([200, 404].includes(status), `getExpense: ${status}`);
      }),
      { numRuns: 60 },
    );
    assertNoSecretLogged();
  });
});

describe('pages and health under hostile input', () => {
  /** The page with its per-response nonce blanked, so that two answers can be compared. */
  function page(response: HttpResponseInit): string {
    const headers = new Headers(response.headers);
    assert.match(headers.get('content-security-policy') ?? '', /script-src 'nonce-/);
    assert.equal(typeof response.body, 'string');
    return (response.body as string).replace(/nonce(-|=")[A-Za-z0-9+/=]+/g, 'nonce$1N');
  }

  test('settingsPage differs from a plain page only by the escaped department, and carries its CSP', async () => {
    const plain = page((await call(settingsPage, { method: 'GET', path: 'settings', query: { department: 'MARKER' } })).response);
    await fc.assert(
      fc.asyncProperty(hostileText, randomHeaders, async (department, headers) => {
        const { status, response } = await call(settingsPage, { method: 'GET', path: 'settings', query: { department }, headers });
        assert.equal(status, 200);
        assert.equal(page(response), plain.replace('MARKER', () => escapeHtml(department.slice(0, 128))));
        assert.doesNotMatch(escapeHtml(department), /[<>"']/);
      }),
      { numRuns: 150 },
    );
  });

  test('signinStart and signinCallback refuse hostile queries with one fixed page that echoes nothing, writing nothing', async () => {
    const before = await storageSnapshot();
    const refusal = {
      start: page((await call(signinStart, { method: 'GET', path: 'signin/start' })).response),
      callback: page((await call(signinCallback, { method: 'GET', path: 'signin/callback' })).response),
    };
    const query = fc.dictionary(fc.constantFrom('ticket', 'code', 'state', 'error', 'error_description', 'x'), hostileText, { maxKeys: 4 });
    await fc.assert(
      fc.asyncProperty(fc.constantFrom<('start' | 'callback')[]>('start', 'callback'), query, async (which, values) => {
        const handler = which === 'start' ? signinStart : signinCallback;
        const { status, response } = await call(handler, { method: 'GET', path: `signin/${which}`, query: values });
        assert.ok(status >= 400 && status < 500, `signin: ${status}`);
        assert.equal(page(response), refusal[which]);
      }),
      { numRuns: 120 },
    );
    assert.deepEqual(await storageSnapshot(), before);
  });

  test('health answers 200 whatever the headers, naming no setting value', async () => {
    await fc.assert(
      fc.asyncProperty(randomHeaders, async (headers) => {
        const { status, response } = await call(health, { method: 'GET', path: 'health', headers });
        assert.equal(status, 200);
        const text = JSON.stringify(response.jsonBody ?? response.body ?? '');
        for (const secret of secrets) assert.ok(!text.includes(secret));
        assert.ok(!text.includes(am.openId.url));
      }),
      { numRuns: 30 },
    );
  });

  test('no unhandled rejection happened anywhere in this file, and no log line held a secret', () => {
    assert.deepEqual(rejections.seen, []);
    assertNoSecretLogged();
    assert.ok(allLogs.length > 0);
  });
});

