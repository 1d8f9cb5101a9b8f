import type { ActionableMessagesConfig } from '../config/settings';
import { isGuid } from '../core/validate';
import { UnauthenticatedError } from '../core/errors';
import { bearerToken, loadJose, openIdKeySource, verifyJwt, type VerifiedToken } from '../clients/openid';

/**
 * The bearer token Outlook sends with an `Action.Http` click. Since 2026-06-08 it is an Entra ID access
 * token issued to the Actionable Messages service (app id below) for the provider's app; the retired
 * substrate ("EAT") token is accepted only while ACTIONABLE_MESSAGE_LEGACY_AUDIENCE is set. Every rule
 * failing is a 401 (UnauthenticatedError with a short reason for the log).
 */

/** The Actionable Messages service: `azp`/`appid` of Entra tokens, `appid` of legacy tokens. */
export const ACTIONABLE_MESSAGES_APP_ID = '48af08dc-f6d2-435f-b2a7-069abd99c086';
/** The legacy token's `iss`, with the trailing slash its metadata's `issuer` lacks (so it is fixed here). */
export const LEGACY_ISSUER = 'https://substrate.office.com/sts/';

const ALGORITHMS = ['RS256'] as const;
const CLOCK_TOLERANCE_SEC = 300;

export interface ActionPerformer {
  /** Who clicked: `upn` ?? `preferred_username` ?? `email` (Entra), `sub` (legacy). */
  performer: string;
  /** The clicker's Entra object id (`oid`); legacy tokens carry none. */
  objectId?: string;
  tokenType: 'entra' | 'legacy';
}

/**
 * The token of `Authorization: Bearer …`, or of `Action-Authorization: Bearer …`, which Outlook uses
 * when the card blanks `Authorization` (useful where a front end such as Easy Auth owns that header).
 */
function actionBearerToken(headers: { get(name: string): string | null }): string {
  const isBearer = (value: string | null): value is string => value !== null && /^\s*bearer\s/i.test(value);
  const authorization = headers.get('authorization');
  const actionAuthorization = headers.get('action-authorization');
  const header = isBearer(authorization) ? authorization : isBearer(actionAuthorization) ? actionAuthorization : null;
  return bearerToken(header ?? authorization ?? actionAuthorization);
}

export function entraMetadataUrl(config: ActionableMessagesConfig): string {
  return `${config.authorityHost}/${config.tenantId}/v2.0/.well-known/openid-configuration`;
}

const sameText = (a: unknown, b: string): boolean => typeof a === 'string' && a.toLowerCase() === b.toLowerCase();

function claimText(payload: Record<string, unknown>, name: string): string | undefined {
  const value = payload[name];
  return typeof value === 'string' && value.trim().length > 0 ? value.trim() : undefined;
}

/** Reads `iss` without trusting it, only to pick the validator; the chosen validator then checks it. */
async function unverifiedIssuer(token: string): Promise<unknown> {
  const { decodeJwt } = await loadJose();
  try {
    return decodeJwt(token).iss;
  } catch {
    throw new UnauthenticatedError('malformed');
  }
}

async function verifyEntra(token: string, config: ActionableMessagesConfig, now: Date | undefined): Promise<ActionPerformer> {
  const source = openIdKeySource(entraMetadataUrl(config));
  // The issuer depends on the token's tenant, so it is checked below rather than by verifyJwt.
  const { payload } = await verifyJwt(token, source, {
    algorithms: ALGORITHMS,
    audience: config.audiences,
    clockToleranceSec: CLOCK_TOLERANCE_SEC,
    ...(now ? { now } : {}),
  });
  checkEntraIssuer(payload, (await source.metadata()).issuer, config.tenantId);
  checkCallingApp(payload);
  if (config.scope !== undefined) {
    const scopes = typeof payload.scp === 'string' ? payload.scp.split(' ') : [];
    if (!scopes.includes(config.scope)) throw new UnauthenticatedError('scope');
  }
  const performer = claimText(payload, 'upn') ?? claimText(payload, 'preferred_username') ?? claimText(payload, 'email');
  if (!performer) throw new UnauthenticatedError('no_performer');
  const objectId = claimText(payload, 'oid');
  return { performer, tokenType: 'entra', ...(objectId && isGuid(objectId) ? { objectId: objectId.toLowerCase() } : {}) };
}

/**
 * `iss` is the v1 issuer `https://sts.windows.net/{tid}/` or the metadata's v2 issuer for `tid` (the
 * multi-tenant metadata says `{tenantid}`, which the token's own `tid` fills in). Either way the issuer
 * names the token's `tid`, and a single-tenant provider accepts only its own tenant.
 */
function checkEntraIssuer(payload: VerifiedToken['payload'], metadataIssuer: string, configuredTenant: string): void {
  const tid = payload.tid;
  if (typeof tid !== 'string' || !isGuid(tid)) throw new UnauthenticatedError('tenant');
  const templated = metadataIssuer.includes('{tenantid}');
  // A fixed v2 issuer belongs to one tenant: it must be this token's.
  const fixedIssuerIsTokensTenant = !templated && metadataIssuer.toLowerCase().includes(`/${tid.toLowerCase()}/`);
  const accepted = [`https://sts.windows.net/${tid}/`];
  if (templated) accepted.push(metadataIssuer.replace('{tenantid}', tid));
  else if (fixedIssuerIsTokensTenant) accepted.push(metadataIssuer);
  if (typeof payload.iss !== 'string' || !accepted.includes(payload.iss)) throw new UnauthenticatedError('issuer');
  const multiTenant = configuredTenant === 'common' || configuredTenant === 'organizations';
  if (!multiTenant) {
    // A tenant configured by GUID must match; one configured by domain is pinned by its metadata's issuer.
    const pinned = isGuid(configuredTenant) ? sameText(tid, configuredTenant) : fixedIssuerIsTokensTenant;
    if (!pinned) throw new UnauthenticatedError('tenant');
  }
}

/** `azp` (v2) or `appid` (v1) must be the Actionable Messages service; whichever is present must say so. */
function checkCallingApp(payload: VerifiedToken['payload']): void {
  const present = [payload.azp, payload.appid].filter((v) => v !== undefined);
  if (present.length === 0 || !present.every((v) => sameText(v, ACTIONABLE_MESSAGES_APP_ID))) {
    throw new UnauthenticatedError('calling_app');
  }
}

async function verifyLegacy(
  token: string,
  config: ActionableMessagesConfig & { legacyAudience: string },
  now: Date | undefined,
): Promise<ActionPerformer> {
  const { payload } = await verifyJwt(token, openIdKeySource(config.legacyMetadataUrl), {
    algorithms: ALGORITHMS,
    audience: [config.legacyAudience],
    issuer: [LEGACY_ISSUER],
    clockToleranceSec: CLOCK_TOLERANCE_SEC,
    ...(now ? { now } : {}),
  });
  if (!sameText(payload.appid, ACTIONABLE_MESSAGES_APP_ID)) throw new UnauthenticatedError('calling_app');
  // The config reader guarantees a sender whenever legacy tokens are enabled.
  if (!config.sender || !sameText(payload.sender, config.sender)) throw new UnauthenticatedError('sender');
  const performer = claimText(payload, 'sub');
  if (!performer) throw new UnauthenticatedError('no_performer');
  return { performer, tokenType: 'legacy' };
}

/** Verifies the click's bearer token and returns who performed the action. */
export async function verifyActionableMessageCaller(
  headers: { get(name: string): string | null },
  config: ActionableMessagesConfig,
  options: { now?: Date } = {},
): Promise<ActionPerformer> {
  const token = actionBearerToken(headers);
  const { legacyAudience } = config;
  if (legacyAudience !== undefined && (await unverifiedIssuer(token)) === LEGACY_ISSUER) {
    return verifyLegacy(token, { ...config, legacyAudience }, options.now);
  }
  return verifyEntra(token, config, options.now);
}
