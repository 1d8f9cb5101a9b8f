import type { Client } from '@microsoft/microsoft-graph-client';

import type { GraphSubscriptionConfig } from '../config/settings';
import { isRecord } from '../core/http';
import { callGraph, graphFailure, graphLinkPath } from '../clients/graph-retry';
import { clientStateFingerprint, readSubscriptionState, requestResync, writeSubscriptionState } from './state';

/**
 * The one Graph subscription of this app: for (`resource`, `notificationUrl`), with the lifecycle URL,
 * the change types and the clientState of the configuration. `ensureSubscription` lists the app's
 * subscriptions (following `@odata.nextLink`), keeps the one that matches, renews it when less than a day
 * is left, deletes duplicates and near-misses (a lifecycle URL cannot be added to an existing
 * subscription), and creates one when none is left. A subscription that Graph no longer knows (404 on
 * renewal) is re-created, and a re-created subscription owes a resync: changes in the gap were not sent.
 */

/** Graph's maximum for `users` is 41,760 minutes (29 days); stay an hour inside it against clock skew. */
const MAX_EXPIRY_MINUTES = 41_760;
const EXPIRY_MARGIN_MINUTES = 60;
/** Renew when less than this is left (the timer runs hourly by default). */
const RENEW_BEFORE_MS = 24 * 60 * 60 * 1000;

export interface GraphSubscription {
  id: string;
  resource: string;
  changeType: string;
  notificationUrl: string;
  lifecycleNotificationUrl?: string | null;
  expirationDateTime: string;
}

export type SubscriptionOutcome =
  | { action: 'kept' | 'renewed' | 'created' | 'recreated'; subscriptionId: string; deleted: number; expirationDateTime: string };

function expiryFrom(now: number): string {
  return new Date(now + (MAX_EXPIRY_MINUTES - EXPIRY_MARGIN_MINUTES) * 60_000).toISOString();
}

async function listSubscriptions(client: Client, baseUrl: string): Promise<GraphSubscription[]> {
  const all: GraphSubscription[] = [];
  let next: string | undefined = '/subscriptions';
  while (next) {
    const url: string = next;
    const page = await callGraph(client, 'get', graphLinkPath(url, baseUrl));
    // A broken page must not read as "no subscription": that would create a duplicate.
    if (!isRecord(page)) throw new Error('Graph answered a subscriptions page that is not an object');
    for (const item of Array.isArray(page.value) ? page.value : []) {
      if (isRecord(item) && typeof item.id === 'string') all.push(item as unknown as GraphSubscription);
    }
    next = typeof page['@odata.nextLink'] === 'string' ? page['@odata.nextLink'] : undefined;
  }
  return all;
}

const sameUrl = (a: string | null | undefined, b: string): boolean => typeof a === 'string' && a.toLowerCase() === b.toLowerCase();
const changeTypeSet = (value: string): string => value.split(',').map((t) => t.trim().toLowerCase()).sort().join(',');

export async function ensureSubscription(
  client: Client,
  config: GraphSubscriptionConfig,
  now = Date.now(),
): Promise<SubscriptionOutcome> {
  const stored = await readSubscriptionState();
  const fingerprint = clientStateFingerprint(config.clientState);
  const ours = (await listSubscriptions(client, config.baseUrl)).filter(
    (s) => sameUrl(s.notificationUrl, config.notificationUrl) && s.resource.toLowerCase() === config.resource.toLowerCase(),
  );
  const wanted = changeTypeSet(config.changeTypes.join(','));
  // Only the subscription this app made (its id is stored) can be kept: Graph never shows its clientState.
  const keep = ours.find(
    (s) =>
      s.id === stored.subscriptionId &&
      stored.clientStateFingerprint === fingerprint &&
      sameUrl(s.lifecycleNotificationUrl, config.lifecycleNotificationUrl) &&
      changeTypeSet(s.changeType) === wanted,
  );
  let deleted = 0;
  for (const extra of ours.filter((s) => s !== keep)) {
    await deleteSubscription(client, extra.id);
    deleted++;
  }
  if (keep) {
    if (Date.parse(keep.expirationDateTime) - now >= RENEW_BEFORE_MS) {
      return { action: 'kept', subscriptionId: keep.id, deleted, expirationDateTime: keep.expirationDateTime };
    }
    const renewed = await renewSubscription(client, keep.id, now);
    if (renewed) return { action: 'renewed', subscriptionId: keep.id, deleted, expirationDateTime: renewed };
    const created = await createSubscription(client, config, now);
    return { action: 'recreated', ...created, deleted };
  }
  const created = await createSubscription(client, config, now);
  return { action: stored.subscriptionId ? 'recreated' : 'created', ...created, deleted };
}

/** PATCHes a new expiry (which also reauthorizes); undefined when Graph no longer knows the subscription. */
async function renewSubscription(client: Client, subscriptionId: string, now = Date.now()): Promise<string | undefined> {
  const expirationDateTime = expiryFrom(now);
  try {
    await callGraph(client, 'patch', `/subscriptions/${encodeURIComponent(subscriptionId)}`, { expirationDateTime });
    return expirationDateTime;
  } catch (err) {
    if (graphFailure(err).status === 404) return undefined;
    throw err;
  }
}

async function createSubscription(
  client: Client,
  config: GraphSubscriptionConfig,
  now: number,
): Promise<{ subscriptionId: string; expirationDateTime: string }> {
  const body = {
    changeType: config.changeTypes.join(','),
    notificationUrl: config.notificationUrl,
    lifecycleNotificationUrl: config.lifecycleNotificationUrl,
    resource: config.resource,
    expirationDateTime: expiryFrom(now),
    clientState: config.clientState,
  };
  const created = await callGraph(client, 'post', '/subscriptions', body);
  if (!isRecord(created) || typeof created.id !== 'string') throw new Error('Graph created a subscription without an id');
  await writeSubscriptionState({ subscriptionId: created.id, clientStateFingerprint: clientStateFingerprint(config.clientState) });
  // Notifications of the gap before this subscription existed were never sent: catch up with delta.
  await requestResync();
  return {
    subscriptionId: created.id,
    expirationDateTime: typeof created.expirationDateTime === 'string' ? created.expirationDateTime : body.expirationDateTime,
  };
}

async function deleteSubscription(client: Client, subscriptionId: string): Promise<void> {
  try {
    await callGraph(client, 'delete', `/subscriptions/${encodeURIComponent(subscriptionId)}`);
  } catch (err) {
    if (graphFailure(err).status !== 404) throw err;
  }
}

/** `reauthorizationRequired`: renew (PATCH) the subscription; when Graph no longer has it, make the one we need. */
export async function reauthorize(client: Client, config: GraphSubscriptionConfig, subscriptionId: string): Promise<SubscriptionOutcome> {
  const renewed = await renewSubscription(client, subscriptionId);
  if (renewed) return { action: 'renewed', subscriptionId, deleted: 0, expirationDateTime: renewed };
  return ensureSubscription(client, config);
}
