
import { featureConfig } from '../config/settings';
import { applyUserChanges } from '../directory/directory';
import { graphClient } from '../clients/graph-client';
import { runDeltaSync } from './delta';
import { type LifecycleEvent, type LifecycleNotice, parseQueueMessage } from './queue-message';
import { requestResync, withSyncLease } from './state';
import { ensureSubscription, reauthorize } from './subscriptions';
import { fetchUsersByIds } from './users';
import { logEvent, type Logger } from '../core/log';

/**
 * `processNotifications`: one queue message at a time. User changes: the ids are fetched from Graph in
 * bulk and the fetched state is applied (a fetch returns the current state, so duplicates, replays and
 * out-of-order deliveries all converge; a user the fetch does not return, `deleted` ones included, leaves
 * the directory). Lifecycle events: renew, re-create then resync, resync. Any failure is thrown after the
 * retry budget, so the host retries the message and finally moves it to the poison queue; nothing is
 * acknowledged that was not applied.
 */

export async function processNotificationMessage(message: unknown, context: Logger): Promise<void> {
  const parsed = parseQueueMessage(message);
  if (parsed.type === 'userChanges') await applyUserNotifications(parsed.userIds, context);
  else await handleLifecycleEvents(parsed.events, context);
}

async function applyUserNotifications(userIds: readonly string[], context: Logger): Promise<void> {
  const client = await graphClient(featureConfig('graphApi'));
  const { found, missing, requests, throttled } = await fetchUsersByIds(client, userIds);
  const { skipped } = await applyUserChanges([
    ...found.map(({ user, readAt }) => ({ kind: 'replace' as const, user, readAt })),
    ...missing.map(({ id, readAt }) => ({ kind: 'remove' as const, id, readAt })),
  ]);
  // One user the directory cannot hold must not hold back the others (the message is acknowledged).
  if (skipped.length > 0) logEvent(context, 'error', 'graph.users.skipped', { count: skipped.length, userIds: skipped });
  logEvent(context, 'info', 'graph.users.applied', {
    ids: userIds.length,
    updated: found.length - skipped.length,
    removed: missing.length,
    graphRequests: requests,
    graphThrottled: throttled,
  });
}

async function handleLifecycleEvents(events: readonly LifecycleNotice[], context: Logger): Promise<void> {
  const config = featureConfig('graphSubscription');
  const client = await graphClient(config);
  const of = (event: LifecycleEvent): string[] => [
    ...new Set(events.filter((e) => e.lifecycleEvent === event).map((e) => e.subscriptionId)),
  ];
  const reauthorizations = of('reauthorizationRequired');
  const removed = of('subscriptionRemoved');
  const missed = of('missed');
  // Owed before anything else, so that it is recorded even when another run holds the lease.
  if (removed.length > 0 || missed.length > 0) await requestResync();
  if (missed.length > 0) logEvent(context, 'info', 'graph.lifecycle.missed', { subscriptionIds: missed });
  if (reauthorizations.length === 0 && removed.length === 0 && missed.length === 0) return;
  // Subscription upkeep and sync under the one lease, as the timer does them: two runs never both create.
  const held = await withSyncLease(async (lease) => {
    for (const subscriptionId of reauthorizations) {
      const outcome = await reauthorize(client, config, subscriptionId);
      logEvent(context, 'info', 'graph.lifecycle.reauthorized', { subscriptionId, action: outcome.action, newSubscriptionId: outcome.subscriptionId });
    }
    if (removed.length > 0) {
      const outcome = await ensureSubscription(client, config);
      logEvent(context, 'info', 'graph.lifecycle.subscriptionRemoved', { subscriptionIds: removed, action: outcome.action, newSubscriptionId: outcome.subscriptionId });
    }
    if (removed.length > 0 || missed.length > 0) {
      const outcome = await runDeltaSync(client, config.baseUrl, { fullSyncEveryMs: config.fullSyncEveryMs, lease });
      logEvent(context, 'info', 'graph.delta.synced', { trigger: 'lifecycle', ...outcome });
    }
  });
  // The holder is another run (the timer, or a sync): the timer's next run renews, re-creates and resyncs.
  if (held.kind === 'busy') logEvent(context, 'warn', 'graph.lifecycle.busy', { reauthorizations, removed, missed });
}
