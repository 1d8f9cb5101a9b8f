import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, mock, test } from 'node:test';

import { outgoingWebhook } from '../../../src/handlers/outgoingWebhook';
import { digestsEqual } from '../../../src/lib/outgoing-webhook/signature';
import { setEnv } from '../../../tools/stand-ins/env';
import { testContext, withEnv } from '../../../tools/stand-ins/functions';
import {
  CONTOSO_TOKEN,
  FABRIKAM_TOKEN,
  hmacHeader,
  type ReplyBody,
  SECRETS_SETTING,
  teamsMessage,
  webhookRequest,
} from './support';

/**
 * Who may talk to the webhook: only a request whose `Authorization: HMAC <digest>` is the HMAC-SHA256
 * of its exact body bytes under a configured security token. Every request here is a real HttpRequest
 * built from exact bytes, answered by the registered handler; `help` needs no storage.
 */

let restoreEnv: () => void;
before(() => {
  restoreEnv = setEnv({ OUTGOING_WEBHOOK_SECRETS: SECRETS_SETTING });
});
after(() => {
  restoreEnv();
});

const HELP = teamsMessage('<at>Expenses</at> help');

async function call(request: ReturnType<typeof webhookRequest>) {
  const { context, logs } = testContext('outgoingWebhook');
  const response = await outgoingWebhook(request, context);
  return { response, logs, reply: response.jsonBody as ReplyBody | undefined };
}

function assertHelp(reply: ReplyBody | undefined): void {
  assert.equal(reply?.type, 'message');
  assert.equal(reply?.textFormat, 'plain');
  assert.match(reply?.text ?? '', /help/);
  assert.match(reply?.text ?? '', /expense <id>/);
}

async function assertRejected(request: ReturnType<typeof webhookRequest>, reason?: string): Promise<void> {
  const { response, logs } = await call(request);
  assert.equal(response.status, 401);
  assert.equal(response.jsonBody, undefined);
  assert.equal(response.body, undefined);
  assert.equal(new Headers(response.headers as Record<string, string>).get('www-authenticate'), 'HMAC');
  const line = logs.find((l) => l.message.startsWith('auth.rejected'));
  assert.ok(line, 'the rejection is logged');
  if (reason) assert.match(line.message, new RegExp(`"reason":"${reason}"`));
  const authorization = request.headers.get('authorization');
  for (const log of logs) {
    if (authorization) assert.ok(!log.message.includes(authorization.slice(5).trim() || '\u0000'), 'no signature in logs');
    assert.ok(!log.message.includes(CONTOSO_TOKEN) && !log.message.includes(FABRIKAM_TOKEN), 'no token in logs');
  }
}

describe('outgoing webhook: signature over the exact bytes', () => {
  test('a Teams message signed with the security token gets 200 and a Bot Framework reply', async () => {
    const { response, reply, logs } = await call(webhookRequest(HELP));
    assert.equal(response.status, 200);
    assertHelp(reply);
    assert.ok(logs.some((l) => /outgoingWebhook\.answered .*"secret":"contoso".*"outcome":"help"/.test(l.message)));
  });

  // Vectors computed with Python's hmac module over these exact bytes, not with the code under test.
  const vectors: [string, string, string][] = [
    ['CRLF line endings', '{\r\n    "type": "message",\r\n    "text": "<at>Expenses</at> help"\r\n}\r\n', 'Y6qaPVJUofFKThGAAei9Aux3d/mlwFxgkmep1m9HbYA='],
    ['trailing spaces', '{"type": "message", "text": "<at>Expenses</at> help"}   ', 'DpcUaAT25U/pkmDRfESXpCQ0n0Ubc51KilLix3wUybQ='],
    ['no final newline', '{"type":"message","text":"<at>Expenses</at> help"}', 'Rxmb4P6u+C2uLtmfNeWUuvkzDTaSaUJPbsbEg+sBdyY='],
    [
      'multi-byte UTF-8',
      '{"type":"message","from":{"name":"Zoë Ångström 日本 😀"},"text":"<at>Expenses</at> help"}\n',
      'WS7tTertnJJ+bfa9ByMh1Jgpso/TmkB/zjb7eL7l8Kk=',
    ],
  ];
  for (const [name, body, digest] of vectors) {
    test(`verifies a precomputed vector: ${name}`, async () => {
      const { response, reply } = await call(webhookRequest(body, { authorization: `HMAC ${digest}` }));
      assert.equal(response.status, 200);
      assertHelp(reply);
    });
  }

  test('a body that JSON re-serialisation would change still verifies (and its re-serialised form does not)', async () => {
    const body = '{ "text" : "<at>Expenses</at> \\u0068elp",\n\t"type":"message", "x": 1.50 }';
    const reserialised = JSON.stringify(JSON.parse(body));
    assert.notEqual(reserialised, body);
    const ok = await call(webhookRequest(body));
    assert.equal(ok.response.status, 200);
    assertHelp(ok.reply);
    await assertRejected(webhookRequest(body, { authorization: hmacHeader(CONTOSO_TOKEN, reserialised) }), 'signature');
  });

  test("Teams' documented example activity, byte for byte as published, verifies", async () => {
    const { response } = await call(webhookRequest(teamsMessage('<at>MyCustomBot</at> help <at>Larry Brown</at>')));
    assert.equal(response.status, 200);
  });

  test('one changed byte anywhere in the body gets 401', async () => {
    const bytes = Buffer.from(HELP, 'utf8');
    const authorization = hmacHeader(CONTOSO_TOKEN, bytes);
    for (const index of [0, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const tampered = Buffer.from(bytes);
      tampered[index] = (tampered[index] as number) ^ 0x01;
      await assertRejected(webhookRequest(tampered, { authorization }), 'signature');
    }
    await assertRejected(webhookRequest(Buffer.concat([bytes, Buffer.from('\n')]), { authorization }), 'signature');
    await assertRejected(webhookRequest(bytes.subarray(0, -1), { authorization }), 'signature');
  });

  test('a signature under a token that is not configured gets 401', async () => {
    await assertRejected(webhookRequest(HELP, { token: crypto.randomBytes(32).toString('base64') }), 'signature');
  });

  test('the token used as text instead of base64-decoded (a common mistake) gets 401', async () => {
    const wrongKey = crypto.createHmac('sha256', CONTOSO_TOKEN).update(HELP).digest('base64');
    await assertRejected(webhookRequest(HELP, { authorization: `HMAC ${wrongKey}` }), 'signature');
  });

  test('an empty body gets 401 even with the HMAC of nothing', async () => {
    await assertRejected(webhookRequest('', { authorization: hmacHeader(CONTOSO_TOKEN, '') }), 'empty-body');
  });
});

describe('outgoing webhook: the Authorization header', () => {
  const digest = hmacHeader(CONTOSO_TOKEN, HELP).slice('HMAC '.length);

  test('the scheme is case-insensitive and may be followed by several spaces (RFC 9110)', async () => {
    for (const authorization of [`hmac ${digest}`, `Hmac ${digest}`, `HMAC   ${digest}`, ` HMAC ${digest} `]) {
      const { response } = await call(webhookRequest(HELP, { authorization }));
      assert.equal(response.status, 200, JSON.stringify(authorization));
    }
  });

  const rejected: [string, string | null, string][] = [
    ['missing', null, 'missing-header'],
    ['empty', '', 'missing-header'],
    ['another scheme', `Bearer ${digest}`, 'malformed-header'],
    ['the digest alone', digest, 'malformed-header'],
    ['HMAC with no value', 'HMAC', 'malformed-header'],
    ['HMAC and a space', 'HMAC ', 'malformed-header'],
    ['a tab instead of a space', `HMAC\t${digest}`, 'malformed-header'],
    ['two values', `HMAC ${digest} ${digest}`, 'malformed-header'],
    ['two headers joined by the fetch API', `HMAC ${digest}, HMAC ${digest}`, 'malformed-header'],
    ['not base64', 'HMAC !!!!not-base64!!!!', 'malformed-signature'],
    ['truncated digest', `HMAC ${digest.slice(0, 40)}`, 'malformed-signature'],
    ['digest without padding', `HMAC ${digest.replace(/=$/, '')}`, 'malformed-signature'],
    ['digest with extra padding', `HMAC ${digest}=`, 'malformed-signature'],
    ['a 16-byte value', `HMAC ${crypto.randomBytes(16).toString('base64')}`, 'malformed-signature'],
    ['a 64-byte value', `HMAC ${crypto.randomBytes(64).toString('base64')}`, 'malformed-signature'],
  ];
  for (const [name, authorization, reason] of rejected) {
    test(`${name} → 401`, async () => {
      await assertRejected(webhookRequest(HELP, { authorization }), reason);
    });
  }

  test('the right digest in the URL-safe alphabet → 401 (Teams sends standard base64)', async () => {
    // Trailing spaces keep the JSON valid; find a body whose digest has a character the alphabets differ in.
    let body = HELP;
    while (!/[+/]/.test(hmacHeader(CONTOSO_TOKEN, body))) body += ' ';
    const urlSafe = hmacHeader(CONTOSO_TOKEN, body).replace(/\+/g, '-').replace(/\//g, '_');
    await assertRejected(webhookRequest(body, { authorization: urlSafe }), 'malformed-signature');
  });

  test('a non-canonical encoding of the right digest (unused low bits set) → 401', async () => {
    // The 43rd character carries 2 unused bits; flipping them decodes to the same 32 bytes.
    const last = digest.charAt(42);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const sibling = alphabet.charAt(alphabet.indexOf(last) + 1);
    const variant = `${digest.slice(0, 42)}${sibling}=`;
    assert.deepEqual(Buffer.from(variant, 'base64'), Buffer.from(digest, 'base64'));
    await assertRejected(webhookRequest(HELP, { authorization: `HMAC ${variant}` }), 'malformed-signature');
  });
});

describe('outgoing webhook: choosing the secret', () => {
  test('without ?id= each configured secret is tried', async () => {
    const contoso = await call(webhookRequest(HELP, { token: CONTOSO_TOKEN }));
    const fabrikam = await call(webhookRequest(HELP, { token: FABRIKAM_TOKEN }));
    assert.equal(contoso.response.status, 200);
    assert.equal(fabrikam.response.status, 200);
    assert.ok(fabrikam.logs.some((l) => /"secret":"fabrikam"/.test(l.message)));
  });

  test('?id= picks one secret: the named one verifies, a valid signature under another does not', async () => {
    const own = await call(webhookRequest(HELP, { token: FABRIKAM_TOKEN, search: '?id=fabrikam' }));
    assert.equal(own.response.status, 200);
    await assertRejected(webhookRequest(HELP, { token: CONTOSO_TOKEN, search: '?id=fabrikam' }), 'signature');
  });

  test('an ?id= that names no secret, an empty one, or two of them → 401', async () => {
    await assertRejected(webhookRequest(HELP, { search: '?id=northwind' }), 'unknown-key-id');
    await assertRejected(webhookRequest(HELP, { search: '?id=' }), 'unknown-key-id');
    await assertRejected(webhookRequest(HELP, { search: '?id=Contoso' }), 'unknown-key-id');
    await assertRejected(webhookRequest(HELP, { search: '?id=contoso&id=fabrikam' }), 'ambiguous-key-id');
  });

  test('a secret rotated in (a second entry) verifies at once, the one removed stops verifying', async () => {
    const next = crypto.randomBytes(32).toString('base64');
    await withEnv({ OUTGOING_WEBHOOK_SECRETS: `contoso:${CONTOSO_TOKEN},contoso-next:${next}` }, async () => {
      assert.equal((await call(webhookRequest(HELP, { token: next }))).response.status, 200);
      assert.equal((await call(webhookRequest(HELP, { token: CONTOSO_TOKEN }))).response.status, 200);
    });
    await withEnv({ OUTGOING_WEBHOOK_SECRETS: `contoso-next:${next}` }, async () => {
      assert.equal((await call(webhookRequest(HELP, { token: next }))).response.status, 200);
      await assertRejected(webhookRequest(HELP, { token: CONTOSO_TOKEN }), 'signature');
    });
  });
});

describe('outgoing webhook: constant-time comparison', () => {
  test('digests are compared with crypto.timingSafeEqual, 32 bytes each', async () => {
    const spy = mock.method(crypto, 'timingSafeEqual');
    try {
      const { response } = await call(webhookRequest(HELP, { token: FABRIKAM_TOKEN }));
      assert.equal(response.status, 200);
      // contoso (no match) then fabrikam (match): every candidate went through the constant-time compare.
      assert.equal(spy.mock.callCount(), 2);
      for (const call of spy.mock.calls) {
        const [a, b] = call.arguments as [Buffer, Buffer];
        assert.equal(a.length, 32);
        assert.equal(b.length, 32);
      }
    } finally {
      spy.mock.restore();
    }
  });

  test('digests of different lengths are unequal without throwing', () => {
    assert.equal(digestsEqual(Buffer.alloc(32), Buffer.alloc(16)), false);
    assert.equal(digestsEqual(Buffer.alloc(32), Buffer.alloc(0)), false);
    assert.equal(digestsEqual(Buffer.alloc(32, 7), Buffer.alloc(32, 7)), true);
  });
});

describe('outgoing webhook: other answers', () => {
  test('a body over 1 MiB gets 413', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    const { response } = await call(webhookRequest(big));
    assert.equal(response.status, 413);
  });

  test('a correctly signed body that is not JSON gets 400 (after verification, never before)', async () => {
    const { response } = await call(webhookRequest('{"type":"message",'));
    assert.equal(response.status, 400);
    await assertRejected(webhookRequest('{"type":"message",', { authorization: `HMAC ${'A'.repeat(43)}=` }), 'signature');
  });

  test('a signed activity that is not a message gets 200 with nothing to post', async () => {
    const { response } = await call(webhookRequest('{"type":"conversationUpdate","membersAdded":[]}'));
    assert.equal(response.status, 200);
    assert.equal(response.jsonBody, undefined);
  });

  test('without OUTGOING_WEBHOOK_SECRETS the endpoint answers 503 and names the setting in the log', async () => {
    await withEnv({ OUTGOING_WEBHOOK_SECRETS: undefined }, async () => {
      const { response, logs } = await call(webhookRequest(HELP));
      assert.equal(response.status, 503);
      assert.ok(logs.some((l) => /feature\.notConfigured .*OUTGOING_WEBHOOK_SECRETS/.test(l.message)));
    });
  });
});
