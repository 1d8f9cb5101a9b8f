import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import type { INetworkModule, NetworkResponse } from '@azure/msal-node';

import { signinCallback } from '../../../src/handlers/signinCallback';
import { signinStart } from '../../../src/handlers/signinStart';
import { featureConfig } from '../../../src/lib/config/settings';
import { redeemSigninCode, setSigninNetworkForTests, signinTicket } from '../../../src/lib/messaging-extension/signin';
import { useAzurite } from '../../support/azurite';
import { setEnv } from '../../../tools/stand-ins/env';
import { httpRequest, testContext, withEnv } from '../../../tools/stand-ins/functions';
import { type LoopbackServer, type RecordedRequest, startLoopbackServer } from '../../../tools/stand-ins/loopback';
import { send } from './requests';
import {
  type Account,
  type BotStandIn,
  extension,
  LARRY,
  PUBLIC_BASE_URL,
  queryActivity,
  startBotStandIn,
  titles,
} from '../../../tools/stand-ins/bot';

/**
 * The sign-in flow end to end: the `auth` answer, the start page, Entra ID (a loopback stand-in for its
 * authorize and token endpoints, reached by the real MSAL through a network client that maps the
 * https authority onto loopback, since MSAL refuses http authorities), the callback page, and the
 * re-sent query whose `state` must equal the stored single-use code.
 */

useAzurite();
const SIGNIN_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad';
const AUTHORITY = 'https://login.test';
let stand: BotStandIn;
let entra: LoopbackServer;
let restoreEnv: () => void;
/** What the stand-in's token endpoint redeems: authorization code → the PKCE challenge and the user. */
const issuedCodes = new Map<string, { challenge: string; oid: string }>();
const tokenRequests: RecordedRequest[] = [];

function entraStandIn(request: RecordedRequest): { status?: number; json?: unknown } {
  const tenant = request.path.split('/')[1] ?? '';
  if (request.path.endsWith('/.well-known/openid-configuration')) {
    return {
      json: {
        issuer: `${AUTHORITY}/${tenant}/v2.0`,
        authorization_endpoint: `${AUTHORITY}/${tenant}/oauth2/v2.0/authorize`,
        token_endpoint: `${AUTHORITY}/${tenant}/oauth2/v2.0/token`,
        end_session_endpoint: `${AUTHORITY}/${tenant}/oauth2/v2.0/logout`,
        jwks_uri: `${AUTHORITY}/${tenant}/discovery/v2.0/keys`,
        response_types_supported: ['code'],
      },
    };
  }
  if (request.method === 'POST' && request.path.endsWith('/oauth2/v2.0/token')) {
    tokenRequests.push(request);
    const form = new URLSearchParams(request.body.toString('utf8'));
    const issued = issuedCodes.get(form.get('code') ?? '');
    const verifier = form.get('code_verifier') ?? '';
    if (!issued || createHash('sha256').update(verifier).digest('base64url') !== issued.challenge || form.get('client_secret') !== 'shh') {
      return { status: 400, json: { error: 'invalid_grant', error_description: 'AADSTS70008: bad code' } };
    }
    issuedCodes.delete(form.get('code') ?? '');
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const idToken = `${b64({ alg: 'RS256', typ: 'JWT', kid: 'k' })}.${b64({
      aud: 'signin-client',
      iss: `${AUTHORITY}/${tenant}/v2.0`,
      iat: now,
      nbf: now,
      exp: now + 3600,
      oid: issued.oid,
      tid: tenant,
      sub: 'sub',
      preferred_username: 'larry@contoso.com',
      name: 'Larry Jin',
    })}.c2ln`;
    return {
      json: {
        token_type: 'Bearer',
        scope: 'openid profile',
        expires_in: 3600,
        ext_expires_in: 3600,
        access_token: 'access-token',
        id_token: idToken,
        client_info: b64({ uid: issued.oid, utid: tenant }),
      },
    };
  }
  return { status: 404 };
}

/** MSAL's network client, with the https authority mapped onto the loopback stand-in. */
const network: INetworkModule = {
  async sendGetRequestAsync<T>(url: string, options?: { headers?: Record<string, string> }): Promise<NetworkResponse<T>> {
    const res = await fetch(url.replace(AUTHORITY, entra.url), { headers: options?.headers ?? {} });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: (await res.json()) as T };
  },
  async sendPostRequestAsync<T>(url: string, options?: { headers?: Record<string, string>; body?: string }): Promise<NetworkResponse<T>> {
    const res = await fetch(url.replace(AUTHORITY, entra.url), { method: 'POST', headers: options?.headers ?? {}, body: options?.body ?? '' });
    return { status: res.status, headers: Object.fromEntries(res.headers), body: (await res.json()) as T };
  },
};

const decode = (text: string): string =>
  text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&#96;/g, '`').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const dataAttribute = (html: string, name: string): string | undefined => {
  const match = new RegExp(`data-${name}="([^"]*)"`).exec(html);
  return match?.[1] === undefined ? undefined : decode(match[1]);
};

async function page(handler: typeof signinStart, route: string, query: Record<string, string>): Promise<{ status: number; html: string; headers: Record<string, string> }> {
  const { context } = testContext(route);
  const url = new URL(`http://localhost:7071/api/${route}`);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const response = await handler(httpRequest({ method: 'GET', url: url.href, query }), context);
  return { status: response.status ?? 200, html: typeof response.body === 'string' ? response.body : '', headers: (response.headers ?? {}) as Record<string, string> };
}

/** The first half of the pop-up: the auth answer, then the start page; returns Entra's authorize URL. */
async function openSignin(from: Account): Promise<URL> {
  const auth = extension(await send(stand, queryActivity('searchPeople', [{ name: 'query', value: 'ada' }], {}, from)));
  assert.equal(auth.type, 'auth');
  const open = auth.suggestedActions?.actions[0];
  assert.equal(open?.type, 'openUrl');
  assert.equal(open?.title, 'Sign in');
  const startUrl = new URL(open?.value ?? '');
  assert.equal(`${startUrl.origin}${startUrl.pathname}`, `${PUBLIC_BASE_URL}/api/signin/start`);

  const start = await page(signinStart, 'signin/start', { ticket: startUrl.searchParams.get('ticket') ?? '' });
  assert.equal(start.status, 200);
  const authorize = new URL(dataAttribute(start.html, 'next') ?? '');
  assert.equal(`${authorize.origin}${authorize.pathname}`, `${AUTHORITY}/${SIGNIN_TENANT}/oauth2/v2.0/authorize`);
  assert.equal(authorize.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(authorize.searchParams.get('redirect_uri'), `${PUBLIC_BASE_URL}/api/signin/callback`);
  assert.equal(authorize.searchParams.get('client_id'), 'signin-client');
  assert.equal(authorize.searchParams.get('response_type'), 'code');
  return authorize;
}

/** Walks a user through the pop-up: auth answer → start page → Entra (as `oid`) → callback page. */
async function signIn(from: Account, oid = from.aadObjectId ?? 'none'): Promise<{ code: string; state: string }> {
  const authorize = await openSignin(from);
  const state = authorize.searchParams.get('state') ?? '';
  // Entra authenticates the user and redirects back with a code for that challenge.
  const code = randomBytes(16).toString('hex');
  issuedCodes.set(code, { challenge: authorize.searchParams.get('code_challenge') ?? '', oid });
  const callback = await page(signinCallback, 'signin/callback', { code, state });
  assert.equal(callback.status, 200, callback.html);
  // That the page hands this code to notifySuccess is seen in a browser: pages-in-browser.test.ts.
  assert.match(callback.html, /authentication\.notifySuccess\(code\)/);
  return { code: dataAttribute(callback.html, 'code') ?? '', state };
}

describe('messaging extension sign-in', () => {
  before(async () => {
    stand = await startBotStandIn();
    entra = await startLoopbackServer(entraStandIn);
    const env = {
      ...stand.env,
      COMPOSE_EXTENSION_SIGNIN: 'entra',
      ENTRA_AUTHORITY_HOST: AUTHORITY,
      SIGNIN_CLIENT_ID: 'signin-client',
      SIGNIN_CLIENT_SECRET: 'shh',
      SIGNIN_TENANT_ID: SIGNIN_TENANT,
    };
    restoreEnv = setEnv(env);
    setSigninNetworkForTests(network);
  });
  after(async () => {
    setSigninNetworkForTests(undefined);
    restoreEnv();
    await Promise.all([stand.server.close(), entra.close()]);
  });

  test('a signed-in user searches once the re-sent query carries the code; the code works once', async () => {
    const { code } = await signIn(LARRY);
    assert.match(code, /^[A-Za-z0-9_-]{43}$/);
    const search = (state?: string, from: Account = LARRY): Promise<ReturnType<typeof extension>> =>
      send(stand, queryActivity('searchPeople', [{ name: 'query', value: 'ada' }], state === undefined ? {} : { state }, from)).then(extension);

    // Another user presenting Larry's code is not signed in by it.
    assert.equal((await search(code, { id: '29:mallory', aadObjectId: '11111111-1111-1111-1111-111111111111' })).type, 'auth');
    // A state that is not the code signs nobody in, and leaves the code usable.
    assert.equal((await search('12345')).type, 'auth');
    assert.equal((await search(`${code}x`)).type, 'auth');
    assert.equal((await search(code)).type, 'result');
    // Signed in now: no state needed any more.
    assert.equal((await search()).type, 'result');
    assert.equal((await send(stand, queryActivity('searchPeople', [{ name: 'query', value: 'ada' }]))).status, 200);
    assert.deepEqual(titles(await send(stand, queryActivity('searchPeople', [{ name: 'query', value: 'zz' }]))), []);
  });

  test('a code is consumed by its first use and expires after 10 minutes', async () => {
    const bob: Account = { id: '29:bob', aadObjectId: '22222222-2222-2222-2222-222222222222' };
    const first = await signIn(bob);
    assert.equal(await redeemSigninCode(bob.id, first.code), true);
    assert.equal(await redeemSigninCode(bob.id, first.code), false, 'single use');

    const carol: Account = { id: '29:carol', aadObjectId: '33333333-3333-3333-3333-333333333333' };
    const second = await signIn(carol);
    assert.equal(await redeemSigninCode(carol.id, second.code, new Date(Date.now() + 11 * 60 * 1000)), false, 'expired');
  });

  test('the callback takes each state once; a replayed or unknown state fails without a code', async () => {
    const dan: Account = { id: '29:dan', aadObjectId: '44444444-4444-4444-4444-444444444444' };
    const { state } = await signIn(dan);
    const code = randomBytes(16).toString('hex');
    issuedCodes.set(code, { challenge: 'irrelevant', oid: dan.aadObjectId ?? '' });
    const replay = await page(signinCallback, 'signin/callback', { code, state });
    assert.equal(replay.status, 401);
    assert.equal(dataAttribute(replay.html, 'code'), undefined);
    assert.match(replay.html, /notifyFailure/);
    const unknown = await page(signinCallback, 'signin/callback', { code, state: randomBytes(32).toString('base64url') });
    assert.equal(unknown.status, 401);
    const declined = await page(signinCallback, 'signin/callback', { error: 'access_denied', state });
    assert.equal(declined.status, 401);
  });

  test('a code Entra refuses (wrong PKCE verifier) or an Entra user other than the Teams user signs nobody in', async () => {
    const erin: Account = { id: '29:erin', aadObjectId: '55555555-5555-5555-5555-555555555555' };
    // Entra signs in somebody else (another oid): 403, and no code.
    const first = await openSignin(erin);
    const otherUsersCode = randomBytes(16).toString('hex');
    issuedCodes.set(otherUsersCode, { challenge: first.searchParams.get('code_challenge') ?? '', oid: '66666666-6666-6666-6666-666666666666' });
    const otherUser = await page(signinCallback, 'signin/callback', { code: otherUsersCode, state: first.searchParams.get('state') ?? '' });
    assert.equal(otherUser.status, 403);
    assert.equal(dataAttribute(otherUser.html, 'code'), undefined);
    // A code issued for another PKCE challenge: Entra answers invalid_grant, the pop-up reports failure.
    const authorize = await openSignin(erin);
    const code = randomBytes(16).toString('hex');
    issuedCodes.set(code, { challenge: 'another-challenge', oid: erin.aadObjectId ?? '' });
    const before = tokenRequests.length;
    const refused = await page(signinCallback, 'signin/callback', { code, state: authorize.searchParams.get('state') ?? '' });
    assert.equal(tokenRequests.length, before + 1, 'the code was presented to Entra with the verifier');
    assert.equal(refused.status, 401);
    assert.equal(dataAttribute(refused.html, 'code'), undefined);
    assert.equal(extension(await send(stand, queryActivity('searchPeople', [], {}, erin))).type, 'auth');
  });

  test('a forged, altered or expired ticket does not start a sign-in', async () => {
    const config = featureConfig('signin');
    const ticket = signinTicket(config, { teamsUserId: LARRY.id });
    const [body, mac] = ticket.split('.');
    const otherBody = Buffer.from(JSON.stringify({ u: 'someone-else', exp: Date.now() + 60_000 })).toString('base64url');
    for (const bad of [`${otherBody}.${mac}`, `${body}.${'A'.repeat(43)}`, '', 'garbage', signinTicket(config, { teamsUserId: LARRY.id }, new Date(Date.now() - 11 * 60 * 1000))]) {
      const start = await page(signinStart, 'signin/start', { ticket: bad });
      assert.equal(start.status, 401, bad);
      assert.equal(dataAttribute(start.html, 'next'), undefined);
    }
  });

  test('without SIGNIN_CLIENT_SECRET the pop-up pages and a query that needs a sign-in answer 503', async () => {
    const ticket = signinTicket(featureConfig('signin'), { teamsUserId: LARRY.id });
    await withEnv({ SIGNIN_CLIENT_SECRET: undefined }, async () => {
      const start = await page(signinStart, 'signin/start', { ticket });
      assert.equal(start.status, 503);
      assert.equal(dataAttribute(start.html, 'next'), undefined);
      assert.equal((await page(signinCallback, 'signin/callback', { code: 'c', state: randomBytes(32).toString('base64url') })).status, 503);
      const stranger: Account = { id: '29:frank', aadObjectId: '77777777-7777-7777-7777-777777777777' };
      assert.equal((await send(stand, queryActivity('searchPeople', [{ name: 'query', value: 'ada' }], {}, stranger))).status, 503);
    });
  });

  test('the pop-up pages load only TeamsJS (pinned by SRI) and their own nonce-bearing script', async () => {
    const ticket = signinTicket(featureConfig('signin'), { teamsUserId: LARRY.id });
    const start = await page(signinStart, 'signin/start', { ticket });
    const csp = start.headers['Content-Security-Policy'] ?? '';
    const nonce = /'nonce-([^']+)'/.exec(csp)?.[1] ?? '';
    assert.ok(nonce.length >= 16);
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.match(start.html, /<script src="https:\/\/res\.cdn\.office\.net\/teams-js\/2\.34\.0\/js\/MicrosoftTeams\.min\.js" integrity="sha384-[^"]+" crossorigin="anonymous"/);
    for (const tag of start.html.match(/<script[^>]*>/g) ?? []) assert.ok(tag.includes(`nonce="${nonce}"`), tag);
    assert.equal(start.headers['Cache-Control'], 'no-store');
  });
});
