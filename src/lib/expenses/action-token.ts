import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The app's own limited-purpose token on every Approve/Reject button: an HMAC-SHA256 (ACTION_TOKEN_KEY)
 * binding one expense to its approver for one purpose. It is not an authentication (the bearer token is);
 * it proves that this app issued the card and binds the click to that one expense, which the legacy
 * `sender` claim used to prove and Entra tokens do not.
 *
 * Format: `v1.<base64url MAC>`. The MAC covers a JSON array (an unambiguous encoding: no choice of id
 * and approver can collide with another) of a version tag, the purpose, the id and the lower-cased
 * approver. Verification compares in constant time.
 */

export type ActionTokenPurpose = 'expense-decision';

const VERSION = 'v1';
const MAC_BYTES = 32;

function mac(key: Buffer, purpose: ActionTokenPurpose, expenseId: string, approver: string): Buffer {
  const message = JSON.stringify([`action-token/${VERSION}`, purpose, expenseId, approver.toLowerCase()]);
  return createHmac('sha256', key).update(message, 'utf8').digest();
}

export function issueActionToken(key: Buffer, purpose: ActionTokenPurpose, expenseId: string, approver: string): string {
  return `${VERSION}.${mac(key, purpose, expenseId, approver).toString('base64url')}`;
}

export function verifyActionToken(
  key: Buffer,
  token: string,
  purpose: ActionTokenPurpose,
  expenseId: string,
  approver: string,
): boolean {
  const match = /^v1\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!match?.[1]) return false;
  const given = Buffer.from(match[1], 'base64url');
  if (given.length !== MAC_BYTES) return false;
  return timingSafeEqual(given, mac(key, purpose, expenseId, approver));
}
