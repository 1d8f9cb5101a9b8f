import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

import type { ConfidentialClientApplication, INetworkModule } from '@azure/msal-node';

import { composeExtensionTable, userKey } from './store';
import type { SigninConfig } from '../config/settings';
import { ensureError, ForbiddenError, UnauthenticatedError, UpstreamError } from '../core/errors';
import { deleteEntityIfUnchanged, getEntityIfExists, withStorage } from '../clients/storage';

/**
 * Sign-in for the messaging extension (COMPOSE_EXTENSION_SIGNIN=entra), Teams' "custom OAuth with a
 * security code" flow:
 *
 * 1. a query from a user who is not signed in gets `type: auth` opening `/api/signin/start?ticket=…`; the
 *    ticket names the Teams user (hashed) and is HMACed with a key derived from the sign-in app's secret,
 *    so the pop-up cannot be started for somebody else, and expires after 10 minutes;
 * 2. `signinStart` checks the ticket, keeps a PKCE verifier under a random, single-use `state` in Table
 *    storage, and sends the browser to Entra ID (authorization code + PKCE, built by MSAL);
 * 3. `signinCallback` takes that `state` once, redeems the code with the verifier (MSAL), requires the
 *    signed-in Entra user to be the Teams user, stores the SHA-256 of a fresh random code for the Teams
 *    user (10 minutes) and hands the code to `microsoftTeams.authentication.notifySuccess`;
 * 4. Teams re-sends the query with `state` = that code; only an equal, unexpired, unused code signs the
 *    user in, and it is consumed by a conditional delete, so it works once.
 */

const SIGNIN_TTL_MS = 10 * 60 * 1000;

// ---------------------------------------------------------------------------------------------------
// The ticket in the sign-in link

export interface TicketSubject {
  /** The Teams `from.id`. */
  teamsUserId: string;
  /** The Teams `from.aadObjectId`: when present, the Entra user who signs in must be this one. */
  aadObjectId?: string;
}

interface TicketClaims {
  u: string;
  o?: string;
  exp: number;
}

const ticketKeys = new WeakMap<SigninConfig, Buffer>();
function ticketKey(config: SigninConfig): Buffer {
  let key = ticketKeys.get(config);
  if (!key) {
    key = Buffer.from(hkdfSync('sha256', config.clientSecret, 'compose-extension', 'signin ticket v1', 32));
    ticketKeys.set(config, key);
  }
  return key;
}

export function signinTicket(config: SigninConfig, subject: TicketSubject, now: Date = new Date()): string {
  const claims: TicketClaims = { u: userKey(subject.teamsUserId), exp: now.getTime() + SIGNIN_TTL_MS };
  if (subject.aadObjectId) claims.o = subject.aadObjectId;
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${body}.${createHmac('sha256', ticketKey(config)).update(body).digest('base64url')}`;
}

function readTicket(config: SigninConfig, ticket: string, now: Date = new Date()): { user: string; objectId?: string } {
  const [body, mac, extra] = ticket.split('.');
  if (!body || !mac || extra !== undefined) throw new UnauthenticatedError('ticket_malformed');
  const expected = createHmac('sha256', ticketKey(config)).update(body).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UnauthenticatedError('ticket_signature');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as TicketClaims;
  if (typeof claims.exp !== 'number' || claims.exp < now.getTime()) throw new UnauthenticatedError('ticket_expired');
  return { user: claims.u, ...(claims.o ? { objectId: claims.o } : {}) };
}

export function signinStartUrl(config: SigninConfig, subject: TicketSubject, now: Date = new Date()): string {
  return `${config.publicBaseUrl}/api/signin/start?ticket=${encodeURIComponent(signinTicket(config, subject, now))}`;
}

function redirectUri(config: SigninConfig): string {
  return `${config.publicBaseUrl}/api/signin/callback`;
}

// ---------------------------------------------------------------------------------------------------
// Entra ID through MSAL (loaded on first use: it is large)

/** Scopes of the sign-in: identity only; the app needs no access token. */
const SCOPES = ['openid', 'profile'];

let networkForTests: INetworkModule | undefined;
/** Tests route MSAL's HTTPS calls to a loopback stand-in (MSAL accepts only https authorities). */
export function setSigninNetworkForTests(network: INetworkModule | undefined): void {
  networkForTests = network;
  clients = new WeakMap();
}

let clients = new WeakMap<SigninConfig, Promise<ConfidentialClientApplication>>();
function msalClient(config: SigninConfig): Promise<ConfidentialClientApplication> {
  let client = clients.get(config);
  if (!client) {
    client = (async () => {
      const msal = await import('@azure/msal-node');
      return new msal.ConfidentialClientApplication({
        auth: {
          clientId: config.clientId,
          clientSecret: config.clientSecret,
          authority: `${config.authorityHost}/${config.tenantId}`,
          // The configured host is trusted as is: no instance discovery round trip to the public cloud.
          knownAuthorities: [new URL(config.authorityHost).host],
        },
        ...(networkForTests ? { system: { networkClient: networkForTests } } : {}),
      });
    })();
    client.catch(() => clients.delete(config));
    clients.set(config, client);
  }
  return client;
}

const sha256 = (text: string): string => createHash('sha256').update(text).digest('base64url');

interface StateRow {
  user: string;
  objectId?: string;
  verifier: string;
  expiresAt: number;
}

/** Step 2: the Entra authorization URL for a valid ticket, with a fresh state and PKCE verifier kept. */
export async function beginSignin(config: SigninConfig, ticket: string, now: Date = new Date()): Promise<string> {
  const subject = readTicket(config, ticket, now);
  const state = randomBytes(32).toString('base64url');
  const verifier = randomBytes(32).toString('base64url');
  const row: StateRow = { user: subject.user, verifier, expiresAt: now.getTime() + SIGNIN_TTL_MS };
  if (subject.objectId) row.objectId = subject.objectId;
  await withStorage('write sign-in state', async () => {
    const table = await composeExtensionTable();
    await table.createEntity({ partitionKey: 'signinstate', rowKey: state, ...row });
  });
  const client = await msalClient(config);
  try {
    return await client.getAuthCodeUrl({
      scopes: SCOPES,
      redirectUri: redirectUri(config),
      state,
      codeChallenge: sha256(verifier),
      codeChallengeMethod: 'S256',
      prompt: 'select_account',
    });
  } catch (err) {
    throw new UpstreamError(`sign-in authority unavailable: ${ensureError(err).message}`, { cause: err });
  }
}

/** Takes a state row once: read it, then delete it conditionally, so a replayed state finds nothing. */
async function takeState(state: string): Promise<StateRow | undefined> {
  if (!/^[A-Za-z0-9_-]{43}$/.test(state)) return undefined;
  return withStorage('take sign-in state', async () => {
    const table = await composeExtensionTable();
    const row = await getEntityIfExists<StateRow>(table, 'signinstate', state);
    if (!row || !(await deleteEntityIfUnchanged(table, 'signinstate', state, row.etag))) return undefined;
    return row;
  });
}

/**
 * Step 3: redeems the authorization code and returns the single-use code for `notifySuccess`.
 * An unknown, used or expired state is a 401; an Entra user who is not the Teams user a 403.
 */
export async function completeSignin(
  config: SigninConfig,
  params: { code: string; state: string },
  now: Date = new Date(),
): Promise<string> {
  const row = await takeState(params.state);
  if (!row || row.expiresAt < now.getTime()) throw new UnauthenticatedError('signin_state');
  const client = await msalClient(config);
  let objectId: string | undefined;
  try {
    const result = await client.acquireTokenByCode({
      code: params.code,
      scopes: SCOPES,
      redirectUri: redirectUri(config),
      codeVerifier: row.verifier,
    });
    const oid = (result.idTokenClaims as { oid?: unknown }).oid;
    objectId = typeof oid === 'string' ? oid : undefined;
  } catch (err) {
    // Entra refused the code (invalid_grant and the like): the sign-in failed, nothing is stored.
    throw new UnauthenticatedError('signin_code', { cause: err });
  }
  if (row.objectId && objectId?.toLowerCase() !== row.objectId.toLowerCase()) {
    throw new ForbiddenError('the account signed in is not the Teams user', 'signin_other_user');
  }
  const code = randomBytes(32).toString('base64url');
  await withStorage('write sign-in code', async () => {
    const table = await composeExtensionTable();
    await table.upsertEntity(
      { partitionKey: 'signincode', rowKey: row.user, codeHash: sha256(code), expiresAt: now.getTime() + SIGNIN_TTL_MS },
      'Replace',
    );
  });
  return code;
}

// ---------------------------------------------------------------------------------------------------
// Step 4 and the signed-in record

export function isSignedIn(teamsUserId: string): Promise<boolean> {
  return withStorage('read sign-in', async () => {
    const table = await composeExtensionTable();
    return (await getEntityIfExists(table, 'signedin', userKey(teamsUserId))) !== undefined;
  });
}

/**
 * The re-sent query's `state` completes the sign-in only when it equals the user's stored, unexpired
 * code; the code is consumed by an ETag-conditional delete, so of two concurrent uses one wins.
 */
export function redeemSigninCode(teamsUserId: string, state: string, now: Date = new Date()): Promise<boolean> {
  return withStorage('redeem sign-in code', async () => {
    const table = await composeExtensionTable();
    const key = userKey(teamsUserId);
    const row = await getEntityIfExists<{ codeHash: string; expiresAt: number }>(table, 'signincode', key);
    if (!row) return false;
    const given = Buffer.from(sha256(state));
    const stored = Buffer.from(row.codeHash);
    if (given.length !== stored.length || !timingSafeEqual(given, stored) || row.expiresAt < now.getTime()) return false;
    if (!(await deleteEntityIfUnchanged(table, 'signincode', key, row.etag))) return false;
    await table.upsertEntity({ partitionKey: 'signedin', rowKey: key, signedInAt: now.toISOString() }, 'Replace');
    return true;
  });
}
