import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { UnauthenticatedError, UnavailableError } from '../../../src/lib/core/errors';
import { bearerToken, OpenIdKeySource, verifyJwt } from '../../../src/lib/clients/openid';
import { type OpenIdServer, startOpenIdServer } from '../../../tools/stand-ins/openid-server';

const NOW = new Date('2026-11-23T12:00:00Z');
const nowSec = Math.floor(NOW.getTime() / 1000);
const AUD = 'api://auth-am-test';
let server: OpenIdServer;

before(async () => {
  server = await startOpenIdServer({ issuerFor: () => 'https://issuer.example' });
});
after(async () => {
  await server.close();
});

function claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { iss: 'https://issuer.example', aud: AUD, iat: nowSec - 60, nbf: nowSec - 60, exp: nowSec + 3600, ...overrides };
}

async function rejects(promise: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof UnauthenticatedError && err.reason === reason);
}

const options = { algorithms: ['RS256'], audience: [AUD], issuer: ['https://issuer.example'], now: NOW };

describe('verifyJwt', () => {
  test('accepts a token signed with a published key and returns its claims and key', async () => {
    const source = new OpenIdKeySource(server.metadataUrl());
    const token = await server.sign(claims({ upn: 'ada@contoso.com' }));
    const verified = await verifyJwt(token, source, options);
    assert.equal(verified.payload.upn, 'ada@contoso.com');
    assert.equal(verified.jwk.kid, server.keys[0]?.kid);
  });

  test('honours 5 minutes of clock skew on exp and nbf, and no more', async () => {
    const source = new OpenIdKeySource(server.metadataUrl());
    await verifyJwt(await server.sign(claims({ exp: nowSec - 299 })), source, options);
    await rejects(verifyJwt(await server.sign(claims({ exp: nowSec - 301 })), source, options), 'expired');
    await verifyJwt(await server.sign(claims({ nbf: nowSec + 299 })), source, options);
    await rejects(verifyJwt(await server.sign(claims({ nbf: nowSec + 301 })), source, options), 'not_yet_valid');
  });

  test('rejects wrong audience and issuer, and tokens without exp', async () => {
    const source = new OpenIdKeySource(server.metadataUrl());
    await rejects(verifyJwt(await server.sign(claims({ aud: 'other' })), source, options), 'audience');
    await rejects(verifyJwt(await server.sign(claims({ iss: 'https://evil.example' })), source, options), 'issuer');
    await rejects(verifyJwt(await server.sign(claims({ exp: undefined })), source, options), 'claim_exp');
  });

  test('rejects alg none, HS256 keyed with the public key, and algorithms outside the allow-list', async () => {
    const source = new OpenIdKeySource(server.metadataUrl());
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const kid = server.keys[0]?.kid;
    const none = `${b64({ alg: 'none', kid })}.${b64(claims())}.`;
    await rejects(verifyJwt(none, source, options), 'algorithm');
    const signingInput = `${b64({ alg: 'HS256', kid })}.${b64(claims())}`;
    const hmac = createHmac('sha256', JSON.stringify(server.keys[0]?.jwk)).update(signingInput).digest('base64url');
    await rejects(verifyJwt(`${signingInput}.${hmac}`, source, options), 'algorithm');
    const rs512 = await server.sign(claims(), { alg: 'RS512', key: await server.addKey({ alg: 'RS512' }) });
    await rejects(verifyJwt(rs512, source, options), 'algorithm');
    await verifyJwt(rs512, source, { ...options, algorithms: ['RS256', 'RS384', 'RS512'] });
  });

  test('rejects a signature that does not match', async () => {
    const source = new OpenIdKeySource(server.metadataUrl());
    const token = await server.sign(claims());
    const [h, p] = token.split('.');
    const other = await server.sign(claims({ upn: 'someone-else' }));
    await rejects(verifyJwt(`${h}.${p}.${other.split('.')[2]}`, source, options), 'signature');
  });
});

describe('OpenIdKeySource', () => {
  test('an unknown kid refreshes the keys at most once per cooldown, then fails closed', async () => {
    let clock = 0;
    const source = new OpenIdKeySource(server.metadataUrl(), { unknownKidCooldownMs: 60_000, now: () => clock });
    await source.metadata();
    const fetchesBefore = server.requests.filter((r) => r.path === '/keys').length;
    for (let i = 0; i < 20; i++) {
      await assert.rejects(source.key(`random-${i}`), UnauthenticatedError);
    }
    assert.equal(server.requests.filter((r) => r.path === '/keys').length - fetchesBefore, 1);
    // A key Microsoft publishes later is picked up once the cooldown has passed: rotation without restart.
    const rotated = await server.addKey();
    await assert.rejects(source.key(rotated.kid), UnauthenticatedError);
    clock += 60_000;
    const { jwk } = await source.key(rotated.kid);
    assert.equal(jwk.kid, rotated.kid);
  });

  test('keeps using cached keys when the key endpoint is down, and is unavailable with none', async () => {
    const provider = await startOpenIdServer({ issuerFor: () => 'https://issuer.example' });
    const token = await provider.sign(claims());
    let clock = 0;
    const source = new OpenIdKeySource(provider.metadataUrl(), { refreshIntervalMs: 1000, now: () => clock });
    const neverFetched = new OpenIdKeySource(provider.metadataUrl(), { fetchTimeoutMs: 1000 });
    await verifyJwt(token, source, options);
    await provider.close();
    clock += 5000; // the keys are stale and the refresh fails: the cached ones still verify
    await verifyJwt(token, source, options);
    await assert.rejects(verifyJwt(token, neverFetched, options), UnavailableError);
  });
});

describe('bearerToken', () => {
  test('takes the token of a Bearer header and rejects anything else', () => {
    assert.equal(bearerToken('Bearer a.b.c'), 'a.b.c');
    assert.equal(bearerToken('bearer a.b.c'), 'a.b.c');
    assert.throws(() => bearerToken(null), UnauthenticatedError);
    assert.throws(() => bearerToken('Basic a.b.c'), UnauthenticatedError);
    assert.throws(() => bearerToken('Bearer a.b'), UnauthenticatedError);
    assert.throws(() => bearerToken('Bearer a.b.c extra'), UnauthenticatedError);
  });
});
