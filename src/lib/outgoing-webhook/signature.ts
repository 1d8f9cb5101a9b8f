import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';

import type { OutgoingWebhookSecret } from '../config/settings';
import { UnauthenticatedError } from '../core/errors';

/**
 * Teams signs each outgoing-webhook request with HMAC-SHA256 over the exact body bytes, keyed with the
 * base64-decoded security token shown when the webhook was created, and sends
 * `Authorization: HMAC <base64 digest>`. The digest is checked over the bytes as received, before
 * anything parses them.
 */

/** A SHA-256 digest in canonical standard base64: 43 characters and one `=`. */
const DIGEST_BASE64 = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

/**
 * `HMAC <token68>`. The scheme is case-insensitive and one or more spaces may follow it (RFC 9110
 * §11.1/§11.4); what follows must be exactly one canonical base64 SHA-256 digest.
 */
const AUTHORIZATION = /^HMAC +(\S+)$/i;

/** The claimed digest from the Authorization header, or an UnauthenticatedError saying what was wrong. */
export function claimedDigest(authorization: string | null): Buffer {
  if (authorization === null || authorization.trim() === '') throw new UnauthenticatedError('missing-header');
  const match = AUTHORIZATION.exec(authorization.trim());
  const encoded = match?.[1];
  if (encoded === undefined) throw new UnauthenticatedError('malformed-header');
  if (!DIGEST_BASE64.test(encoded)) throw new UnauthenticatedError('malformed-signature');
  return Buffer.from(encoded, 'base64');
}

/** Constant-time equality of two digests; digests of different lengths are simply unequal. */
export function digestsEqual(expected: Buffer, claimed: Buffer): boolean {
  return expected.length === claimed.length && timingSafeEqual(expected, claimed);
}

// Configuration keeps its parsed secrets until the setting changes, so each key is imported once.
const importedKeys = new WeakMap<Buffer, KeyObject>();

function signBody(key: Buffer, body: Buffer): Buffer {
  let imported = importedKeys.get(key);
  if (!imported) {
    imported = createSecretKey(key);
    importedKeys.set(key, imported);
  }
  return createHmac('sha256', imported).update(body).digest();
}

/**
 * Which configured secrets may have signed the request: the one `?id=` names, or every one when the
 * callback URL carries no id. An id that names no secret (or several ids) proves nothing.
 */
function candidateSecrets(
  secrets: readonly OutgoingWebhookSecret[],
  ids: readonly string[],
): readonly OutgoingWebhookSecret[] {
  if (ids.length === 0) return secrets;
  if (ids.length > 1) throw new UnauthenticatedError('ambiguous-key-id');
  const chosen = secrets.find((secret) => secret.name === ids[0]);
  if (!chosen) throw new UnauthenticatedError('unknown-key-id');
  return [chosen];
}

/**
 * Verifies a Teams outgoing-webhook request and returns the name of the secret that signed it. Throws
 * UnauthenticatedError (answered 401 with no body) for an empty body, a missing or malformed header,
 * an unknown `?id=`, or a digest no candidate secret produces.
 */
export function verifyOutgoingWebhook(
  body: Buffer,
  authorization: string | null,
  ids: readonly string[],
  secrets: readonly OutgoingWebhookSecret[],
): string {
  // Teams never sends an empty body, and Microsoft's own sample refuses to authenticate one.
  if (body.length === 0) throw new UnauthenticatedError('empty-body');
  const claimed = claimedDigest(authorization);
  for (const secret of candidateSecrets(secrets, ids)) {
    if (digestsEqual(signBody(secret.key, body), claimed)) return secret.name;
  }
  throw new UnauthenticatedError('signature');
}
