import type {
  JWK,
  JWSHeaderParameters,
  JWTPayload,
  JWTVerifyGetKey,
} from 'jose' with { 'resolution-mode': 'import' };

import { isLoopbackHost, parseSecureUrl } from '../core/validate';
import { ensureError, UnauthenticatedError, UnavailableError } from '../core/errors';

/**
 * Bearer-token verification shared by every endpoint that accepts Microsoft-signed JWTs (Entra ID, the
 * Bot Framework, the legacy substrate STS). Keys come from the OpenID metadata's `jwks_uri`, are held once
 * per instance, refreshed daily (Microsoft asks for at least every 24 h), and refreshed early when a token
 * names an unknown `kid`, at most once per cooldown, so random `kid`s cannot make the app hammer Microsoft.
 * Anything unverifiable fails closed.
 */

export interface OpenIdMetadata {
  issuer: string;
  jwks_uri: string;
  id_token_signing_alg_values_supported?: string[];
}

/** A published key as the JWKS lists it; the Bot Framework adds `endorsements` (channel ids). */
export type PublishedJwk = JWK & { kid?: string; endorsements?: string[] };

export interface KeySourceOptions {
  /** Keys older than this are refetched before use (default 24 h). */
  refreshIntervalMs?: number;
  /** Minimum time between refreshes forced by an unknown `kid` (default 5 min). */
  unknownKidCooldownMs?: number;
  /** Timeout of each metadata or key request (default 5 s). */
  fetchTimeoutMs?: number;
  now?: () => number;
}

interface KeySet {
  metadata: OpenIdMetadata;
  jwks: { keys: PublishedJwk[] };
  fetchedAt: number;
}

async function fetchJson(url: string, timeoutMs: number): Promise<unknown> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'error' });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}

export class OpenIdKeySource {
  private current: KeySet | undefined;
  private refreshing: Promise<KeySet> | undefined;
  private lastForcedRefresh = Number.NEGATIVE_INFINITY;
  private readonly refreshIntervalMs: number;
  private readonly unknownKidCooldownMs: number;
  private readonly fetchTimeoutMs: number;
  private readonly now: () => number;

  constructor(
    readonly metadataUrl: string,
    options: KeySourceOptions = {},
  ) {
    if (!parseSecureUrl(metadataUrl)) throw new Error('OpenID metadata URL must be https (or loopback http)');
    this.refreshIntervalMs = options.refreshIntervalMs ?? 24 * 60 * 60 * 1000;
    this.unknownKidCooldownMs = options.unknownKidCooldownMs ?? 5 * 60 * 1000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  /** The provider's metadata (fetched with the keys). */
  async metadata(): Promise<OpenIdMetadata> {
    return (await this.keySet()).metadata;
  }

  /**
   * The published key with this `kid`. An unknown `kid` triggers one refresh per cooldown; if the key is
   * still unknown the token is rejected. A failed refresh keeps the cached keys in use.
   */
  async key(kid: string): Promise<{ jwk: PublishedJwk }> {
    let set = await this.keySet();
    let jwk = set.jwks.keys.find((k) => k.kid === kid);
    if (!jwk && this.now() - this.lastForcedRefresh >= this.unknownKidCooldownMs) {
      this.lastForcedRefresh = this.now();
      set = await this.refresh().catch(() => set);
      jwk = set.jwks.keys.find((k) => k.kid === kid);
    }
    if (!jwk) throw new UnauthenticatedError('unknown_key');
    return { jwk };
  }

  private async keySet(): Promise<KeySet> {
    const current = this.current;
    if (current && this.now() - current.fetchedAt < this.refreshIntervalMs) return current;
    try {
      return await this.refresh();
    } catch (err) {
      // Stale keys beat no keys while Microsoft's endpoint is briefly down; with none we cannot verify.
      if (current) return current;
      throw new UnavailableError(`signing keys unavailable: ${ensureError(err).message}`);
    }
  }

  private refresh(): Promise<KeySet> {
    this.refreshing ??= (async () => {
      try {
        const metadata = (await fetchJson(this.metadataUrl, this.fetchTimeoutMs)) as Partial<OpenIdMetadata>;
        const jwksUri = typeof metadata.jwks_uri === 'string' ? parseSecureUrl(metadata.jwks_uri) : undefined;
        if (typeof metadata.issuer !== 'string' || !jwksUri) throw new Error('metadata lacks issuer or a secure jwks_uri');
        // Loopback key servers are only for loopback metadata (tests); a remote document may not point there.
        if (isLoopbackHost(jwksUri.hostname) && !isLoopbackHost(new URL(this.metadataUrl).hostname)) {
          throw new Error('jwks_uri points at a loopback host');
        }
        const jwks = (await fetchJson(jwksUri.href, this.fetchTimeoutMs)) as { keys?: unknown };
        if (!Array.isArray(jwks.keys)) throw new Error('JWKS has no keys array');
        const keys = (jwks.keys as PublishedJwk[]).filter((k) => k.kty === 'RSA' && k.n && k.e && k.kid);
        const set: KeySet = {
          metadata: { ...metadata, issuer: metadata.issuer, jwks_uri: jwksUri.href },
          jwks: { keys },
          fetchedAt: this.now(),
        };
        this.current = set;
        return set;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }
}

const sources = new Map<string, OpenIdKeySource>();

/** One key source per metadata URL and instance, so the cache survives warm invocations. */
export function openIdKeySource(metadataUrl: string): OpenIdKeySource {
  let source = sources.get(metadataUrl);
  if (!source) {
    source = new OpenIdKeySource(metadataUrl);
    sources.set(metadataUrl, source);
  }
  return source;
}

/** The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, per RFC 6750). */
export function bearerToken(header: string | null | undefined): string {
  const match = /^Bearer ([A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]+\.[A-Za-z0-9\-_]*)$/i.exec(header?.trim() ?? '');
  if (!match?.[1]) throw new UnauthenticatedError(header ? 'malformed_authorization' : 'missing_token');
  return match[1];
}

export interface VerifyOptions {
  /** Allowed `alg` values: an explicit allow-list, never taken from the token. */
  algorithms: readonly string[];
  /** Accepted `aud` values. */
  audience: readonly string[];
  /** Accepted `iss` values; omit only when the caller checks the issuer itself right after. */
  issuer?: readonly string[];
  clockToleranceSec?: number;
  /** The verification time (tests freeze it). */
  now?: Date;
}

export interface VerifiedToken {
  payload: JWTPayload & Record<string, unknown>;
  header: JWSHeaderParameters;
  jwk: PublishedJwk;
}

/** jose error codes mapped to short, stable reasons for logs and metrics. */
function reasonFor(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  const claim = (err as { claim?: unknown }).claim;
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'expired';
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED':
      return claim === 'nbf' ? 'not_yet_valid' : claim === 'aud' ? 'audience' : claim === 'iss' ? 'issuer' : `claim_${String(claim)}`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'signature';
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
    case 'ERR_JOSE_NOT_SUPPORTED':
      return 'algorithm';
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return 'unknown_key';
    default:
      return 'malformed';
  }
}

const localKeySets = new WeakMap<PublishedJwk, JWTVerifyGetKey>();

const importJose = () => import('jose');
type Jose = Awaited<ReturnType<typeof importJose>>;
let joseModule: Jose | undefined;

/**
 * jose, loaded on first use (ESM-only, and not needed to start the app) and then held: importing an
 * already loaded module still costs a trip through the ESM loader on every call.
 */
export async function loadJose(): Promise<Jose> {
  return (joseModule ??= await importJose());
}

/**
 * Verifies signature, algorithm, `exp`/`nbf` (with 5 minutes of skew by default), audience and, when
 * given, issuer. Throws UnauthenticatedError with a reason, or UnavailableError when no keys can be had.
 */
export async function verifyJwt(token: string, source: OpenIdKeySource, options: VerifyOptions): Promise<VerifiedToken> {
  const jose = joseModule ?? (await loadJose());
  let header: JWSHeaderParameters;
  try {
    header = jose.decodeProtectedHeader(token);
  } catch {
    throw new UnauthenticatedError('malformed');
  }
  if (typeof header.alg !== 'string' || !options.algorithms.includes(header.alg)) {
    throw new UnauthenticatedError('algorithm');
  }
  if (typeof header.kid !== 'string' || header.kid.length === 0) throw new UnauthenticatedError('unknown_key');
  const { jwk } = await source.key(header.kid);
  // One local key set per published key, so jose imports each key once, not on every verification.
  let keySet = localKeySets.get(jwk);
  if (!keySet) {
    keySet = jose.createLocalJWKSet({ keys: [jwk] });
    localKeySets.set(jwk, keySet);
  }
  try {
    const result = await jose.jwtVerify(token, keySet, {
      algorithms: [...options.algorithms],
      audience: [...options.audience],
      ...(options.issuer ? { issuer: [...options.issuer] } : {}),
      clockTolerance: options.clockToleranceSec ?? 300,
      requiredClaims: ['exp', 'iss', 'aud'],
      ...(options.now ? { currentDate: options.now } : {}),
    });
    return { payload: result.payload, header: result.protectedHeader, jwk };
  } catch (err) {
    throw new UnauthenticatedError(reasonFor(err), { cause: err });
  }
}
