import type { Client } from '@microsoft/microsoft-graph-client';

import { BatchPartError } from '../core/errors';
import { isRecord } from '../core/http';
import { USER_SELECT } from '../directory/directory';
import { readTime } from './read-time';
import {
  callGraph,
  graphFailure,
  isRetryable,
  parseRetryAfter,
  RetryBudget,
  type RetryPolicy,
  withoutSdkRetry,
  DEFAULT_RETRY_POLICY,
} from '../clients/graph-retry';

/**
 * Bulk fetch of users by id with only `User.Read.All`: one JSON `$batch` carries up to 20 requests, each
 * `GET /users?$filter=id in (…15 ids…)&$select=…` (15 is Graph's limit of values in a filter), so one
 * Graph request fetches up to 300 users. (`POST /directoryObjects/getByIds` would take 1,000 ids a call
 * but needs `Directory.Read.All`.) Throttled or failed parts of a batch are sent again, alone, after the
 * longest `Retry-After` among them, within the retry budget.
 *
 * A user that the answer does not contain may be gone, or not yet replicated to the replica that answered
 * (a user created a moment ago): each such id is read alone, and only a 404 says it is gone.
 */
const IDS_PER_FILTER = 15;
const REQUESTS_PER_BATCH = 20;

/** A user as Graph returned it, and when the request that read it was sent (epoch ms). */
export interface FetchedUser {
  user: Record<string, unknown>;
  readAt: number;
}

export interface GoneUser {
  id: string;
  readAt: number;
}

export interface FetchedUsers {
  found: FetchedUser[];
  /** Users Graph confirmed gone (404 on the user itself), with when that read was sent. */
  missing: GoneUser[];
  /** Graph HTTP requests made (for the bench and the logs). */
  requests: number;
  /** Requests or batch parts Graph answered 429 (for the logs: throttling is worth watching). */
  throttled: number;
}

interface BatchPart {
  id: string;
  ids: string[];
}

export async function fetchUsersByIds(
  client: Client,
  ids: readonly string[],
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<FetchedUsers> {
  // Graph ids are GUIDs, which it writes in lower case; compared that way, a user is never taken for gone.
  const unique = [...new Set(ids.map((id) => id.toLowerCase()))];
  let pending: BatchPart[] = [];
  for (let i = 0; i < unique.length; i += IDS_PER_FILTER) {
    pending.push({ id: String(pending.length + 1), ids: unique.slice(i, i + IDS_PER_FILTER) });
  }
  const found = new Map<string, FetchedUser>();
  const budget = new RetryBudget(policy);
  let requests = 0;
  let throttled = 0;

  while (pending.length > 0) {
    const retry: BatchPart[] = [];
    let waitMs: number | undefined;
    let lastError: unknown;
    for (let i = 0; i < pending.length; i += REQUESTS_PER_BATCH) {
      const parts = pending.slice(i, i + REQUESTS_PER_BATCH);
      requests++;
      const readAt = readTime();
      let responses: unknown[];
      try {
        const request = await withoutSdkRetry(client.api('/$batch'));
        const answer = (await request.post({ requests: parts.map(toBatchRequest) })) as unknown;
        responses = isRecord(answer) && Array.isArray(answer.responses) ? answer.responses : [];
      } catch (err) {
        const failure = graphFailure(err);
        if (!isRetryable(failure.status)) throw err;
        if (failure.status === 429) throttled++;
        lastError = err;
        retry.push(...parts);
        waitMs = maxOf(waitMs, failure.retryAfterMs);
        continue;
      }
      for (const part of parts) {
        const response = responses.find((r) => isRecord(r) && String(r.id) === part.id);
        const status = isRecord(response) && typeof response.status === 'number' ? response.status : -1;
        if (status >= 200 && status < 300 && isRecord(response) && isRecord(response.body)) {
          const value = response.body.value;
          for (const user of Array.isArray(value) ? value : []) {
            if (isRecord(user) && typeof user.id === 'string') found.set(user.id.toLowerCase(), { user, readAt });
          }
        } else if (isRetryable(status)) {
          if (status === 429) throttled++;
          retry.push(part);
          lastError = new BatchPartError(status);
          const headers = isRecord(response) && isRecord(response.headers) ? response.headers : {};
          waitMs = maxOf(waitMs, parseRetryAfter(new Headers(stringHeaders(headers)).get('Retry-After')));
        } else {
          throw new BatchPartError(status);
        }
      }
    }
    if (retry.length > 0 && !(await budget.waitBeforeRetry(waitMs))) throw lastError;
    pending = retry;
  }
  const absent = await confirmAbsent(client, unique.filter((id) => !found.has(id)), policy);
  for (const user of absent.present) found.set(String(user.user.id).toLowerCase(), user);
  return { found: [...found.values()], missing: absent.gone, requests: requests + absent.requests, throttled };
}

/**
 * Ids a bulk answer did not contain, each read alone (`GET /users/{id}`): a 404 confirms the user is gone;
 * a user that answers is returned with its state. Any other failure is thrown (nothing is removed on doubt).
 */
export async function confirmAbsent(
  client: Client,
  ids: readonly string[],
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): Promise<{ gone: GoneUser[]; present: FetchedUser[]; requests: number }> {
  const gone: GoneUser[] = [];
  const present: FetchedUser[] = [];
  for (const id of ids) {
    const readAt = readTime();
    try {
      const user = await callGraph(client, 'get', `/users/${encodeURIComponent(id)}?$select=${USER_SELECT.join(',')}`, undefined, policy);
      if (isRecord(user) && typeof user.id === 'string') present.push({ user, readAt });
    } catch (err) {
      if (graphFailure(err).status !== 404) throw err;
      gone.push({ id, readAt });
    }
  }
  return { gone, present, requests: ids.length };
}

function toBatchRequest(part: BatchPart): { id: string; method: 'GET'; url: string } {
  const filter = `id in (${part.ids.map((id) => `'${id.replace(/'/g, "''")}'`).join(',')})`;
  return {
    id: part.id,
    method: 'GET',
    url: `/users?$filter=${encodeURIComponent(filter)}&$select=${USER_SELECT.join(',')}`,
  };
}

function maxOf(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}

function stringHeaders(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (typeof value === 'string') out[name] = value;
  return out;
}
