import { BadRequestError } from '../core/errors';
import { isRecord } from '../core/http';

/**
 * The Bot Framework activities a messaging extension receives, as discriminated unions on `type` and then
 * `name` (after microsoft/teams.ts `activities/invoke/message-extension`). Only the fields the app reads
 * are typed; the parser checks them, so a handler never meets a shape its type does not promise.
 */

export interface ChannelAccount {
  id: string;
  name?: string;
  /** The user's Entra object id; Teams guarantees it is the authenticated user's. */
  aadObjectId?: string;
}

/** The envelope every activity carries; `serviceUrl` and `channelId` are bound to the bearer token. */
export interface ActivityEnvelope {
  channelId: string;
  serviceUrl: string;
  from: ChannelAccount;
  id?: string;
  conversation?: { id: string };
  recipient?: ChannelAccount;
}

export interface MessagingExtensionParameter {
  name: string;
  value: string;
}

export interface MessagingExtensionQuery {
  commandId: string;
  parameters: MessagingExtensionParameter[];
  queryOptions: { skip: number; count: number };
  /** The code the sign-in pop-up handed to `notifySuccess`, on the query Teams re-sends after sign-in. */
  state?: string;
}

export interface AppBasedLinkQuery {
  url: string;
  state?: string;
}

export type QueryInvokeActivity = ActivityEnvelope & {
  type: 'invoke';
  name: 'composeExtension/query';
  value: MessagingExtensionQuery;
};
export type SelectItemInvokeActivity = ActivityEnvelope & {
  type: 'invoke';
  name: 'composeExtension/selectItem';
  /** Whatever the preview's `tap.value` carried. */
  value: Record<string, unknown>;
};
export type QueryLinkInvokeActivity = ActivityEnvelope & {
  type: 'invoke';
  name: 'composeExtension/queryLink';
  value: AppBasedLinkQuery;
};
export type QuerySettingUrlInvokeActivity = ActivityEnvelope & {
  type: 'invoke';
  name: 'composeExtension/querySettingUrl';
  value: MessagingExtensionQuery;
};
export type SettingInvokeActivity = ActivityEnvelope & {
  type: 'invoke';
  name: 'composeExtension/setting';
  value: { state?: string };
};

export type ComposeExtensionInvokeActivity =
  | QueryInvokeActivity
  | SelectItemInvokeActivity
  | QueryLinkInvokeActivity
  | QuerySettingUrlInvokeActivity
  | SettingInvokeActivity;

export type ComposeExtensionInvokeName = ComposeExtensionInvokeActivity['name'];

/** An invoke this app does not handle (answered 501, as botbuilder does). */
export type UnhandledInvokeActivity = ActivityEnvelope & { type: 'invoke'; name: string; value?: unknown };

/** Anything that is not an invoke: message, conversationUpdate, typing… (answered 200, empty). */
export type NonInvokeActivity = ActivityEnvelope & { type: string };

export type BotActivity =
  | { kind: 'composeExtension'; activity: ComposeExtensionInvokeActivity }
  | { kind: 'unhandledInvoke'; activity: UnhandledInvokeActivity }
  | { kind: 'other'; activity: NonInvokeActivity };

const str = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);

/**
 * The fields bound to the token (`serviceUrl`, `channelId`), read leniently before verification so
 * that a body without them simply fails the `serviceurl` check (401) instead of telling a stranger more.
 */
export function tokenBoundFields(body: unknown): { serviceUrl?: string; channelId?: string } {
  if (!isRecord(body)) return {};
  const serviceUrl = str(body.serviceUrl);
  const channelId = str(body.channelId);
  return { ...(serviceUrl !== undefined ? { serviceUrl } : {}), ...(channelId !== undefined ? { channelId } : {}) };
}

function parseAccount(value: unknown, field: string): ChannelAccount {
  if (!isRecord(value) || typeof value.id !== 'string' || value.id.length === 0) {
    throw new BadRequestError('activity lacks a valid account', [field]);
  }
  const account: ChannelAccount = { id: value.id };
  const name = str(value.name);
  const aadObjectId = str(value.aadObjectId);
  if (name !== undefined) account.name = name;
  if (aadObjectId !== undefined) account.aadObjectId = aadObjectId;
  return account;
}

function parseEnvelope(body: Record<string, unknown>): ActivityEnvelope {
  const channelId = str(body.channelId);
  const serviceUrl = str(body.serviceUrl);
  if (!channelId || !serviceUrl) throw new BadRequestError('activity lacks channelId or serviceUrl', ['channelId', 'serviceUrl']);
  const envelope: ActivityEnvelope = { channelId, serviceUrl, from: parseAccount(body.from, 'from') };
  const id = str(body.id);
  if (id !== undefined) envelope.id = id;
  if (isRecord(body.conversation) && typeof body.conversation.id === 'string') envelope.conversation = { id: body.conversation.id };
  if (isRecord(body.recipient) && typeof body.recipient.id === 'string') envelope.recipient = parseAccount(body.recipient, 'recipient');
  return envelope;
}

/** Teams asks for 25 by default; a page is never larger than this. */
const MAX_PAGE_SIZE = 25;

function parseQuery(value: unknown): MessagingExtensionQuery {
  if (!isRecord(value)) throw new BadRequestError('query value is missing', ['value']);
  // querySettingUrl may come without a commandId; an empty id is simply an unknown command.
  const commandId = str(value.commandId) ?? '';
  const rawParameters = value.parameters === undefined ? [] : value.parameters;
  if (!Array.isArray(rawParameters)) throw new BadRequestError('parameters must be an array', ['value.parameters']);
  const parameters = rawParameters.map((p, i): MessagingExtensionParameter => {
    if (!isRecord(p) || typeof p.name !== 'string') throw new BadRequestError('malformed parameter', [`value.parameters[${i}]`]);
    // Teams sends strings; a number or boolean is read as its text, anything else as no text.
    const raw = p.value;
    return { name: p.name, value: typeof raw === 'string' || typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : '' };
  });
  const options = isRecord(value.queryOptions) ? value.queryOptions : {};
  const skip = typeof options.skip === 'number' && Number.isInteger(options.skip) && options.skip >= 0 ? options.skip : 0;
  const count =
    typeof options.count === 'number' && Number.isInteger(options.count) && options.count > 0
      ? Math.min(options.count, MAX_PAGE_SIZE)
      : MAX_PAGE_SIZE;
  const query: MessagingExtensionQuery = { commandId, parameters, queryOptions: { skip, count } };
  const state = str(value.state);
  if (state !== undefined) query.state = state;
  return query;
}

/** Parses a verified activity into its union member; a malformed known invoke is a 400. */
export function parseBotActivity(body: unknown): BotActivity {
  if (!isRecord(body) || typeof body.type !== 'string') throw new BadRequestError('activity lacks a type', ['type']);
  const envelope = parseEnvelope(body);
  if (body.type !== 'invoke') return { kind: 'other', activity: { ...envelope, type: body.type } };
  const name = str(body.name) ?? '';
  const value: unknown = body.value;
  switch (name) {
    case 'composeExtension/query':
    case 'composeExtension/querySettingUrl':
      return { kind: 'composeExtension', activity: { ...envelope, type: 'invoke', name, value: parseQuery(value) } };
    case 'composeExtension/selectItem':
      if (!isRecord(value)) throw new BadRequestError('selectItem value must be an object', ['value']);
      return { kind: 'composeExtension', activity: { ...envelope, type: 'invoke', name, value } };
    case 'composeExtension/queryLink': {
      if (!isRecord(value) || typeof value.url !== 'string') throw new BadRequestError('queryLink needs value.url', ['value.url']);
      const link: AppBasedLinkQuery = { url: value.url };
      const state = str(value.state);
      if (state !== undefined) link.state = state;
      return { kind: 'composeExtension', activity: { ...envelope, type: 'invoke', name, value: link } };
    }
    case 'composeExtension/setting': {
      const state = isRecord(value) ? str(value.state) : undefined;
      return { kind: 'composeExtension', activity: { ...envelope, type: 'invoke', name, value: state === undefined ? {} : { state } } };
    }
    default:
      return { kind: 'unhandledInvoke', activity: { ...envelope, type: 'invoke', name, value } };
  }
}
