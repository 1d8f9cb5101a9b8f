import assert from 'node:assert/strict';
import { createHmac, KeyObject, sign as rsaSign, type webcrypto } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import fc from 'fast-check';

import { ACTIONABLE_MESSAGES_APP_ID, verifyActionableMessageCaller } from '../../src/lib/expenses/outlook-token';
import { parseBotActivity, tokenBoundFields } from '../../src/lib/messaging-extension/activity';
import { verifyBotRequest } from '../../src/lib/messaging-extension/bot-token';
import { parseSettingsState } from '../../src/lib/messaging-extension/store';
import { featureConfig } from '../../src/lib/config/settings';
import { AppError, BadRequestError, UnauthenticatedError } from '../../src/lib/core/errors';
import { MAX_COMMENT_LENGTH, parseCardAction } from '../../src/lib/expenses/approval';
import { parseNewExpense } from '../../src/lib/expenses/store';
import {
  classifyNotification,
  parseNotificationCollection,
  queueMessagesFor,
  validationResponse,
} from '../../src/lib/graph-sync/notifications';
import { USER_IDS_PER_MESSAGE } from '../../src/lib/graph-sync/queue-message';
import { parseJsonBytes } from '../../src/lib/core/http';
import { parseWebhookActivity, parseCommand, commandText } from '../../src/lib/outgoing-webhook/activity';
import { claimedDigest, verifyOutgoingWebhook } from '../../src/lib/outgoing-webhook/signature';
import { encodeQueueMessage, MAX_QUEUE_MESSAGE_BYTES } from '../../src/lib/clients/storage';
import { AUDIENCE, CLIENT_ID, entraClaims, entraIssuerFor, TENANT } from './expenses/support';
import { BOT_APP_ID, BOT_ISSUER, type BotStandIn, botClaims, SERVICE_URL, startBotStandIn } from '../../tools/stand-ins/bot';
import { type OpenIdServer, type SigningKey, startOpenIdServer } from '../../tools/stand-ins/openid-server';

/**
 * Every parser and verifier of inbound payloads over generated input: each returns a typed value or throws
 * the AppError that becomes its 4xx, never anything else; what it accepts is what the protocol allows.
 */

fc.configureGlobal({ includeErrorInReport: true });

/** Runs `fn`; any throw must be an AppError with a 4xx status (the given class when named). */
function returnsOr4xx<T>(fn: () => T, kind: abstract new (...args: never[]) => AppError = AppError): T | undefined {
  try {
    return fn();
  } catch (err) {
    assert.ok(err instanceof kind, `threw ${String(err)}`);
    assert.ok(err.status >= 400 && err.status < 500);
    return undefined;
  }
}

const guid = fc.uuid({ version: 4 });
const anyJson = fc.jsonValue({ maxDepth: 3 });

describe('Graph notification payloads', () => {
  const notification = fc.record(
    {
      changeType: fc.oneof(fc.constantFrom('created', 'updated', 'deleted', 'Updated', ''), anyJson),
      clientState: fc.string(),
      resource: fc.oneof(guid.map((id) => `Users/${id}`), guid.map((id) => `/users/${id.toUpperCase()}`), fc.string()),
      resourceData: fc.record(
        {
          '@odata.type': fc.constantFrom('#Microsoft.Graph.User', '#microsoft.graph.user', '#Microsoft.Graph.Group'),
          id: fc.oneof(guid, guid.map((g) => g.toUpperCase()), fc.string()),
          organizationId: guid,
          sequenceNumber: fc.oneof(fc.integer(), fc.integer().map(String)),
        },
        { requiredKeys: [] },
      ),
      lifecycleEvent: fc.constantFrom('reauthorizationRequired', 'subscriptionRemoved', 'missed', 'other'),
      subscriptionId: guid,
      tenantId: guid,
      organizationId: guid,
      subscriptionExpirationDateTime: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    },
    { requiredKeys: [] },
  );

  test('each item is classified as the protocol says, whatever sequenceNumber and tenant field it carries', () => {
    fc.assert(
      fc.property(notification, (item) => {
        const result = classifyNotification(item);
        const data = (item.resourceData ?? {}) as Record<string, unknown>;
        const tenant = item.tenantId ?? item.organizationId ?? data.organizationId;
        if (item.lifecycleEvent !== undefined) {
          const known = item.lifecycleEvent !== 'other' && item.subscriptionId !== undefined;
          assert.equal(result.kind, known ? 'lifecycle' : 'ignored');
          if (result.kind === 'lifecycle') assert.equal(result.tenantId, tenant);
          return;
        }
        const odataType = data['@odata.type'];
        const isUser = odataType === undefined || (typeof odataType === 'string' && odataType.toLowerCase() === '#microsoft.graph.user');
        const fromResource = typeof item.resource === 'string' ? /^\/?users\/([^/]+)$/i.exec(item.resource)?.[1] : undefined;
        const id = typeof data.id === 'string' && data.id !== '' ? data.id : fromResource;
        const expected =
          typeof item.changeType === 'string' && ['created', 'updated', 'deleted'].includes(item.changeType) && isUser && id !== undefined && /^[0-9a-f-]{36}$/i.test(id);
        assert.equal(result.kind, expected ? 'change' : 'ignored', JSON.stringify(result));
        if (result.kind === 'change') {
          assert.equal(result.userId, id?.toLowerCase());
          assert.equal(result.tenantId, tenant);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('a collection (validationTokens beside value allowed) parses, or is a 400; its users fit few queue messages', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.record({ value: fc.array(notification, { maxLength: 30 }), validationTokens: fc.array(fc.string(), { maxLength: 2 }) }, { requiredKeys: ['value'] }),
          anyJson,
        ),
        (body) => {
          const items = returnsOr4xx(() => parseNotificationCollection(body), BadRequestError);
          if (!items) return;
          const accepted = items.map(classifyNotification).filter((n) => n.kind !== 'ignored');
          const messages = queueMessagesFor(accepted);
          const ids = new Set(accepted.flatMap((n) => (n.kind === 'change' ? [n.userId] : [])));
          const queued = messages.flatMap((m) => (m.type === 'userChanges' ? m.userIds : []));
          assert.deepEqual(new Set(queued), ids);
          assert.equal(queued.length, ids.size, 'each user once');
          for (const m of messages) {
            if (m.type === 'userChanges') assert.ok(m.userIds.length <= USER_IDS_PER_MESSAGE);
            assert.ok(Buffer.byteLength(encodeQueueMessage(m)) <= MAX_QUEUE_MESSAGE_BYTES);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  test('a validation token is echoed exactly, or refused when it cannot be one (control characters, too long)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (token) => {
        const response = returnsOr4xx(() => validationResponse(token), BadRequestError);
        if (response) assert.equal(response.body, token);
        else assert.ok([...token].some((c) => c < ' ' || c === '\u007f'));
      }),
      { numRuns: 300 },
    );
  });
});

describe('Teams activities', () => {
  test('any JSON is a Bot Framework activity or a 400; token-bound fields are read without throwing', () => {
    const invoke = fc.record(
      {
        type: fc.oneof(fc.constantFrom('invoke', 'message'), anyJson),
        name: fc.oneof(
          fc.constantFrom('composeExtension/query', 'composeExtension/querySettingUrl', 'composeExtension/selectItem', 'composeExtension/queryLink', 'composeExtension/setting', 'x'),
          anyJson,
        ),
        value: fc.oneof(
          fc.record(
            {
              commandId: fc.oneof(fc.constantFrom('searchPeople', 'searchExpenses'), anyJson),
              parameters: fc.oneof(fc.array(fc.record({ name: fc.string(), value: anyJson })), anyJson),
              queryOptions: fc.record({ skip: anyJson, count: fc.oneof(fc.integer(), anyJson) }, { requiredKeys: [] }),
              state: anyJson,
              url: anyJson,
            },
            { requiredKeys: [] },
          ),
          anyJson,
        ),
        serviceUrl: fc.oneof(fc.constant(SERVICE_URL), anyJson),
        channelId: fc.oneof(fc.constant('msteams'), anyJson),
        from: fc.oneof(fc.record({ id: fc.string(), aadObjectId: fc.oneof(guid, anyJson) }), anyJson),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(invoke, anyJson), (body) => {
        const bound = tokenBoundFields(body);
        for (const value of Object.values(bound)) assert.equal(typeof value, 'string');
        const parsed = returnsOr4xx(() => parseBotActivity(body), BadRequestError);
        if (parsed?.kind === 'composeExtension' && parsed.activity.name === 'composeExtension/query') {
          const { skip, count } = parsed.activity.value.queryOptions;
          assert.ok(Number.isInteger(skip) && skip >= 0 && count >= 1 && count <= 25);
        }
      }),
      { numRuns: 1000 },
    );
  });

  test('any verified body is an outgoing-webhook activity or a 400; any text yields a command', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
          fc.record({ type: fc.oneof(fc.constant('message'), anyJson), text: anyJson, id: anyJson }, { requiredKeys: [] }).map((a) => Buffer.from(JSON.stringify(a))),
        ),
        fc.string({ unit: 'grapheme', maxLength: 80 }),
        (body, text) => {
          const activity = returnsOr4xx(() => parseWebhookActivity(body), BadRequestError);
          if (activity?.type === 'message') assert.equal(typeof activity.text, 'string');
          const command = parseCommand(commandText(`<at>Expenses</at> ${text}`));
          assert.ok(['help', 'expense', 'expenseUsage', 'people'].includes(command.name), JSON.stringify(command));
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('HMAC headers', () => {
  const secrets = [
    { name: 'contoso', key: Buffer.alloc(32, 1) },
    { name: 'fabrikam', key: Buffer.alloc(32, 2) },
  ];
  const sign = (key: Buffer, body: Buffer): string => createHmac('sha256', key).update(body).digest('base64');

  test('a header yields a 32-byte digest only when it is HMAC + canonical base64 of 32 bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 60 }),
          fc.tuple(fc.constantFrom('HMAC', 'hmac', 'Hmac', 'HMAC-SHA256', 'Bearer'), fc.constantFrom(' ', '  ', '\t', ''), fc.uint8Array({ minLength: 30, maxLength: 34 })).map(
            ([scheme, space, digest]) => `${scheme}${space}${Buffer.from(digest).toString('base64')}`,
          ),
          fc.uint8Array({ minLength: 32, maxLength: 32 }).map((d) => `HMAC ${Buffer.from(d).toString('base64url')}`),
        ),
        (header) => {
          const digest = returnsOr4xx(() => claimedDigest(header), UnauthenticatedError);
          if (digest) {
            assert.equal(digest.length, 32);
            assert.match(header.trim(), /^hmac +[A-Za-z0-9+/]{43}=$/i);
            assert.equal(digest.toString('base64'), header.trim().split(/ +/)[1]);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });

  test('only the exact bytes under a candidate secret verify; one flipped byte or another id does not', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
        fc.constantFrom(0, 1),
        fc.option(fc.constantFrom('contoso', 'fabrikam', 'nobody')),
        fc.nat(),
        (body, which, id, at) => {
          const secret = secrets[which] as (typeof secrets)[number];
          const header = `HMAC ${sign(secret.key, body)}`;
          const ids = id === null ? [] : [id];
          const name = returnsOr4xx(() => verifyOutgoingWebhook(body, header, ids, secrets), UnauthenticatedError);
          assert.equal(name, id === null || id === secret.name ? secret.name : undefined);
          const flipped = Buffer.from(body);
          flipped[at % body.length] = (flipped[at % body.length] ?? 0) ^ 1;
          assert.equal(returnsOr4xx(() => verifyOutgoingWebhook(flipped, header, ids, secrets), UnauthenticatedError), undefined);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('card click bodies, expenses and settings values', () => {
  test('a click body is an ApprovalClick with the fields it carried, or a 400 naming the bad ones', () => {
    const click = fc.record(
      {
        expenseId: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), anyJson),
        decision: fc.oneof(fc.constantFrom('approve', 'reject'), anyJson),
        comment: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('{{comment.value}}'), fc.string({ minLength: 990, maxLength: 1010 }), anyJson),
        actionToken: fc.oneof(fc.string({ maxLength: 30 }), anyJson),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(click, anyJson), (body) => {
        try {
          const action = parseCardAction(body);
          const record = body as Record<string, unknown>;
          assert.equal(action.expenseId, record.expenseId);
          assert.equal(action.decision, record.decision);
          assert.equal(action.actionToken, record.actionToken);
          assert.ok((action.comment?.length ?? 0) <= MAX_COMMENT_LENGTH);
          assert.notEqual(action.comment, '{{comment.value}}');
        } catch (err) {
          assert.ok(err instanceof BadRequestError, String(err));
          assert.ok(err.fields.length > 0);
        }
      }),
      { numRuns: 800 },
    );
  });

  test('an expense body is a NewExpense or a 400 listing fields; the settings state is a department or a 400', () => {
    const expense = fc.record(
      {
        id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), anyJson),
        submitter: fc.oneof(fc.emailAddress(), anyJson),
        approver: fc.oneof(fc.emailAddress(), anyJson),
        amount: fc.oneof(fc.double(), fc.integer({ min: -5, max: 1e9 }), anyJson),
        currency: fc.oneof(fc.constantFrom('EUR', 'eur', 'JPY', 'KWD', 'XYZ'), anyJson),
        description: fc.oneof(fc.string({ maxLength: 30 }), anyJson),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(expense, anyJson), fc.oneof(fc.string(), fc.record({ department: anyJson }).map((v) => JSON.stringify(v))), (body, state) => {
        const parsed = returnsOr4xx(() => parseNewExpense(body), BadRequestError);
        if (parsed) assert.ok(parsed.amount > 0 && Number.isFinite(parsed.amount) && /^[A-Z]{3}$/.test(parsed.currency));
        const settings = returnsOr4xx(() => parseSettingsState(state), BadRequestError);
        if (settings?.department !== undefined) assert.ok(settings.department.length > 0 && settings.department.length <= 128);
      }),
      { numRuns: 800 },
    );
  });

  test('any bytes either parse as JSON or are a 400', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        returnsOr4xx(() => parseJsonBytes(Buffer.from(bytes)), BadRequestError);
      }),
      { numRuns: 500 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Tokens: valid tokens with mutated claims and headers, signed with the published key

/** Up to two claims removed or replaced with a generated value (of the claim's kind, or any JSON). */
function mutatedClaims(base: Record<string, unknown>, alternatives: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const names = Object.keys({ ...base, ...alternatives });
  const mutation = fc
    .constantFrom(...names)
    .chain((name) => fc.tuple(fc.constant(name), fc.option(fc.oneof(alternatives[name] ?? anyJson, anyJson), { nil: undefined, freq: 4 })));
  return fc.array(mutation, { maxLength: 2 }).map((changes) => {
    const claims: Record<string, unknown> = { ...base };
    for (const [name, value] of changes) {
      if (value === undefined) delete claims[name];
      else claims[name] = value;
    }
    return claims;
  });
}

const headerMutations = fc.option(fc.record(
  {
    typ: fc.oneof(fc.constantFrom('JWT', 'at+jwt'), anyJson),
    kid: fc.oneof(fc.string(), anyJson),
    jku: fc.constant('https://evil.example/keys'),
    x5u: fc.constant('https://evil.example/cert'),
    crit: fc.constant(['exp']),
  },
  { requiredKeys: [] },
), { nil: {}, freq: 2 });

/** RS256 over any header (jose's signer refuses some, such as an unknown `crit`, that an attacker may send). */
function signRaw(header: Record<string, unknown>, claims: Record<string, unknown>, key: SigningKey): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${part({ alg: 'RS256', kid: key.kid, typ: 'JWT', ...header })}.${part(claims)}`;
  const privateKey = key.privateKey instanceof KeyObject ? key.privateKey : KeyObject.from(key.privateKey as unknown as webcrypto.CryptoKey);
  return `${input}.${rsaSign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

describe('Bot Framework and Entra tokens with mutated claims and headers', () => {
  let stand: BotStandIn;
  let entra: OpenIdServer;
  before(async () => {
    stand = await startBotStandIn();
    entra = await startOpenIdServer({ issuerFor: entraIssuerFor });
  });
  after(async () => {
    await Promise.all([stand.server.close(), entra.close()]);
  });

  /** A token is either accepted, and then every rule held, or refused with a 401 (never another error). */
  async function acceptedOr401<T>(verify: () => Promise<T>): Promise<T | undefined> {
    try {
      return await verify();
    } catch (err) {
      assert.ok(err instanceof UnauthenticatedError, `threw ${String(err)}`);
      return undefined;
    }
  }

  test('Bot Framework: only tokens meeting every rule are accepted', async () => {
    const config = featureConfig('composeExtension', { ...stand.env });
    const now = Math.floor(Date.now() / 1000);
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        mutatedClaims(botClaims(), {
          iss: fc.constantFrom(BOT_ISSUER, 'https://sts.windows.net/x/', `${BOT_ISSUER}/`),
          aud: fc.oneof(fc.constantFrom(BOT_APP_ID, 'other', BOT_APP_ID.toUpperCase()), fc.constant([BOT_APP_ID, 'x'])),
          exp: fc.oneof(fc.integer({ min: now - 1000, max: now + 1000 }), fc.string()),
          nbf: fc.integer({ min: now - 1000, max: now + 1000 }),
          serviceurl: fc.constantFrom(SERVICE_URL, SERVICE_URL.toUpperCase(), 'https://evil.example/'),
        }),
        headerMutations,
        async (claims, header) => {
          const token = signRaw(header, claims, stand.teamsKey);
          const verified = await acceptedOr401(() =>
            verifyBotRequest({ authorization: `Bearer ${token}`, serviceUrl: SERVICE_URL, channelId: 'msteams' }, config, new Date(now * 1000)),
          );
          if (!verified) return;
          accepted++;
          assert.equal(claims.iss, BOT_ISSUER);
          assert.equal(claims.aud, BOT_APP_ID, 'one audience, not a list');
          assert.equal(claims.serviceurl, SERVICE_URL);
          assert.ok(typeof claims.exp === 'number' && claims.exp > now - 300);
          assert.ok(claims.nbf === undefined || (claims.nbf as number) <= now + 300);
          assert.equal((header as { crit?: unknown }).crit, undefined, 'an unknown critical header must be refused');
        },
      ),
      { numRuns: 120 },
    );
    assert.ok(accepted > 0, 'some generated tokens were valid');
  });

  test('Entra (actionable messages): only tokens meeting every rule are accepted', async () => {
    const config = featureConfig('actionableMessages', {
      PUBLIC_BASE_URL: 'https://contoso-m365.azurewebsites.net',
      ENTRA_AUTHORITY_HOST: entra.url,
      ACTIONABLE_MESSAGE_AUDIENCE: `${AUDIENCE},${CLIENT_ID}`,
      ACTIONABLE_MESSAGE_SENDER: 'expenses@contoso.com',
      ACTION_TOKEN_KEY: Buffer.alloc(32, 7).toString('base64'),
    });
    const now = new Date('2026-11-23T12:00:00Z');
    const nowSec = now.getTime() / 1000;
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(
        mutatedClaims(entraClaims({}, nowSec), {
          aud: fc.constantFrom(AUDIENCE, CLIENT_ID, 'api://other'),
          iss: fc.constantFrom(`https://sts.windows.net/${TENANT}/`, `https://login.microsoftonline.com/${TENANT}/v2.0`, 'https://sts.windows.net/11111111-2222-4333-8444-555555555555/'),
          appid: fc.constantFrom(ACTIONABLE_MESSAGES_APP_ID, '00000000-0000-0000-0000-000000000000'),
          azp: fc.constantFrom(ACTIONABLE_MESSAGES_APP_ID, '00000000-0000-0000-0000-000000000000'),
          tid: fc.constantFrom(TENANT, '11111111-2222-4333-8444-555555555555'),
          exp: fc.integer({ min: nowSec - 1000, max: nowSec + 1000 }),
          upn: fc.oneof(fc.emailAddress(), anyJson),
        }),
        headerMutations,
        async (claims, header) => {
          const token = signRaw(header, claims, entra.keys[0] as SigningKey);
          const caller = await acceptedOr401(() =>
            verifyActionableMessageCaller(new Headers({ authorization: `Bearer ${token}` }), config, { now }),
          );
          if (!caller) return;
          accepted++;
          assert.ok([AUDIENCE, CLIENT_ID].includes(claims.aud as string));
          assert.ok(claims.appid === ACTIONABLE_MESSAGES_APP_ID || claims.azp === ACTIONABLE_MESSAGES_APP_ID);
          assert.equal(claims.tid, TENANT);
          assert.ok([`https://sts.windows.net/${TENANT}/`, `https://login.microsoftonline.com/${TENANT}/v2.0`].includes(claims.iss as string));
          assert.ok(typeof claims.exp === 'number' && claims.exp > nowSec - 300);
          assert.equal((header as { crit?: unknown }).crit, undefined);
          assert.equal(typeof caller.performer, 'string');
        },
      ),
      { numRuns: 120 },
    );
    assert.ok(accepted > 0, 'some generated tokens were valid');
  });
});
