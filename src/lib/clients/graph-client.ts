import type { TokenCredential } from '@azure/identity' with { 'resolution-mode': 'import' };
import type { Client, Middleware } from '@microsoft/microsoft-graph-client';

import type { GraphApiConfig, GraphCredentialConfig } from '../config/settings';

/**
 * The app-only Microsoft Graph client: `@microsoft/microsoft-graph-client` over an `@azure/identity`
 * credential (managed identity in Azure, client secret or certificate elsewhere). Both SDKs load on first
 * use and the client is made once per instance for a given configuration.
 */

let cached: { key: string; client: Promise<Client> } | undefined;
let credentialOverride: TokenCredential | undefined;

/**
 * Tests talk to a loopback Graph stand-in, which cannot be reached through Entra ID's token endpoint
 * (MSAL insists on https authorities): they hand in a credential that issues the stand-in's tokens.
 */
export function setGraphCredentialForTests(credential: TokenCredential | undefined): void {
  credentialOverride = credential;
  cached = undefined;
}

async function createCredential(config: GraphCredentialConfig): Promise<TokenCredential> {
  if (credentialOverride) return credentialOverride;
  const identity = await import('@azure/identity');
  switch (config.kind) {
    case 'clientSecret':
      return new identity.ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret);
    case 'clientCertificate':
      return new identity.ClientCertificateCredential(config.tenantId, config.clientId, {
        certificatePath: config.certificatePath,
      });
    case 'managedIdentity':
      return new identity.ManagedIdentityCredential(config.clientId ? { clientId: config.clientId } : {});
  }
}

/** The Graph client for `config`; requests go to `${config.baseUrl}/v1.0/...`. */
export function graphClient(config: GraphApiConfig): Promise<Client> {
  const key = JSON.stringify([config.baseUrl, config.credential]);
  if (cached?.key !== key) {
    const client = (async () => {
      const sdk = await import('@microsoft/microsoft-graph-client');
      const credential = await createCredential(config.credential);
      const origin = new URL(config.baseUrl).origin;
      // National clouds use their own Graph host, and the token's scope follows it.
      const scope = `${origin}/.default`;
      // The SDK's own auth handler sends tokens only to https hosts on its list; this one sends them to
      // the configured Graph origin and nowhere else (a nextLink pointing elsewhere gets no token).
      const auth: Middleware = {
        async execute(context) {
          // The SDK types `request` as DOM RequestInfo; in Node it is a URL string or a fetch Request.
          const request = context.request as string | { url: string };
          const url = typeof request === 'string' ? request : request.url;
          if (new URL(url).origin === origin) {
            const token = await credential.getToken(scope);
            if (!token) throw new Error('the Graph credential returned no token');
            const options = (context.options ??= {});
            const headers = new Headers(options.headers);
            headers.set('Authorization', `Bearer ${token.token}`);
            options.headers = headers;
          }
          await next.execute(context);
        },
        setNext(middleware) {
          next = middleware;
        },
      };
      let next: Middleware = new sdk.RetryHandler(new sdk.RetryHandlerOptions());
      next.setNext?.(new sdk.HTTPMessageHandler());
      return sdk.Client.initWithMiddleware({
        middleware: auth,
        baseUrl: `${config.baseUrl}/`,
        defaultVersion: 'v1.0',
      });
    })();
    client.catch(() => {
      if (cached?.client === client) cached = undefined;
    });
    cached = { key, client };
  }
  return cached.client;
}
