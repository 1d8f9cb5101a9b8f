import { createHash } from 'node:crypto';

import type { ComposeExtensionConfig } from '../config/settings';
import { UnauthenticatedError } from '../core/errors';
import { bearerToken, openIdKeySource, verifyJwt } from '../clients/openid';

/**
 * Proof that a request comes from the Bot Connector for this bot. Teams and Outlook send every bot type
 * (multi-tenant, single-tenant, user-assigned managed identity) one token shape, and only that shape is
 * accepted: `Authorization: Bearer`, signed by a key of `BOT_OPENID_METADATA_URL` (RS256/384/512), `iss`
 * exactly `BOT_TOKEN_ISSUER`, `aud` exactly `BOT_APP_ID` (one string, not a list), 5 minutes of skew, the
 * signing key's `endorsements` naming the activity's channel, and the `serviceurl` claim equal to the
 * activity's `serviceUrl`. Entra-issued tokens (other bots, agents, the Emulator) are never channel
 * traffic and fail on the key and the issuer. Every failure is an UnauthenticatedError (401).
 * docs/bot-tokens.md has the table and its sources.
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
  /** `exp` in seconds. */
  expiresAt: number;
  serviceUrl: string | undefined;
  /** The signing key's endorsements (channel ids). */
  endorsements: readonly string[] | undefined;
}

async function verifySignedToken(token: string, config: ComposeExtensionConfig, now: Date): Promise<VerifiedBotToken> {
  const { payload, jwk } = await verifyJwt(token, openIdKeySource(config.openIdMetadataUrl), {
    algorithms: BOT_ALGORITHMS,
    audience: [config.botAppId],
    issuer: [config.tokenIssuer],
    clockToleranceSec: CLOCK_SKEW_SEC,
    now,
  });
  // jose also accepts a list that contains the audience; the Bot Connector names exactly one.
  if (payload.aud !== config.botAppId) throw new UnauthenticatedError('audience');
  return {
    expiresAt: payload.exp as number,
    serviceUrl: typeof payload.serviceurl === 'string' ? payload.serviceurl : undefined,
    endorsements: Array.isArray(jwk.endorsements) ? jwk.endorsements : undefined,
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
  // Exact comparison, as botbuilder makes it (the claim is public, so no constant-time need).
  if (verified.serviceUrl === undefined || verified.serviceUrl !== request.serviceUrl) {
    throw new UnauthenticatedError('serviceurl');
  }
  return verified;
}
