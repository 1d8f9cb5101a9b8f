import { NotConfiguredError } from '../core/errors';

/**
 * Typed settings, one parser per feature, read from the environment on first use and cached until the
 * values they read change. A feature whose settings are missing or malformed throws NotConfiguredError
 * (answered 503, logged once with the setting names); other features are unaffected, and nothing here
 * runs at module load, so the app always starts.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULTS = {
  NOTIFICATION_QUEUE: 'webhooksnotificationqueue',
  GRAPH_BASE_URL: 'https://graph.microsoft.com',
  GRAPH_SUBSCRIPTION_RESOURCE: 'users',
  GRAPH_CHANGE_TYPES: 'updated,deleted',
  GRAPH_SUBSCRIPTION_SCHEDULE: '0 0 * * * *',
  DIRECTORY_FULL_SYNC_HOURS: '24',
  ENTRA_AUTHORITY_HOST: 'https://login.microsoftonline.com',
  ACTIONABLE_MESSAGE_TENANT_ID: 'common',
  ACTIONABLE_MESSAGE_LEGACY_METADATA_URL: 'https://substrate.office.com/sts/common/.well-known/openid-configuration',
  BOT_OPENID_METADATA_URL: 'https://login.botframework.com/v1/.well-known/openidconfiguration',
  BOT_TOKEN_ISSUER: 'https://api.botframework.com',
  COMPOSE_EXTENSION_SIGNIN: 'off',
} as const;

/** Resolved when the app loads, so that the host can index the queue and timer functions unconfigured. */
export function notificationQueueName(env: Env = process.env): string {
  return nonEmpty(env.NOTIFICATION_QUEUE) ?? DEFAULTS.NOTIFICATION_QUEUE;
}

export function subscriptionSchedule(env: Env = process.env): string {
  return nonEmpty(env.GRAPH_SUBSCRIPTION_SCHEDULE) ?? DEFAULTS.GRAPH_SUBSCRIPTION_SCHEDULE;
}

// ---------------------------------------------------------------------------------------------------
// Value parsers: each returns the parsed value or undefined when the raw value is malformed.

function nonEmpty(raw: string | undefined): string | undefined {
  const value = raw?.trim();
  return value ? value : undefined;
}

const LOOPBACK_HOSTS = new Set(['localhost', '[::1]']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK_HOSTS.has(hostname) || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** An absolute https URL, or http on a loopback host (tests and local stand-ins). */
export function parseSecureUrl(raw: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (url.username || url.password) return undefined;
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return url;
  return undefined;
}

/** An origin such as `https://contoso.azurewebsites.net`, returned without a trailing slash. */
function parseOrigin(raw: string): string | undefined {
  const url = parseSecureUrl(raw.replace(/\/+$/, ''));
  if (!url || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) return undefined;
  return url.origin;
}

function parseList(raw: string): string[] {
  return raw
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

const MAIL = /^[^\s@<>(),;:"[\]]+@[^\s@<>(),;:"[\]]+\.[^\s@<>(),;:"[\]]+$/;
export function isMailAddress(value: string): boolean {
  return value.length <= 320 && MAIL.test(value);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isGuid(value: string): boolean {
  return GUID.test(value);
}

/** Strict base64 (standard or URL-safe alphabet); undefined for anything else. */
export function decodeBase64(raw: string): Buffer | undefined {
  const value = raw.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(value)) return undefined;
  const bytes = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length > 0 ? bytes : undefined;
}

// ---------------------------------------------------------------------------------------------------
// The reader collects every problem of a feature before failing, so one log line names them all.

/**
 * App Service passes an unresolvable Key Vault reference through as its literal text, which for a
 * secret like GRAPH_CLIENT_STATE would be guessable: such a value counts as malformed.
 */
const UNRESOLVED_KEY_VAULT_REFERENCE = /^@Microsoft\.KeyVault\(/i;

class SettingsReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    const value = nonEmpty(this.env[name]);
    if (value !== undefined && UNRESOLVED_KEY_VAULT_REFERENCE.test(value)) {
      this.problems.push(name);
      return undefined;
    }
    return value;
  }

  required<T>(name: string, parse: (raw: string) => T | undefined): T {
    const raw = this.raw(name);
    const value = raw === undefined ? undefined : parse(raw);
    if (value === undefined) this.problems.push(name);
    return value as T;
  }

  optional<T>(name: string, parse: (raw: string) => T | undefined): T | undefined {
    const raw = this.raw(name);
    if (raw === undefined) return undefined;
    const value = parse(raw);
    if (value === undefined) this.problems.push(name);
    return value;
  }

  withDefault<T>(name: string, fallback: string, parse: (raw: string) => T | undefined): T {
    const value = parse(this.raw(name) ?? fallback);
    if (value === undefined) this.problems.push(name);
    return value as T;
  }
}

const asString = (raw: string): string => raw;

// ---------------------------------------------------------------------------------------------------
// Features

export type GraphCredentialConfig =
  | { kind: 'clientSecret'; tenantId: string; clientId: string; clientSecret: string }
  | { kind: 'clientCertificate'; tenantId: string; clientId: string; certificatePath: string }
  | { kind: 'managedIdentity'; clientId?: string };

export interface GraphApiConfig {
  baseUrl: string;
  credential: GraphCredentialConfig;
}

export interface GraphNotificationsConfig {
  clientState: string;
  queueName: string;
}

export interface GraphSubscriptionConfig extends GraphApiConfig, GraphNotificationsConfig {
  notificationUrl: string;
  lifecycleNotificationUrl: string;
  resource: string;
  changeTypes: readonly ('created' | 'updated' | 'deleted')[];
  /** A full `/users/delta` reconciliation runs at least this often (DIRECTORY_FULL_SYNC_HOURS). */
  fullSyncEveryMs: number;
}

export interface ActionableMessagesConfig {
  publicBaseUrl: string;
  authorityHost: string;
  audiences: readonly string[];
  tenantId: string;
  scope?: string;
  legacyAudience?: string;
  legacyMetadataUrl: string;
  sender?: string;
  allowedPerformerDomains?: readonly string[];
  actionTokenKey: Buffer;
  /** Written into the refreshed card, which Outlook shows only when it carries the provider's originator. */
  originator?: string;
}

export interface ExpensesConfig extends GraphApiConfig {
  publicBaseUrl: string;
  sender: string;
  originator: string;
  actionTokenKey: Buffer;
}

export interface OutgoingWebhookSecret {
  name: string;
  key: Buffer;
}

export interface OutgoingWebhookConfig {
  secrets: readonly OutgoingWebhookSecret[];
}

export interface ComposeExtensionConfig {
  publicBaseUrl: string;
  botAppId: string;
  openIdMetadataUrl: string;
  tokenIssuer: string;
  botTenantId?: string;
  authorityHost: string;
  signin: 'off' | 'entra';
}

export interface SigninConfig {
  publicBaseUrl: string;
  authorityHost: string;
  clientId: string;
  clientSecret: string;
  tenantId: string;
}

export interface FeatureConfigs {
  graphNotifications: GraphNotificationsConfig;
  graphSubscription: GraphSubscriptionConfig;
  graphApi: GraphApiConfig;
  actionableMessages: ActionableMessagesConfig;
  expenses: ExpensesConfig;
  outgoingWebhook: OutgoingWebhookConfig;
  composeExtension: ComposeExtensionConfig;
  signin: SigninConfig;
}

export type FeatureName = keyof FeatureConfigs;

const secureUrl = (raw: string): string | undefined => parseSecureUrl(raw)?.href.replace(/\/+$/, '');
const clientState = (raw: string): string | undefined => (raw.length <= 128 ? raw : undefined);
const tenant = (raw: string): string | undefined =>
  isGuid(raw) || /^[a-z0-9-]+(\.[a-z0-9-]+)+$/i.test(raw) || ['common', 'organizations'].includes(raw)
    ? raw
    : undefined;
const mail = (raw: string): string | undefined => (isMailAddress(raw) ? raw.toLowerCase() : undefined);
const actionTokenKey = (raw: string): Buffer | undefined => {
  const key = decodeBase64(raw);
  return key && key.length >= 32 ? key : undefined;
};

function readGraphApi(r: SettingsReader, env: Env): GraphApiConfig {
  const baseUrl = r.withDefault('GRAPH_BASE_URL', DEFAULTS.GRAPH_BASE_URL, secureUrl);
  const clientSecret = nonEmpty(env.AZURE_CLIENT_SECRET);
  const certificatePath = nonEmpty(env.AZURE_CLIENT_CERTIFICATE_PATH);
  let credential: GraphCredentialConfig;
  if (clientSecret !== undefined || certificatePath !== undefined) {
    const tenantId = r.required('AZURE_TENANT_ID', tenant);
    const clientId = r.required('AZURE_CLIENT_ID', asString);
    credential =
      clientSecret !== undefined
        ? { kind: 'clientSecret', tenantId, clientId, clientSecret }
        : { kind: 'clientCertificate', tenantId, clientId, certificatePath: certificatePath as string };
  } else {
    const clientId = r.optional('AZURE_CLIENT_ID', asString);
    credential = clientId === undefined ? { kind: 'managedIdentity' } : { kind: 'managedIdentity', clientId };
  }
  return { baseUrl, credential };
}

function readGraphNotifications(r: SettingsReader, env: Env): GraphNotificationsConfig {
  return {
    clientState: r.required('GRAPH_CLIENT_STATE', clientState),
    queueName: notificationQueueName(env),
  };
}

const readers: { [F in FeatureName]: (r: SettingsReader, env: Env) => FeatureConfigs[F] } = {
  graphNotifications: readGraphNotifications,

  graphApi: readGraphApi,

  graphSubscription(r, env) {
    const publicBaseUrl = r.required('PUBLIC_BASE_URL', parseOrigin);
    const changeTypes = r.withDefault('GRAPH_CHANGE_TYPES', DEFAULTS.GRAPH_CHANGE_TYPES, (raw) => {
      const list = parseList(raw);
      const allowed = ['created', 'updated', 'deleted'] as const;
      const valid = list.length > 0 && list.every((t) => (allowed as readonly string[]).includes(t));
      return valid ? (list as GraphSubscriptionConfig['changeTypes']) : undefined;
    });
    return {
      ...readGraphApi(r, env),
      ...readGraphNotifications(r, env),
      notificationUrl: `${publicBaseUrl}/api/graph-webhook`,
      lifecycleNotificationUrl: `${publicBaseUrl}/api/graph-lifecycle`,
      resource: r.withDefault('GRAPH_SUBSCRIPTION_RESOURCE', DEFAULTS.GRAPH_SUBSCRIPTION_RESOURCE, asString),
      changeTypes,
      fullSyncEveryMs: r.withDefault('DIRECTORY_FULL_SYNC_HOURS', DEFAULTS.DIRECTORY_FULL_SYNC_HOURS, (raw) => {
        const hours = Number(raw);
        return Number.isFinite(hours) && hours > 0 ? hours * 3_600_000 : undefined;
      }),
    };
  },

  actionableMessages(r) {
    const legacyAudience = r.optional('ACTIONABLE_MESSAGE_LEGACY_AUDIENCE', asString);
    const sender = r.optional('ACTIONABLE_MESSAGE_SENDER', mail);
    // A legacy token proves its origin only through `sender`, so legacy mode needs the sender.
    if (legacyAudience !== undefined && sender === undefined) r.problems.push('ACTIONABLE_MESSAGE_SENDER');
    const domains = r.optional('ACTIONABLE_MESSAGE_ALLOWED_PERFORMER_DOMAINS', (raw) => {
      const list = parseList(raw).map((d) => d.toLowerCase().replace(/^@/, ''));
      return list.length > 0 ? list : undefined;
    });
    const config: ActionableMessagesConfig = {
      publicBaseUrl: r.required('PUBLIC_BASE_URL', parseOrigin),
      authorityHost: r.withDefault('ENTRA_AUTHORITY_HOST', DEFAULTS.ENTRA_AUTHORITY_HOST, secureUrl),
      audiences: r.required('ACTIONABLE_MESSAGE_AUDIENCE', (raw) => {
        const list = parseList(raw);
        return list.length > 0 ? list : undefined;
      }),
      tenantId: r.withDefault('ACTIONABLE_MESSAGE_TENANT_ID', DEFAULTS.ACTIONABLE_MESSAGE_TENANT_ID, tenant),
      legacyMetadataUrl: r.withDefault(
        'ACTIONABLE_MESSAGE_LEGACY_METADATA_URL',
        DEFAULTS.ACTIONABLE_MESSAGE_LEGACY_METADATA_URL,
        secureUrl,
      ),
      actionTokenKey: r.required('ACTION_TOKEN_KEY', actionTokenKey),
    };
    const scope = r.optional('ACTIONABLE_MESSAGE_SCOPE', asString);
    if (scope !== undefined) config.scope = scope;
    if (legacyAudience !== undefined) config.legacyAudience = legacyAudience;
    if (sender !== undefined) config.sender = sender;
    if (domains !== undefined) config.allowedPerformerDomains = domains;
    const originator = r.optional('ACTIONABLE_MESSAGE_ORIGINATOR', asString);
    if (originator !== undefined) config.originator = originator;
    return config;
  },

  expenses(r, env) {
    return {
      ...readGraphApi(r, env),
      publicBaseUrl: r.required('PUBLIC_BASE_URL', parseOrigin),
      sender: r.required('ACTIONABLE_MESSAGE_SENDER', mail),
      originator: r.required('ACTIONABLE_MESSAGE_ORIGINATOR', asString),
      actionTokenKey: r.required('ACTION_TOKEN_KEY', actionTokenKey),
    };
  },

  outgoingWebhook(r) {
    const secrets = r.required('OUTGOING_WEBHOOK_SECRETS', (raw) => {
      const parsed: OutgoingWebhookSecret[] = [];
      for (const item of parseList(raw)) {
        // A base64 token never contains ':', so the first ':' separates an optional name.
        const colon = item.indexOf(':');
        const name = colon === -1 ? 'default' : item.slice(0, colon).trim();
        const key = decodeBase64(colon === -1 ? item : item.slice(colon + 1));
        if (!name || !key || parsed.some((s) => s.name === name)) return undefined;
        parsed.push({ name, key });
      }
      return parsed.length > 0 ? parsed : undefined;
    });
    return { secrets };
  },

  composeExtension(r) {
    const config: ComposeExtensionConfig = {
      publicBaseUrl: r.required('PUBLIC_BASE_URL', parseOrigin),
      botAppId: r.required('BOT_APP_ID', asString),
      openIdMetadataUrl: r.withDefault('BOT_OPENID_METADATA_URL', DEFAULTS.BOT_OPENID_METADATA_URL, secureUrl),
      tokenIssuer: r.withDefault('BOT_TOKEN_ISSUER', DEFAULTS.BOT_TOKEN_ISSUER, asString),
      authorityHost: r.withDefault('ENTRA_AUTHORITY_HOST', DEFAULTS.ENTRA_AUTHORITY_HOST, secureUrl),
      signin: r.withDefault('COMPOSE_EXTENSION_SIGNIN', DEFAULTS.COMPOSE_EXTENSION_SIGNIN, (raw) => {
        const value = raw.toLowerCase();
        return value === 'off' || value === 'entra' ? value : undefined;
      }),
    };
    const botTenantId = r.optional('BOT_TENANT_ID', (raw) => (isGuid(raw) ? raw : undefined));
    if (botTenantId !== undefined) config.botTenantId = botTenantId;
    return config;
  },

  signin(r) {
    return {
      publicBaseUrl: r.required('PUBLIC_BASE_URL', parseOrigin),
      authorityHost: r.withDefault('ENTRA_AUTHORITY_HOST', DEFAULTS.ENTRA_AUTHORITY_HOST, secureUrl),
      clientId: r.required('SIGNIN_CLIENT_ID', asString),
      clientSecret: r.required('SIGNIN_CLIENT_SECRET', asString),
      tenantId: r.required('SIGNIN_TENANT_ID', tenant),
    };
  },
};

/** Every setting each feature reads, for the cache key and for documentation tests. */
export const FEATURE_SETTINGS: { readonly [F in FeatureName]: readonly string[] } = {
  graphNotifications: ['GRAPH_CLIENT_STATE', 'NOTIFICATION_QUEUE'],
  graphApi: ['GRAPH_BASE_URL', 'AZURE_TENANT_ID', 'AZURE_CLIENT_ID', 'AZURE_CLIENT_SECRET', 'AZURE_CLIENT_CERTIFICATE_PATH'],
  graphSubscription: [
    'PUBLIC_BASE_URL',
    'GRAPH_CLIENT_STATE',
    'NOTIFICATION_QUEUE',
    'GRAPH_BASE_URL',
    'GRAPH_SUBSCRIPTION_RESOURCE',
    'GRAPH_CHANGE_TYPES',
    'DIRECTORY_FULL_SYNC_HOURS',
    'AZURE_TENANT_ID',
    'AZURE_CLIENT_ID',
    'AZURE_CLIENT_SECRET',
    'AZURE_CLIENT_CERTIFICATE_PATH',
  ],
  actionableMessages: [
    'PUBLIC_BASE_URL',
    'ENTRA_AUTHORITY_HOST',
    'ACTIONABLE_MESSAGE_AUDIENCE',
    'ACTIONABLE_MESSAGE_TENANT_ID',
    'ACTIONABLE_MESSAGE_SCOPE',
    'ACTIONABLE_MESSAGE_LEGACY_AUDIENCE',
    'ACTIONABLE_MESSAGE_LEGACY_METADATA_URL',
    'ACTIONABLE_MESSAGE_SENDER',
    'ACTIONABLE_MESSAGE_ALLOWED_PERFORMER_DOMAINS',
    'ACTIONABLE_MESSAGE_ORIGINATOR',
    'ACTION_TOKEN_KEY',
  ],
  expenses: [
    'PUBLIC_BASE_URL',
    'ACTIONABLE_MESSAGE_SENDER',
    'ACTIONABLE_MESSAGE_ORIGINATOR',
    'ACTION_TOKEN_KEY',
    'GRAPH_BASE_URL',
    'AZURE_TENANT_ID',
    'AZURE_CLIENT_ID',
    'AZURE_CLIENT_SECRET',
    'AZURE_CLIENT_CERTIFICATE_PATH',
  ],
  outgoingWebhook: ['OUTGOING_WEBHOOK_SECRETS'],
  composeExtension: [
    'PUBLIC_BASE_URL',
    'BOT_APP_ID',
    'BOT_OPENID_METADATA_URL',
    'BOT_TOKEN_ISSUER',
    'BOT_TENANT_ID',
    'ENTRA_AUTHORITY_HOST',
    'COMPOSE_EXTENSION_SIGNIN',
  ],
  signin: ['PUBLIC_BASE_URL', 'ENTRA_AUTHORITY_HOST', 'SIGNIN_CLIENT_ID', 'SIGNIN_CLIENT_SECRET', 'SIGNIN_TENANT_ID'],
};

const cache = new Map<FeatureName, { key: string; value: unknown }>();

/**
 * The feature's settings, parsed once and re-parsed only when one of the values it reads changes.
 * Throws NotConfiguredError naming every missing or malformed setting.
 */
export function featureConfig<F extends FeatureName>(feature: F, env: Env = process.env): FeatureConfigs[F] {
  const key = JSON.stringify(FEATURE_SETTINGS[feature].map((name) => env[name] ?? null));
  const hit = cache.get(feature);
  if (hit && hit.key === key) return hit.value as FeatureConfigs[F];
  const reader = new SettingsReader(env);
  const value = readers[feature](reader, env);
  if (reader.problems.length > 0) throw new NotConfiguredError(feature, [...new Set(reader.problems)]);
  cache.set(feature, { key, value });
  return value;
}

/** Which features are configured: names only, for the health endpoint. */
export function configuredFeatures(env: Env = process.env): Record<FeatureName, boolean> {
  const status = {} as Record<FeatureName, boolean>;
  for (const feature of Object.keys(readers) as FeatureName[]) {
    try {
      featureConfig(feature, env);
      status[feature] = true;
    } catch {
      status[feature] = false;
    }
  }
  return status;
}
