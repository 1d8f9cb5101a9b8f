import type { Client } from '@microsoft/microsoft-graph-client';

import { applyUserChanges, type DirectorySnapshot, readDirectorySnapshot, USER_SELECT, type UserChange } from '../directory/directory';
import { isRecord } from '../core/http';
import { callGraph, graphFailure, graphLinkPath } from '../clients/graph-retry';
import { acquireSyncLease, readSyncState, releaseSyncLease, resyncOwed, updateUnderLease } from './state';

/**
 * The `/users/delta` sync. A full sync (never synced, or a resync owed) starts without a token, replaces
 * every user it sees and, at the end, removes the users it did not see. A catch-up starts from the stored
 * delta link and applies what changed: present properties overwrite, absent ones are kept (Graph returns
 * "at least the properties that have been updated"), `@removed` entries leave the directory. Pages are
 * followed through `@odata.nextLink` to the `@odata.deltaLink`, which is stored only when the round is
 * complete. An expired delta link (410, `syncStateNotFound`, `resyncRequired`) turns into a full sync.
 *
 * Only the holder of the sync lease works: a second run at the same time returns `busy` at once, so two
 * syncs never work from the same delta link; the lease is extended as pages arrive and checked (ETag) at
 * every write of the state row.
 */
const LEASE_MS = 10 * 60_000;
/** Users buffered before one directory write: fewer, fuller table transactions. */
const APPLY_EVERY = 5000;

export type SyncOutcome =
  | { kind: 'busy' }
  | {
      kind: 'full' | 'catchUp';
      users: number;
      removed: number;
      /** Users the directory could not hold, by id (logged with the outcome; the round went on without them). */
      skippedUserIds: string[];
      graphRequests: number;
      restartedFull: boolean;
    };

const EXPIRED_CODES = new Set(['syncStateNotFound', 'resyncRequired', 'syncStateInvalid']);

function isExpiredDeltaLink(err: unknown): boolean {
  const failure = graphFailure(err);
  return failure.status === 410 || (failure.code !== undefined && EXPIRED_CODES.has(failure.code));
}

export async function runDeltaSync(client: Client, baseUrl: string, now: () => number = Date.now): Promise<SyncOutcome> {
  const leaseId = await acquireSyncLease(LEASE_MS, now());
  if (!leaseId) return { kind: 'busy' };
  try {
    const state = await readSyncState();
    const full = resyncOwed(state);
    const resyncCovered = state.resyncRequested;
    const round = { graphRequests: 0 };
    try {
      return await syncRound(client, baseUrl, leaseId, full ? undefined : state.deltaLink, resyncCovered, round, now, false);
    } catch (err) {
      if (full || !isExpiredDeltaLink(err)) throw err;
      return await syncRound(client, baseUrl, leaseId, undefined, resyncCovered, round, now, true);
    }
  } finally {
    await releaseSyncLease(leaseId).catch(() => undefined);
  }
}

async function syncRound(
  client: Client,
  baseUrl: string,
  leaseId: string,
  deltaLink: string | undefined,
  resyncCovered: number,
  round: { graphRequests: number },
  now: () => number,
  restartedFull: boolean,
): Promise<SyncOutcome> {
  const full = deltaLink === undefined;
  const seen = new Set<string>();
  // A full round writes every user: one scan of the directory beats a read per user.
  const snapshot: DirectorySnapshot | undefined = full ? await readDirectorySnapshot() : undefined;
  let buffered: UserChange[] = [];
  let users = 0;
  let removed = 0;
  const skippedUserIds: string[] = [];
  let next: string = deltaLink ?? `/users/delta?$select=${USER_SELECT.join(',')}`;
  let finalLink: string | undefined;

  const flush = async (): Promise<void> => {
    if (buffered.length === 0) return;
    // Extending the lease proves it is still ours before the directory is written.
    await updateUnderLease(leaseId, (state) => ({ ...state, leaseUntil: now() + LEASE_MS }));
    skippedUserIds.push(...(await applyUserChanges(buffered, snapshot)).skipped);
    buffered = [];
  };

  while (!finalLink) {
    const url = next;
    round.graphRequests++;
    const page = await callGraph(client, 'get', graphLinkPath(url, baseUrl));
    if (!isRecord(page)) throw new Error('Graph answered a delta page that is not an object');
    for (const item of Array.isArray(page.value) ? page.value : []) {
      if (!isRecord(item) || typeof item.id !== 'string') continue;
      if (item['@removed'] !== undefined) {
        buffered.push({ kind: 'remove', id: item.id });
        seen.delete(item.id);
        removed++;
      } else {
        buffered.push({ kind: full ? 'replace' : 'patch', user: item });
        seen.add(item.id);
        users++;
      }
    }
    if (buffered.length >= APPLY_EVERY) await flush();
    if (typeof page['@odata.nextLink'] === 'string') next = page['@odata.nextLink'];
    else if (typeof page['@odata.deltaLink'] === 'string') finalLink = page['@odata.deltaLink'];
    else throw new Error('Graph answered a delta page with neither nextLink nor deltaLink');
  }
  await flush();

  if (snapshot) {
    // Users deleted while no notification reached us appear in no full round: they are the ones not seen.
    const gone = [...snapshot.rows.keys()].filter((id) => !seen.has(id));
    if (gone.length > 0) {
      await updateUnderLease(leaseId, (state) => ({ ...state, leaseUntil: now() + LEASE_MS }));
      await applyUserChanges(gone.map((id) => ({ kind: 'remove', id })), snapshot);
      removed += gone.length;
    }
  }
  const at = new Date(now()).toISOString();
  await updateUnderLease(leaseId, (state) => ({
    ...state,
    deltaLink: finalLink,
    lastSyncAt: at,
    ...(full ? { lastFullSyncAt: at, resyncDone: Math.max(state.resyncDone, resyncCovered) } : {}),
  }));
  return { kind: full ? 'full' : 'catchUp', users, removed, skippedUserIds, graphRequests: round.graphRequests, restartedFull };
}
