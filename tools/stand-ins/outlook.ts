import { issueActionToken } from '../../src/lib/expenses/action-token';
import { ACTIONABLE_MESSAGES_APP_ID, LEGACY_ISSUER } from '../../src/lib/expenses/outlook-token';
import { type Expense, insertExpense } from '../../src/lib/expenses/store';
import { setGraphCredentialForTests } from '../../src/lib/clients/graph-client';
import type { RecordedRequest } from './loopback';
import { type GraphServer, startGraphServer } from './graph-server';
import { type OpenIdServer, startOpenIdServer } from './openid-server';

/**
 * The Outlook side of actionable messages: an Entra key endpoint, a Graph mail stand-in, the settings that
 * point the app at them, token claims as Outlook sends them, and a seeded expense with its action token.
 */
export const NOW = new Date('2026-11-23T12:00:00Z');
export const NOW_SEC = Math.floor(NOW.getTime() / 1000);
export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const OTHER_TENANT = '11111111-2222-4333-8444-555555555555';
export const AUDIENCE = 'api://auth-am-0f9a6c1e-54a3-4b0e-9f8c-2d1d5e6f7a8b/5b7c0e2d-1a3b-4c5d-8e9f-0a1b2c3d4e5f';
export const CLIENT_ID = '5b7c0e2d-1a3b-4c5d-8e9f-0a1b2c3d4e5f';
export const SCOPE = 'Global.Test';
export const SENDER = 'expenses@contoso.com';
export const ORIGINATOR = '3f1a9c2e-7b4d-4e5f-a6b7-c8d9e0f1a2b3';
export const PUBLIC_BASE_URL = 'https://contoso-m365.azurewebsites.net';
export const LEGACY_AUDIENCE = 'https://contoso-m365.azurewebsites.net';
export const ACTION_TOKEN_KEY = Buffer.alloc(32, 7);
export const APPROVER = 'Bob.Approver@contoso.com';
export const SUBMITTER = 'alice@contoso.com';
export const ACTION_URL = `${PUBLIC_BASE_URL}/api/actionable-message`;

export interface StandIns {
  openId: OpenIdServer;
  graph: GraphServer;
  /** Mail bodies the Graph stand-in accepted, in order. */
  mails: RecordedRequest[];
  close(): Promise<void>;
}

/** Entra's multi-tenant metadata names `{tenantid}` literally; a tenant's own names its GUID. */
export function entraIssuerFor(prefix: string): string {
  const tenant = prefix.split('/')[0] ?? '';
  return ['common', 'organizations'].includes(tenant)
    ? 'https://login.microsoftonline.com/{tenantid}/v2.0'
    : `https://login.microsoftonline.com/${tenant}/v2.0`;
}

export async function startStandIns(): Promise<StandIns> {
  const openId = await startOpenIdServer({ issuerFor: entraIssuerFor });
  const graph = await startGraphServer();
  const mails: RecordedRequest[] = [];
  graph.on('POST', /^\/v1\.0\/users\/([^/]+)\/sendMail$/, (request) => {
    mails.push(request);
    return { status: 202 };
  });
  setGraphCredentialForTests({ getToken: () => Promise.resolve({ token: 'graph-token', expiresOnTimestamp: Date.now() + 3.6e6 }) });
  return {
    openId,
    graph,
    mails,
    async close() {
      setGraphCredentialForTests(undefined);
      await Promise.all([openId.close(), graph.close()]);
    },
  };
}

/** Settings of both features, pointing at the stand-ins. */
export function settings(standIns: StandIns): Record<string, string | undefined> {
  return {
    PUBLIC_BASE_URL,
    ENTRA_AUTHORITY_HOST: standIns.openId.url,
    ACTIONABLE_MESSAGE_AUDIENCE: `${AUDIENCE},${CLIENT_ID}`,
    ACTIONABLE_MESSAGE_TENANT_ID: undefined,
    ACTIONABLE_MESSAGE_SCOPE: undefined,
    ACTIONABLE_MESSAGE_LEGACY_AUDIENCE: undefined,
    ACTIONABLE_MESSAGE_LEGACY_METADATA_URL: standIns.openId.metadataUrl('sts/common'),
    ACTIONABLE_MESSAGE_SENDER: SENDER,
    ACTIONABLE_MESSAGE_ORIGINATOR: ORIGINATOR,
    ACTIONABLE_MESSAGE_ALLOWED_PERFORMER_DOMAINS: undefined,
    ACTION_TOKEN_KEY: ACTION_TOKEN_KEY.toString('base64'),
    GRAPH_BASE_URL: standIns.graph.url,
    AZURE_CLIENT_SECRET: undefined,
    AZURE_CLIENT_CERTIFICATE_PATH: undefined,
  };
}


/** The claims of an Entra v1 access token as Outlook sends it for a click (issued at NOW). */
export function entraClaims(overrides: Record<string, unknown> = {}, nowSec = NOW_SEC): Record<string, unknown> {
  return {
    aud: AUDIENCE,
    iss: `https://sts.windows.net/${TENANT}/`,
    iat: nowSec - 60,
    nbf: nowSec - 60,
    exp: nowSec + 3600,
    appid: ACTIONABLE_MESSAGES_APP_ID,
    appidacr: '2',
    scp: SCOPE,
    tid: TENANT,
    oid: 'c0ffee00-0000-4000-8000-000000000001',
    upn: APPROVER.toLowerCase(),
    ver: '1.0',
    ...overrides,
  };
}

/** The same user's token in the v2 shape: `azp` instead of `appid`, v2 issuer, client-id audience. */
export function entraV2Claims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...entraClaims({ appid: undefined, appidacr: undefined, upn: undefined }),
    aud: CLIENT_ID,
    iss: `https://login.microsoftonline.com/${TENANT}/v2.0`,
    azp: ACTIONABLE_MESSAGES_APP_ID,
    azpacr: '2',
    preferred_username: APPROVER,
    ver: '2.0',
    ...overrides,
  };
}

/** The retired substrate token's claims (accepted only with ACTIONABLE_MESSAGE_LEGACY_AUDIENCE). */
export function legacyClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    iat: NOW_SEC - 60,
    nbf: NOW_SEC - 60,
    exp: NOW_SEC + 3600,
    ver: 'STI.ExternalAccessToken.V1',
    appid: ACTIONABLE_MESSAGES_APP_ID,
    iss: LEGACY_ISSUER,
    appidacr: '2',
    acr: '0',
    sub: APPROVER,
    sender: SENDER,
    aud: LEGACY_AUDIENCE,
    ...overrides,
  };
}

/** A pending expense stored directly, with the action token its card would carry. */
export async function seedExpense(id: string, approver = APPROVER): Promise<{ expense: Expense; actionToken: string }> {
  const { expense } = await insertExpense(
    { id, submitter: SUBMITTER, approver, amount: 42.5, currency: 'EUR', description: 'Team lunch' },
    new Date(NOW.getTime() - 3_600_000),
  );
  return { expense, actionToken: issueActionToken(ACTION_TOKEN_KEY, 'expense-decision', id, approver) };
}

export function clickJson(expenseId: string, actionToken: string, decision = 'approve', comment = ''): string {
  return JSON.stringify({ expenseId, decision, comment, actionToken });
}
