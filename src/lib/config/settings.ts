import { NotConfiguredError } from '../core/errors';
import { decodeBase64, isGuid, isMailAddress, parseSecureUrl } from '../core/validate';

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
  BOT_APP_TYPE: 'MultiTenant',
  COMPOSE_EXTENSION_SIGNIN: 'off',
  ACTIONABLE_MESSAGE_CARD: 'http',
} as const;

/** Resolved when the app loads, so that the host can index the queue and timer functions unconfigured. */
export function notificationQueueName(env: Env = process.env): string {
  return nonEmpty(env.NOTIFICATION_QUEUE) ?? DEFAULTS.NOTIFICATION_QUEUE;
}

/** The people of EXPENSE_READERS: object ids and addresses, lowercased. */
export interface ExpenseReaders {
  objectIds: ReadonlySet<string>;
  addresses: ReadonlySet<string>;
}

function parseExpenseReaders(raw: string): ExpenseReaders | undefined {
  const objectIds = new Set<string>();
  const addresses = new Set<string>();
  for (const item of parseList(raw)) {
    if (isGuid(item)) objectIds.add(item.toLowerCase());
    else if (isMailAddress(item)) addresses.add(item.toLowerCase());
    else return undefined;
  }
  return { objectIds, addresses };
}

/**
 * Read on every Teams path that shows an expense, which need no other expense setting. A malformed
 * list grants no one (the expenses feature reports it as not configured, naming EXPENSE_READERS).
 */
export function expenseReaders(env: Env = process.env): ExpenseReaders {
  const raw = nonEmpty(env.EXPENSE_READERS);
  return (raw && parseExpenseReaders(raw)) || { objectIds: new Set(), addresses: new Set() };
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

// ---------------------------------------------------------------------------------------------------
// The reader collects every problem of a feature before failing, so one log line names them all.

/**
 * App Service passes an unresolvable Key Vault reference through as its literal text, which for a
 * secret like GRAPH_CLIENT_STATE would be guessable: such a value counts as malformed.
 */
const UNRESOLVED_KEY_VAULT_REFERENCE = /^@Microsoft\.KeyVault\(/i;

/**
 * Reads one feature's settings and records the name of each setting it reads, so that the cache key and
 * the list of a feature's settings come from the readers themselves. Readers read every setting they may
 * use on every run (a branch decides how a value is used, not whether it is read).
 */
class SettingsReader {
  readonly problems: string[] = [];
  readonly names = new Set<string>();
  constructor(private readonly env: Env) {}

  private raw(name: string): string | undefined {
    this.names.add(name);
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

/** Which approval card is mailed: `Action.Http` buttons (1.0) or Universal Actions through the bot (1.4). */
export type ActionableMessageCard = 'http' | 'universal';

export interface ExpensesConfig extends GraphApiConfig {
  publicBaseUrl: string;
  sender: string;
  originator: string;
  actionTokenKey: Buffer;
  card: ActionableMessageCard;
}

/** The approval card's `Action.Execute` buttons and refresh, answered by the bot endpoint. */
export interface UniversalActionsConfig {
  actionTokenKey: Buffer;
  /** Written into the cards answered to Outlook, which shows only cards carrying the provider's originator. */
  originator?: string;
  allowedPerformerDomains?: readonly string[];
}

export interface OutgoingWebhookSecret {
  name: string;
  key: Buffer;
}

export interface OutgoingWebhookConfig {
  secrets: readonly OutgoingWebhookSecret[];
}

/** What the Azure Bot is (ARM `msaAppType`, botbuilder's `MicrosoftAppType`). */
export const BOT_APP_TYPES = ['MultiTenant', 'SingleTenant', 'UserAssignedMSI'] as const;
export type BotAppType = (typeof BOT_APP_TYPES)[number];

export interface ComposeExtensionConfig {
  publicBaseUrl: string;
  botAppId: string;
  openIdMetadataUrl: string;
  tokenIssuer: string;
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
  universalActions: UniversalActionsConfig;
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
const performerDomains = (raw: string): string[] | undefined => {
  const list = parseList(raw).map((d) => d.toLowerCase().replace(/^@/, ''));
  return list.length > 0 ? list : undefined;
};
const actionTokenKey = (raw: string): Buffer | undefined => {
  const key = decodeBase64(raw);
  return key && key.length >= 32 ? key : undefined;
};

function readGraphApi(r: SettingsReader): GraphApiConfig {
  const baseUrl = r.withDefault('GRAPH_BASE_URL', DEFAULTS.GRAPH_BASE_URL, secureUrl);
  const clientSecret = r.optional('AZURE_CLIENT_SECRET', asString);
  const certificatePath = r.optional('AZURE_CLIENT_CERTIFICATE_PATH', asString);
  const tenantId = r.optional('AZURE_TENANT_ID', tenant);
  const clientId = r.optional('AZURE_CLIENT_ID', asString);
  if (clientSecret === undefined && certificatePath === undefined) {
    return { baseUrl, credential: clientId === undefined ? { kind: 'managedIdentity' } : { kind: 'managedIdentity', clientId } };
  }
  // A secret or certificate is an app registration's, which needs its tenant and client id.
  if (tenantId === undefined) r.problems.push('AZURE_TENANT_ID');
  if (clientId === undefined) r.problems.push('AZURE_CLIENT_ID');
  const app = { tenantId: tenantId as string, clientId: clientId as string };
  return {
    baseUrl,
    credential:
      clientSecret !== undefined
        ? { kind: 'clientSecret', ...app, clientSecret }
        : { kind: 'clientCertificate', ...app, certificatePath: certificatePath as string },
  };
}

function readGraphNotifications(r: SettingsReader): GraphNotificationsConfig {
  return {
    clientState: r.required('GRAPH_CLIENT_STATE', clientState),
    queueName: r.withDefault('NOTIFICATION_QUEUE', DEFAULTS.NOTIFICATION_QUEUE, asString),
  };
}

/**
 * BOT_APP_TYPE says what the Azure Bot is; a single-tenant or managed-identity bot belongs to one tenant, so
 * those types need BOT_TENANT_ID (a GUID). The channels send every type the same token, so the token checks
 * depend on neither: they only catch a configuration that cannot describe the bot, and the feature's config
 * keeps neither.
 */
function readBotIdentity(r: SettingsReader): void {
  const type = r.withDefault('BOT_APP_TYPE', DEFAULTS.BOT_APP_TYPE, (raw): BotAppType | undefined =>
    BOT_APP_TYPES.find((t) => t.toLowerCase() === raw.toLowerCase()),
  );
  const tenantId = r.optional('BOT_TENANT_ID', (raw) => (isGuid(raw) ? raw : undefined));
  if (type !== undefined && type !== 'MultiTenant' && tenantId === undefined) r.problems.push('BOT_TENANT_ID');
}

const readers: { [F in FeatureName]: (r: SettingsReader) => FeatureConfigs[F] } = {
  graphNotifications: readGraphNotifications,

  graphApi: readGraphApi,

  graphSubscription(r) {
    const publicBaseUrl = r.required('PUBLIC_BASE_URL', parseOrigin);
    const changeTypes = r.withDefault('GRAPH_CHANGE_TYPES', DEFAULTS.GRAPH_CHANGE_TYPES, (raw) => {
      const list = parseList(raw);
      const allowed = ['created', 'updated', 'deleted'] as const;
      const valid = list.length > 0 && list.every((t) => (allowed as readonly string[]).includes(t));
      return valid ? (list as GraphSubscriptionConfig['changeTypes']) : undefined;
    });
    return {
      ...readGraphApi(r),
      ...readGraphNotifications(r),
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
    const domains = r.optional('ACTIONABLE_MESSAGE_ALLOWED_PERFORMER_DOMAINS', performerDomains);
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

  expenses(r) {
    // Teams paths read the list themselves (expenseReaders); a malformed one shows here, in health.
    r.optional('EXPENSE_READERS', parseExpenseReaders);
    const card = r.withDefault('ACTIONABLE_MESSAGE_CARD', DEFAULTS.ACTIONABLE_MESSAGE_CARD, (raw) => {
      const value = raw.toLowerCase();
      return value === 'http' || value === 'universal' ? value : undefined;
    });
    // Universal Actions go to the bot: without one, every click on the mailed card would fail.
    const botAppId = r.optional('BOT_APP_ID', asString);
    if (card === 'universal' && botAppId === undefined) r.problems.push('BOT_APP_ID');
    return {
      ...readGraphApi(r),
      publicBaseUrl: r.required('PUBLIC_BASE_URL', parseOrigin),
      sender: r.required('ACTIONABLE_MESSAGE_SENDER', mail),
      originator: r.required('ACTIONABLE_MESSAGE_ORIGINATOR', asString),
      actionTokenKey: r.required('ACTION_TOKEN_KEY', actionTokenKey),
      card,
    };
  },

  universalActions(r) {
    const config: UniversalActionsConfig = { actionTokenKey: r.required('ACTION_TOKEN_KEY', actionTokenKey) };
    const originator = r.optional('ACTIONABLE_MESSAGE_ORIGINATOR', asString);
    if (originator !== undefined) config.originator = originator;
    const domains = r.optional('ACTIONABLE_MESSAGE_ALLOWED_PERFORMER_DOMAINS', performerDomains);
    if (domains !== undefined) config.allowedPerformerDomains = domains;
    return config;
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
      signin: r.withDefault('COMPOSE_EXTENSION_SIGNIN', DEFAULTS.COMPOSE_EXTENSION_SIGNIN, (raw) => {
        const value = raw.toLowerCase();
        return value === 'off' || value === 'entra' ? value : undefined;
      }),
    };
    readBotIdentity(r);
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

/** The feature's settings (names only), as its reader reads them: for docs and infra checks. */
export function featureSettings(feature: FeatureName): readonly string[] {
  const reader = new SettingsReader({});
  readers[feature](reader);
  return [...reader.names];
}

export const FEATURE_NAMES = Object.keys(readers) as readonly FeatureName[];

/** The values of `names` in `env`: the cache key of a feature's parsed settings. */
const valuesOf = (names: ReadonlySet<string>, env: Env): string => JSON.stringify([...names].map((name) => env[name] ?? null));

const cache = new Map<FeatureName, { names: ReadonlySet<string>; key: string; value: unknown }>();

/**
 * The feature's settings, parsed once and re-parsed only when one of the values it reads changes.
 * Throws NotConfiguredError naming every missing or malformed setting.
 */
export function featureConfig<F extends FeatureName>(feature: F, env: Env = process.env): FeatureConfigs[F] {
  const hit = cache.get(feature);
  if (hit && hit.key === valuesOf(hit.names, env)) return hit.value as FeatureConfigs[F];
  const reader = new SettingsReader(env);
  const value = readers[feature](reader);
  if (reader.problems.length > 0) throw new NotConfiguredError(feature, [...new Set(reader.problems)]);
  cache.set(feature, { names: reader.names, key: valuesOf(reader.names, env), value });
  return value;
}

/** Which features are configured: names only, for the health endpoint. */
export function configuredFeatures(env: Env = process.env): Record<FeatureName, boolean> {
  const status = {} as Record<FeatureName, boolean>;
  for (const feature of FEATURE_NAMES) {
    try {
      featureConfig(feature, env);
      status[feature] = true;
    } catch {
      status[feature] = false;
    }
  }
  return status;
}
