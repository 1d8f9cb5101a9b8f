import { randomUUID } from 'node:crypto';

import type { JWK, JWTPayload, KeyObject } from 'jose' with { 'resolution-mode': 'import' };

import { type LoopbackServer, type RecordedRequest, startLoopbackServer } from './loopback';

/**
 * A loopback stand-in for an OpenID provider (Entra ID, the Bot Framework, the substrate STS): OpenID
 * metadata and a JWKS with real RSA keys, and a signer for real RS256 tokens. Keys can be rotated and
 * endorsements attached, as the Bot Framework's keys carry them.
 */

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  jwk: JWK;
}

export interface OpenIdServer extends LoopbackServer {
  /** Metadata URL for a path prefix, e.g. `${url}/common/v2.0/.well-known/openid-configuration`. */
  metadataUrl(prefix?: string): string;
  jwksUrl: string;
  keys: SigningKey[];
  /** Requests seen, to count metadata and key fetches. */
  requests: RecordedRequest[];
  /** Adds a key (published at once) and returns it. */
  addKey(options?: { endorsements?: string[]; alg?: 'RS256' | 'RS384' | 'RS512' }): Promise<SigningKey>;
  /** Drops a key from the published set. */
  removeKey(kid: string): void;
  sign(claims: JWTPayload, options?: { key?: SigningKey; alg?: string; header?: Record<string, unknown> }): Promise<string>;
  /** Issuer written into the metadata for a prefix; `{tenantid}` is kept literally, as Entra's `common` does. */
  issuerFor: (prefix: string) => string;
}

export async function startOpenIdServer(options: { issuerFor?: (prefix: string) => string } = {}): Promise<OpenIdServer> {
  const jose = await import('jose');
  const published: (JWK & { endorsements?: string[] })[] = [];
  const keys: SigningKey[] = [];
  const requests: RecordedRequest[] = [];
  let base = '';
  const issuerFor = options.issuerFor ?? ((prefix: string) => `https://login.microsoftonline.com/${prefix.split('/')[0] ?? ''}/v2.0`);

  const server = await startLoopbackServer((request) => {
    requests.push(request);
    if (request.path === '/keys') return { json: { keys: published } };
    const meta = /^\/(.*)\/?\.well-known\/openid-?configuration$/.exec(request.path);
    if (meta) {
      const prefix = (meta[1] ?? '').replace(/\/$/, '');
      return {
        json: {
          issuer: issuerFor(prefix),
          jwks_uri: `${base}/keys`,
          id_token_signing_alg_values_supported: ['RS256'],
          token_endpoint: `${base}/${prefix}/oauth2/v2.0/token`,
          authorization_endpoint: `${base}/${prefix}/oauth2/v2.0/authorize`,
        },
      };
    }
    return { status: 404 };
  });
  base = server.url;

  const stand: OpenIdServer = {
    ...server,
    jwksUrl: `${base}/keys`,
    keys,
    requests,
    issuerFor,
    metadataUrl: (prefix = 'common/v2.0') => `${base}/${prefix}/.well-known/openid-configuration`,
    async addKey(keyOptions = {}) {
      const { privateKey, publicKey } = await jose.generateKeyPair(keyOptions.alg ?? 'RS256', { extractable: true });
      const kid = randomUUID();
      const jwk = { ...(await jose.exportJWK(publicKey)), kid, kty: 'RSA', use: 'sig' } as JWK;
      keys.push({ kid, privateKey: privateKey, jwk });
      published.push(keyOptions.endorsements ? { ...jwk, endorsements: keyOptions.endorsements } : jwk);
      return keys[keys.length - 1] as SigningKey;
    },
    removeKey(kid) {
      const index = published.findIndex((k) => k.kid === kid);
      if (index !== -1) published.splice(index, 1);
    },
    async sign(claims, signOptions = {}) {
      const key = signOptions.key ?? keys[0];
      if (!key) throw new Error('no signing key: call addKey() first');
      const alg = signOptions.alg ?? 'RS256';
      return new jose.SignJWT(claims)
        .setProtectedHeader({ alg, kid: key.kid, typ: 'JWT', ...signOptions.header })
        .sign(key.privateKey);
    },
  };
  await stand.addKey();
  return stand;
}
