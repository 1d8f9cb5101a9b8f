import assert from 'node:assert/strict';
import { after, before } from 'node:test';

import type { HttpResponseInit } from '@azure/functions';

import { getExpense } from '../../../src/lib/expenses/store';
import type { RecordedRequest } from '../../../tools/stand-ins/loopback';
import { setEnv } from '../../../tools/stand-ins/env';
import { settings, type StandIns, startStandIns } from '../../../tools/stand-ins/outlook';

export * from '../../../tools/stand-ins/outlook';

/** The actionable-message tests' own helpers: stand-ins per test file, and reading the mail and answers. */

/**
 * The stand-ins, started with their settings applied before the file's tests and stopped (settings
 * restored) after them. The object is filled in by the hook, so tests read it once it has run.
 */
export function useStandIns(): StandIns {
  const standIns = {} as StandIns;
  let restoreEnv = (): void => {};
  before(async () => {
    Object.assign(standIns, await startStandIns());
    restoreEnv = setEnv(settings(standIns));
  });
  after(async () => {
    restoreEnv();
    await standIns.close();
  });
  return standIns;
}

/** The Adaptive Card out of an approval mail's HTML head, as Outlook finds it. */
export function cardFromMail(mail: RecordedRequest): { card: Record<string, unknown>; html: string; to: string; subject: string } {
  const payload = JSON.parse(mail.body.toString('utf8')) as {
    message: { subject: string; body: { contentType: string; content: string }; toRecipients: { emailAddress: { address: string } }[] };
  };
  assert.equal(payload.message.body.contentType, 'HTML');
  const html = payload.message.body.content;
  const head = /<head>([\s\S]*?)<\/head>/i.exec(html)?.[1] ?? '';
  const scripts = [...head.matchAll(/<script type="application\/adaptivecard\+json">([\s\S]*?)<\/script>/gi)];
  assert.equal(scripts.length, 1, 'exactly one card in the head');
  return {
    card: JSON.parse(scripts[0]?.[1] ?? '') as Record<string, unknown>,
    html,
    to: payload.message.toRecipients[0]?.emailAddress.address ?? '',
    subject: payload.message.subject,
  };
}

export interface HttpAction {
  type: string;
  title: string;
  method: string;
  url: string;
  body: string;
  headers?: { name: string; value: string }[];
}

export function cardActions(card: Record<string, unknown>): HttpAction[] {
  return (card.actions as HttpAction[] | undefined) ?? [];
}

/** What Outlook posts for a button: the action's body with the comment input substituted (JSON-escaped). */
export function outlookBody(action: HttpAction, comment: string): string {
  return action.body.replace('{{comment.value}}', JSON.stringify(comment).slice(1, -1));
}

export function header(response: HttpResponseInit, name: string): string | undefined {
  const headers = new Headers(response.headers);
  return headers.get(name) ?? undefined;
}

/** Every actionable-message answer says something to the user, naming neither the performer nor a time. */
export function assertCardStatus(response: HttpResponseInit, expected?: RegExp): string {
  const status = header(response, 'CARD-ACTION-STATUS');
  assert.ok(status, `CARD-ACTION-STATUS on a ${response.status} answer`);
  assert.doesNotMatch(status, /@|\d{1,2}:\d{2}/);
  if (expected) assert.match(status, expected);
  return status;
}

export async function assertUnchanged(id: string): Promise<void> {
  const expense = await getExpense(id);
  assert.equal(expense?.status, 'pending');
  assert.equal(expense.decidedBy, undefined);
  assert.equal(expense.comment, undefined);
}

/** Every node of a card the predicate accepts, depth first. */
export function findAll(value: unknown, predicate: (node: Record<string, unknown>) => boolean): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.flatMap((item) => findAll(item, predicate));
  if (typeof value !== 'object' || value === null) return [];
  const node = value as Record<string, unknown>;
  return [...(predicate(node) ? [node] : []), ...Object.values(node).flatMap((child) => findAll(child, predicate))];
}
