import { createHash } from 'node:crypto';

import type { ComposeExtensionConfig } from '../config/settings';
import { UnauthenticatedError } from '../core/errors';
import { bearerToken, loadJose, openIdKeySource, verifyJwt } from '../clients/openid';

/**
 * Proof that a request comes from the Bot Framework for this bot (Bot Connector authentication, "Bot to
 * Connector" rules): `Authorization: Bearer`, issuer `BOT_TOKEN_ISSUER`, `aud` = `BOT_APP_ID`, RS256/384/512,
 * 5 minutes of skew, the signing key's `endorsements` naming the activity's channel, and the `serviceurl`
 * claim equal to the activity's `serviceUrl`. With `BOT_TENANT_ID`, Entra-issued tokens of that tenant
 * (single-tenant bots) pass too, `tid` bound to `iss`. Every failure is an UnauthenticatedError (401).
 *
 * The Bot Connector reuses one token for up to an hour, so a verified token is remembered by its SHA-256
 * until it expires: a repeat skips the signature, never the expiry or the activity-bound claims.
 */

const BOT_ALGORITHMS = ['RS256', 'RS384', 'RS512'] as const;
const CLOCK_SKEW_SEC = 5 * 60;
const MAX_CACHED_TOKENS = 10_000;

export interface BotRequestClaims {
  /** The request's `Authorization` header. */
  authorization: string | null;
  /** The activity's `serviceUrl` and `channelId` (undefined when the body lacks them). */
  serviceUrl?: string;
  channelId?: string;
}

export interface VerifiedBotToken {
  issuer: string;
  /** `exp` in seconds. */
  expiresAt: number;
  serviceUrl: string | undefined;
  /** The signing key's endorsements (Bot Framework keys carry them; Entra keys do not). */
  endorsements: readonly string[] | undefined;
}

function entraMetadataUrl(config: ComposeExtensionConfig, tenantId: string): string {
  return `${config.authorityHost}/${tenantId}/v2.0/.well-known/openid-configuration`;
}

/** `iss` read without verification, only to pick the key source; the verification checks it again. */
async function unverifiedIssuer(token: string): Promise<string | undefined> {
  const { decodeJwt } = await loadJose();
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? iss : undefined;
  } catch {
    return undefined;
  }
}

async function verifySignedToken(token: string, config: ComposeExtensionConfig, now: Date): Promise<VerifiedBotToken> {
  const common = { algorithms: BOT_ALGORITHMS, audience: [config.botAppId], clockToleranceSec: CLOCK_SKEW_SEC, now };
  const iss = await unverifiedIssuer(token);
  if (iss === config.tokenIssuer) {
    const { payload, jwk } = await verifyJwt(token, openIdKeySource(config.openIdMetadataUrl), {
      ...common,
      issuer: [config.tokenIssuer],
    });
    return {
      issuer: config.tokenIssuer,
      expiresAt: payload.exp as number,
      serviceUrl: typeof payload.serviceurl === 'string' ? payload.serviceurl : undefined,
      endorsements: Array.isArray(jwk.endorsements) ? jwk.endorsements : undefined,
    };
  }
  const tenantId = config.botTenantId;
  if (tenantId === undefined || iss === undefined) throw new UnauthenticatedError('issuer');
  const source = openIdKeySource(entraMetadataUrl(config, tenantId));
  // v1 tokens name sts.windows.net; v2 tokens the issuer the tenant's own metadata declares.
  const issuers = [`https://sts.windows.net/${tenantId}/`, (await source.metadata()).issuer.replace('{tenantid}', tenantId)];
  const { payload } = await verifyJwt(token, source, { ...common, issuer: issuers });
  if (payload.tid !== tenantId) throw new UnauthenticatedError('tenant');
  return {
    issuer: payload.iss as string,
    expiresAt: payload.exp as number,
    serviceUrl: typeof payload.serviceurl === 'string' ? payload.serviceurl : undefined,
    endorsements: undefined,
  };
}

/** Verified tokens by SHA-256, per configuration (a changed setting starts a fresh cache). */
const caches = new WeakMap<ComposeExtensionConfig, Map<string, VerifiedBotToken>>();

function cacheFor(config: ComposeExtensionConfig): Map<string, VerifiedBotToken> {
  let cache = caches.get(config);
  if (!cache) {
    cache = new Map();
    caches.set(config, cache);
  }
  return cache;
}

function remember(cache: Map<string, VerifiedBotToken>, key: string, verified: VerifiedBotToken, nowSec: number): void {
  if (cache.size >= MAX_CACHED_TOKENS) {
    for (const [k, v] of cache) if (v.expiresAt + CLOCK_SKEW_SEC <= nowSec) cache.delete(k);
    // Still full: forget the oldest entry (Map keeps insertion order); it is only re-verified.
    if (cache.size >= MAX_CACHED_TOKENS) cache.delete(cache.keys().next().value as string);
  }
  cache.set(key, verified);
}

/**
 * Verifies the request's bearer token against the activity it carries. Returns the verified token's
 * facts; throws UnauthenticatedError (401) for any failure, UnavailableError when no keys can be had.
 */
export async function verifyBotRequest(
  request: BotRequestClaims,
  config: ComposeExtensionConfig,
  now: Date = new Date(),
): Promise<VerifiedBotToken> {
  const token = bearerToken(request.authorization);
  const nowSec = Math.floor(now.getTime() / 1000);
  const cache = cacheFor(config);
  const key = createHash('sha256').update(token).digest('base64url');
  let verified = cache.get(key);
  // The edge jose applies on a fresh verification: expired once exp + skew <= now.
  if (verified && verified.expiresAt + CLOCK_SKEW_SEC <= nowSec) {
    cache.delete(key);
    throw new UnauthenticatedError('expired');
  }
  if (!verified) {
    verified = await verifySignedToken(token, config, now);
    remember(cache, key, verified, nowSec);
  }
  // The activity-bound checks run on every request: a replayed token must still match its activity.
  if (verified.endorsements && verified.endorsements.length > 0) {
    if (!request.channelId || !verified.endorsements.includes(request.channelId)) throw new UnauthenticatedError('endorsement');
  }
  // Exact comparison, as the SDKs make it (the claim is public, so no constant-time need).
  if (verified.serviceUrl === undefined || verified.serviceUrl !== request.serviceUrl) {
    throw new UnauthenticatedError('serviceurl');
  }
  return verified;
}
