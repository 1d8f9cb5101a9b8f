import { type OpenIdServer, type SigningKey, startOpenIdServer } from './openid-server';

/**
 * Shared by the messaging-extension tests: a loopback Bot Framework key endpoint, the settings that point
 * the app at it, and activities signed the way the Bot Connector signs them.
 */

export const BOT_APP_ID = '6f2b1c9e-1f7d-4a57-9d52-2c8a1d3e9b10';
export const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const PUBLIC_BASE_URL = 'https://contoso-m365.example.net';
export const BOT_ISSUER = 'https://api.botframework.com';
export const SERVICE_URL = 'https://smba.trafficmanager.net/amer-client-ss.msg/';

export interface BotStandIn {
  server: OpenIdServer;
  /** A Bot Framework key endorsed for msteams, as the real ones are. */
  teamsKey: SigningKey;
  env: Record<string, string>;
}

export async function startBotStandIn(): Promise<BotStandIn> {
  const server = await startOpenIdServer({ issuerFor: () => BOT_ISSUER });
  const teamsKey = await server.addKey({ endorsements: ['msteams', 'skype'] });
  return {
    server,
    teamsKey,
    env: {
      PUBLIC_BASE_URL,
      BOT_APP_ID,
      BOT_OPENID_METADATA_URL: server.metadataUrl('botframework/v1'),
      BOT_TOKEN_ISSUER: BOT_ISSUER,
      COMPOSE_EXTENSION_SIGNIN: 'off',
    },
  };
}

export const nowSec = (): number => Math.floor(Date.now() / 1000);

/** The claims the Bot Connector puts in a channel token. */
export function botClaims(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const now = nowSec();
  return { iss: BOT_ISSUER, aud: BOT_APP_ID, serviceurl: SERVICE_URL, nbf: now - 60, iat: now - 60, exp: now + 3600, ...overrides };
}

export async function botToken(stand: BotStandIn, overrides: Record<string, unknown> = {}, alg = 'RS256'): Promise<string> {
  return stand.server.sign(botClaims(overrides), { key: stand.teamsKey, alg });
}

export interface Account {
  id: string;
  name?: string;
  aadObjectId?: string;
}

export const LARRY: Account = {
  id: '29:1C7dbRrC_5yzN1RGtZIrcWT0xz88KPGP9sxdpVpV8sODlgPHeQE9RqQ02hnpuKzy6zZ-AaZx6swUOMj_Dsdse3TQ4sIaeebbFBF-VgjJy_nY',
  name: 'Larry Jin',
  aadObjectId: 'cd723fa0-0591-416a-9290-e93ecf3a9b92',
};

/** An invoke activity shaped as Teams sends it (after the documented example). */
export function invokeActivity(name: string, value: unknown, from: Account = LARRY): Record<string, unknown> {
  return {
    name,
    value,
    type: 'invoke',
    timestamp: '2026-11-23T12:00:00.000Z',
    id: `f:${Math.floor(Math.random() * 1e18)}`,
    channelId: 'msteams',
    serviceUrl: SERVICE_URL,
    from,
    conversation: { id: '19:skypespaces_8198cfe0dd2647ae91930f0974768a40@thread.skype' },
    recipient: { id: `28:${BOT_APP_ID}`, name: 'Contoso people' },
    channelData: { tenant: { id: TENANT_ID } },
    entities: [{ type: 'clientInfo', country: 'US', platform: 'Windows' }],
  };
}

export function queryActivity(commandId: string, parameters: { name: string; value: string }[], extra: Record<string, unknown> = {}, from: Account = LARRY): Record<string, unknown> {
  return invokeActivity('composeExtension/query', { commandId, parameters, queryOptions: { skip: 0, count: 25 }, ...extra }, from);
}

export interface ResultAttachment {
  contentType: string;
  content: { type: string; body: unknown[] };
  preview?: { contentType: string; content: { title: string; subtitle?: string; text?: string; tap?: { type: string; value: { kind: string; id: string } } } };
}

export interface ComposeExtensionBody {
  composeExtension: {
    type: string;
    attachmentLayout?: string;
    attachments?: ResultAttachment[];
    text?: string;
    suggestedActions?: { actions: { type: string; value: string; title?: string }[] };
  };
}

export function extension(answer: { body: unknown }): ComposeExtensionBody['composeExtension'] {
  return (answer.body as ComposeExtensionBody).composeExtension;
}

export const titles = (answer: { body: unknown }): string[] => (extension(answer).attachments ?? []).map((a) => a.preview?.content.title ?? '');
