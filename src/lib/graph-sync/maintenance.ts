
import { featureConfig } from '../config/settings';
import { ensureError, NotConfiguredError } from '../core/errors';
import { graphClient } from '../clients/graph-client';
import { runDeltaSync } from './delta';
import { withSyncLease } from './state';
import { ensureSubscription } from './subscriptions';
import { logEvent, type Logger } from '../core/log';

/**
 * The timer's work: make sure the subscription exists and is renewed, then run the delta sync (full when
 * never synced or a resync is owed, otherwise a catch-up). The sync runs even when the subscription step
 * failed (delta is the backstop for lost notifications); the first failure is thrown at the end so that
 * the run shows as failed. Both run under the sync lease; a run that finds it held by another does nothing.
 */
export async function maintainGraphSubscription(context: Logger): Promise<void> {
  let config;
  try {
    config = featureConfig('graphSubscription');
  } catch (err) {
    if (!(err instanceof NotConfiguredError)) throw err;
    logEvent(context, 'error', 'feature.notConfigured', { feature: err.feature, settings: err.settings });
    return;
  }
  const client = await graphClient(config);
  const settings = config;
  // One lease for the upkeep and the sync: concurrent runs cannot both create a subscription.
  const held = await withSyncLease(async (lease) => {
    let failure: Error | undefined;
    try {
      const outcome = await ensureSubscription(client, settings);
      logEvent(context, 'info', 'graph.subscription.ensured', { ...outcome });
    } catch (err) {
      failure = ensureError(err);
      logEvent(context, 'error', 'graph.subscription.failed', { error: failure.message });
    }
    try {
      const outcome = await runDeltaSync(client, settings.baseUrl, { fullSyncEveryMs: settings.fullSyncEveryMs, lease });
      logEvent(context, 'info', 'graph.delta.synced', { trigger: 'timer', ...outcome });
    } catch (err) {
      const error = ensureError(err);
      failure ??= error;
      logEvent(context, 'error', 'graph.delta.failed', { error: error.message });
    }
    if (failure) throw failure;
  });
  if (held.kind === 'busy') logEvent(context, 'info', 'graph.maintenance.busy', {});
}
