import { createHash, timingSafeEqual } from 'node:crypto';

import { featureConfig } from '../config/settings';
import { isGuid } from '../core/validate';
import { withinDeadline } from '../core/deadline';
import { BadRequestError, UnavailableError, ensureError } from '../core/errors';
import { errorResponse, type HttpAnswer, type InboundRequest, isRecord, parseJsonBytes, readBody } from '../core/http';
import { logEvent, type Logger } from '../core/log';
import { enqueueJson } from '../clients/storage';
import { isLifecycleEvent, type LifecycleNotice, type NotificationQueueMessage, queueMessages } from './queue-message';

/**
 * The two Graph endpoints (`graphWebhook`, `graphLifecycle`) share this handler: the validation handshake,
 * then a `changeNotificationCollection` whose items are checked for `clientState` (in constant time) and
 * routed on `lifecycleEvent` vs `changeType`, wherever they arrive. The accepted ones are written to the
 * notification queue, a few messages per POST (user ids coalesced), before the 202; a failed or slow write
 * answers 503 so that Graph delivers again. Rejected items are dropped with a warning that never prints
 * the value, and the answer stays 202 so that a sender cannot learn whether its guess passed.
 */

const CHANGE_TYPES: readonly string[] = ['created', 'updated', 'deleted'];

/** One item of `value[]`, read leniently: real payloads differ from the documented ones. */
export type InboundNotification =
  | { kind: 'change'; changeType: string; userId: string; subscriptionId?: string; tenantId?: string }
  | ({ kind: 'lifecycle' } & LifecycleNotice)
  | { kind: 'ignored'; reason: string };

/** Graph waits 3 s and counts 2.9 s as slow; a queue write that has not finished by then is a failure. */
const ENQUEUE_DEADLINE_MS = 2000;
const MAX_VALIDATION_TOKEN = 4096;

export function validationResponse(token: string): HttpAnswer {
  // Echoed exactly (Graph compares it), so it is never HTML-escaped; text/plain and nosniff keep a
  // browser from treating a crafted token as markup.
  if (token.length > MAX_VALIDATION_TOKEN || [...token].some((c) => c < ' ' || c === '\u007f')) {
    throw new BadRequestError('validationToken is not a plausible token', ['validationToken']);
  }
  return {
    status: 200,
    headers: { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' },
    body: token,
  };
}

/** The collection envelope: `{"value":[…]}`, `validationTokens` and anything else beside it tolerated. */
export function parseNotificationCollection(body: unknown): Record<string, unknown>[] {
  if (!isRecord(body) || !Array.isArray(body.value)) {
    throw new BadRequestError('the body is not a change notification collection', ['value']);
  }
  if (!body.value.every(isRecord)) throw new BadRequestError('every item of value must be an object', ['value']);
  return body.value;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.length > 0 ? value : undefined);

export function classifyNotification(item: Record<string, unknown>): InboundNotification {
  const resourceData = isRecord(item.resourceData) ? item.resourceData : {};
  const tenantId = text(item.tenantId) ?? text(item.organizationId) ?? text(resourceData.organizationId);
  const subscriptionId = text(item.subscriptionId);
  const lifecycleEvent = text(item.lifecycleEvent);
  if (lifecycleEvent !== undefined) {
    if (!isLifecycleEvent(lifecycleEvent)) return { kind: 'ignored', reason: 'unknownLifecycleEvent' };
    if (!subscriptionId) return { kind: 'ignored', reason: 'noSubscriptionId' };
    return { kind: 'lifecycle', lifecycleEvent, subscriptionId, ...(tenantId ? { tenantId } : {}) };
  }
  const changeType = text(item.changeType);
  if (changeType === undefined || !CHANGE_TYPES.includes(changeType)) return { kind: 'ignored', reason: 'unknownChangeType' };
  const odataType = text(resourceData['@odata.type']);
  if (odataType !== undefined && odataType.toLowerCase() !== '#microsoft.graph.user') return { kind: 'ignored', reason: 'notAUser' };
  const resource = text(item.resource) ?? '';
  const fromResource = /^\/?users\/([^/]+)$/i.exec(resource)?.[1];
  const userId = text(resourceData.id) ?? fromResource;
  if (!userId || !isGuid(userId)) return { kind: 'ignored', reason: 'noUserId' };
  return {
    kind: 'change',
    changeType,
    userId: userId.toLowerCase(),
    ...(subscriptionId ? { subscriptionId } : {}),
    ...(tenantId ? { tenantId } : {}),
  };
}

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/**
 * Constant-time clientState check: both sides are hashed to 32 bytes first, so neither the length nor
 * the content of the secret shows in the timing. A missing or non-string value is hashed as well.
 */
function clientStateChecker(expected: string): (value: unknown) => boolean {
  const expectedDigest = digest(expected);
  return (value) => {
    const candidate = typeof value === 'string' ? value : '';
    const equal = timingSafeEqual(digest(candidate), expectedDigest);
    return equal && typeof value === 'string';
  };
}

/** A few messages for the whole POST: user ids de-duplicated and coalesced, lifecycle events together. */
export function queueMessagesFor(accepted: readonly InboundNotification[]): NotificationQueueMessage[] {
  const userIds = [...new Set(accepted.flatMap((n) => (n.kind === 'change' ? [n.userId] : [])))];
  const seen = new Set<string>();
  const events: LifecycleNotice[] = [];
  for (const n of accepted) {
    if (n.kind !== 'lifecycle') continue;
    const key = `${n.lifecycleEvent}\n${n.subscriptionId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    events.push({ lifecycleEvent: n.lifecycleEvent, subscriptionId: n.subscriptionId, ...(n.tenantId ? { tenantId: n.tenantId } : {}) });
  }
  return queueMessages(userIds, events);
}

/** Writes every message, in parallel, or fails with UnavailableError (also when the deadline passes). */
async function enqueueAll(queueName: string, messages: readonly NotificationQueueMessage[], context: Logger): Promise<void> {
  if (messages.length === 0) return;
  try {
    await withinDeadline(Promise.all(messages.map((message) => enqueueJson(queueName, message))), ENQUEUE_DEADLINE_MS);
  } catch (err) {
    logEvent(context, 'error', 'graph.notifications.enqueueFailed', { messages: messages.length, error: ensureError(err).message });
    throw new UnavailableError('the notifications could not be stored', { cause: err });
  }
}

export async function handleGraphPost(
  request: InboundRequest,
  context: Logger,
  endpoint: 'notifications' | 'lifecycle',
): Promise<HttpAnswer> {
  try {
    const config = featureConfig('graphNotifications');
    const validationToken = request.query.get('validationToken');
    if (validationToken !== null) {
      logEvent(context, 'info', 'graph.validation.answered', { endpoint });
      return validationResponse(validationToken);
    }
    const items = parseNotificationCollection(parseJsonBytes(await readBody(request)));
    const clientStateMatches = clientStateChecker(config.clientState);
    const accepted: InboundNotification[] = [];
    let rejected = 0;
    const ignored: Record<string, number> = {};
    for (const item of items) {
      if (!clientStateMatches(item.clientState)) {
        rejected++;
        continue;
      }
      const notification = classifyNotification(item);
      if (notification.kind === 'ignored') ignored[notification.reason] = (ignored[notification.reason] ?? 0) + 1;
      else accepted.push(notification);
    }
    if (rejected > 0) {
      logEvent(context, 'warn', 'graph.notifications.clientStateMismatch', { endpoint, rejected });
    }
    if (Object.keys(ignored).length > 0) {
      logEvent(context, 'warn', 'graph.notifications.ignored', { endpoint, ...ignored });
    }
    const messages = queueMessagesFor(accepted);
    await enqueueAll(config.queueName, messages, context);
    logEvent(context, 'info', 'graph.notifications.accepted', {
      endpoint,
      received: items.length,
      accepted: accepted.length,
      messages: messages.length,
    });
    return { status: 202, headers: { 'Cache-Control': 'no-store' } };
  } catch (err) {
    return errorResponse(err, context, 'graphNotifications');
  }
}
