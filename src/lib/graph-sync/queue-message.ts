import { MalformedQueueMessageError } from '../core/errors';
import { isRecord } from '../core/http';
import { isGuid } from '../core/validate';
import { decodeQueueMessage } from '../clients/storage';

/**
 * The notification queue's message contract, both sides: what the Graph endpoints write (`queueMessages`)
 * and what `processNotifications` accepts (`parseQueueMessage`). One message is JSON, base64-encoded by the
 * queue client, and stays inside the queue's 64 KB.
 */

const LIFECYCLE_EVENTS = ['reauthorizationRequired', 'subscriptionRemoved', 'missed'] as const;
export type LifecycleEvent = (typeof LIFECYCLE_EVENTS)[number];
export const isLifecycleEvent = (value: unknown): value is LifecycleEvent =>
  (LIFECYCLE_EVENTS as readonly unknown[]).includes(value);

export interface LifecycleNotice {
  lifecycleEvent: LifecycleEvent;
  subscriptionId: string;
  tenantId?: string;
}

/** What the Graph endpoints put on the queue (base64 JSON, one of these per message). */
export type NotificationQueueMessage =
  | { type: 'userChanges'; userIds: string[] }
  | { type: 'lifecycle'; events: LifecycleNotice[] };

/** 1,000 GUIDs make a message of about 52 KB once base64-encoded, inside the queue's 64 KB. */
export const USER_IDS_PER_MESSAGE = 1000;
const LIFECYCLE_PER_MESSAGE = 200;

/** User ids and lifecycle events, already de-duplicated, as the fewest messages that fit. */
export function queueMessages(userIds: readonly string[], events: readonly LifecycleNotice[]): NotificationQueueMessage[] {
  const messages: NotificationQueueMessage[] = [];
  for (let i = 0; i < events.length; i += LIFECYCLE_PER_MESSAGE) {
    messages.push({ type: 'lifecycle', events: events.slice(i, i + LIFECYCLE_PER_MESSAGE) });
  }
  for (let i = 0; i < userIds.length; i += USER_IDS_PER_MESSAGE) {
    messages.push({ type: 'userChanges', userIds: userIds.slice(i, i + USER_IDS_PER_MESSAGE) });
  }
  return messages;
}

/** The trigger hands over parsed JSON; a message written by hand may arrive as a string. */
export function parseQueueMessage(message: unknown): NotificationQueueMessage {
  let value = message;
  if (typeof message === 'string') {
    try {
      value = JSON.parse(message) as unknown;
    } catch {
      try {
        value = decodeQueueMessage(message);
      } catch {
        throw new MalformedQueueMessageError('not JSON');
      }
    }
  }
  if (!isRecord(value)) throw new MalformedQueueMessageError('not an object');
  switch (value.type) {
    case 'userChanges': {
      const ids = value.userIds;
      if (!Array.isArray(ids) || !ids.every((id): id is string => typeof id === 'string' && isGuid(id))) {
        throw new MalformedQueueMessageError('userIds must be GUIDs');
      }
      return { type: 'userChanges', userIds: ids };
    }
    case 'lifecycle': {
      const events = value.events;
      const valid = (e: unknown): e is LifecycleNotice =>
        isRecord(e) && typeof e.subscriptionId === 'string' && isLifecycleEvent(e.lifecycleEvent);
      if (!Array.isArray(events) || !events.every(valid)) throw new MalformedQueueMessageError('bad lifecycle events');
      return { type: 'lifecycle', events };
    }
    default:
      throw new MalformedQueueMessageError('unknown type');
  }
}
