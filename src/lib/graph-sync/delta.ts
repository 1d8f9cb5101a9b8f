import type { Client } from '@microsoft/microsoft-graph-client';

import { applyUserChanges, type DirectorySnapshot, readDirectorySnapshot, sweepDirectory, USER_SELECT, type UserChange } from '../directory/directory';
import { isRecord } from '../core/http';
import { callGraph, graphFailure, graphLinkPath } from '../clients/graph-retry';
import { acquireSyncLease, type FullRoundCheckpoint, readSyncState, releaseSyncLease, resyncOwed, type SyncState, updateUnderLease } from './state';
import { confirmAbsent } from './users';

/**
 * The `/users/delta` sync. A full round (never synced, a resync owed, or the last full round older than
 * DIRECTORY_FULL_SYNC_HOURS) starts without a token and replaces every user it sees, each write stamped
 * with the time its page was read; a catch-up starts from the stored delta link and applies what changed:
 * present properties overwrite, absent ones are kept (Graph returns "at least the properties that have
 * been updated"), `@removed` entries leave the directory. Pages are followed through `@odata.nextLink` to
 * the `@odata.deltaLink`, which is stored only when the round is complete. An expired delta link (410,
 * `syncStateNotFound`, `resyncRequired`) turns into a full round.
 *
 * A full round is a mark and sweep. The mark is each user row's read time: after the last page, users
 * read before the round began were in no page, and each is read alone; only a 404 removes it (a user
 * missing from a bulk answer may just not be replicated yet). The sweep then reads every row of the
 * directory and repairs any user whose derived rows are not exactly what its row gives. The round is
 * checkpointed: after each directory write the next link and the round's start are stored, so a round
 * that stops (crash, timeout, failure) resumes from there on the next run instead of starting over.
 *
 * Only the holder of the sync lease works: a second run at the same time returns `busy` at once, so two
 * syncs never work from the same delta link. The lease is short and renewed at every page (a crashed
 * holder's lease runs out within minutes) and checked (ETag) at every write of the state row.
 */
const LEASE_MS = 2 * 60_000;
/** Users buffered before one directory write (and one checkpoint): fewer, fuller table transactions. */
const APPLY_EVERY = 5000;
const DAY_MS = 24 * 3_600_000;

export type SyncOutcome =
  | { kind: 'busy' }
  | {
      kind: 'full' | 'catchUp';
      users: number;
      removed: number;
      /** Users the directory could not hold, by id (logged with the outcome; the round went on without them). */
      skippedUserIds: string[];
      /** Users whose derived rows the sweep of a full round repaired. */
      repairedUsers: number;
      graphRequests: number;
      restartedFull: boolean;
      /** A full round that went on from the checkpoint of an earlier run. */
      resumed: boolean;
    };

const EXPIRED_CODES = new Set(['syncStateNotFound', 'resyncRequired', 'syncStateInvalid']);

function isExpiredDeltaLink(err: unknown): boolean {
  const failure = graphFailure(err);
  return failure.status === 410 || (failure.code !== undefined && EXPIRED_CODES.has(failure.code));
}

export interface DeltaSyncOptions {
  /** DIRECTORY_FULL_SYNC_HOURS as milliseconds. */
  fullSyncEveryMs?: number;
  now?: () => number;
}

export async function runDeltaSync(client: Client, baseUrl: string, options: DeltaSyncOptions = {}): Promise<SyncOutcome> {
  const now = options.now ?? Date.now;
  const leaseId = await acquireSyncLease(LEASE_MS, now());
  if (!leaseId) return { kind: 'busy' };
  try {
    const state = await readSyncState();
    const lastFull = Date.parse(state.lastFullSyncAt ?? '');
    const due = !(now() - lastFull < (options.fullSyncEveryMs ?? DAY_MS));
    const full = state.fullRound !== undefined || resyncOwed(state) || due;
    const resyncCovered = state.resyncRequested;
    const round = { graphRequests: 0 };
    const context = { client, baseUrl, leaseId, resyncCovered, round, now };
    try {
      return await syncRound(context, full ? undefined : state.deltaLink, full ? state.fullRound : undefined, false);
    } catch (err) {
      if (full || !isExpiredDeltaLink(err)) throw err;
      return await syncRound(context, undefined, undefined, true);
    }
  } finally {
    await releaseSyncLease(leaseId).catch(() => undefined);
  }
}

interface RoundContext {
  client: Client;
  baseUrl: string;
  leaseId: string;
  resyncCovered: number;
  round: { graphRequests: number };
  now: () => number;
}

async function syncRound(
  { client, baseUrl, leaseId, resyncCovered, round, now }: RoundContext,
  deltaLink: string | undefined,
  checkpoint: FullRoundCheckpoint | undefined,
  restartedFull: boolean,
): Promise<SyncOutcome> {
  const full = deltaLink === undefined;
  const startedAt = checkpoint?.startedAt ?? now();
  // A full round writes every user: one scan of the directory beats a read per user.
  const snapshot: DirectorySnapshot | undefined = full ? await readDirectorySnapshot() : undefined;
  let buffered: UserChange[] = [];
  let users = 0;
  let removed = 0;
  const skippedUserIds: string[] = [];
  let next: string = deltaLink ?? checkpoint?.nextLink ?? `/users/delta?$select=${USER_SELECT.join(',')}`;
  let finalLink: string | undefined;

  const renewLease = (change: (state: SyncState) => SyncState = (state) => state): Promise<SyncState> =>
    updateUnderLease(leaseId, (state) => ({ ...change(state), leaseUntil: now() + LEASE_MS }));
  const flush = async (resumeAt: string | undefined): Promise<void> => {
    if (buffered.length > 0) skippedUserIds.push(...(await applyUserChanges(buffered, snapshot)).skipped);
    buffered = [];
    // The checkpoint: the page to go on from once everything before it is in the directory.
    if (full && resumeAt !== undefined) await renewLease((state) => ({ ...state, fullRound: { startedAt, nextLink: resumeAt } }));
  };

  while (!finalLink) {
    const url = next;
    round.graphRequests++;
    // Proves the lease is still ours before the page is applied, and keeps it from running out.
    await renewLease();
    const readAt = now();
    const page = await callGraph(client, 'get', graphLinkPath(url, baseUrl));
    if (!isRecord(page)) throw new Error('Graph answered a delta page that is not an object');
    for (const item of Array.isArray(page.value) ? page.value : []) {
      if (!isRecord(item) || typeof item.id !== 'string') continue;
      if (item['@removed'] !== undefined) {
        buffered.push({ kind: 'remove', id: item.id, readAt });
        removed++;
      } else {
        buffered.push({ kind: full ? 'replace' : 'patch', user: item, readAt });
        users++;
      }
    }
    if (typeof page['@odata.nextLink'] === 'string') next = page['@odata.nextLink'];
    else if (typeof page['@odata.deltaLink'] === 'string') finalLink = page['@odata.deltaLink'];
    else throw new Error('Graph answered a delta page with neither nextLink nor deltaLink');
    if (buffered.length >= APPLY_EVERY) await flush(finalLink ? undefined : next);
  }
  await flush(undefined);

  let repairedUsers = 0;
  if (snapshot) {
    // Not marked by this round: in no page. Removed only once Graph confirms, one by one, that it is gone.
    const unmarked = [...snapshot.rows.values()].filter((row) => row.readAt < startedAt).map((row) => row.user.id);
    if (unmarked.length > 0) {
      await renewLease();
      const absent = await confirmAbsent(client, unmarked);
      round.graphRequests += absent.requests;
      const changes: UserChange[] = [
        ...absent.present.map(({ user, readAt }): UserChange => ({ kind: 'replace', user, readAt })),
        ...absent.gone.map((id): UserChange => ({ kind: 'remove', id, readAt: startedAt })),
      ];
      skippedUserIds.push(...(await applyUserChanges(changes, snapshot)).skipped);
      removed += absent.gone.length;
    }
    await renewLease();
    repairedUsers = (await sweepDirectory(startedAt)).repairedUsers;
  }
  const at = new Date(now()).toISOString();
  await updateUnderLease(leaseId, (state) => {
    const done: SyncState = { ...state, deltaLink: finalLink, lastSyncAt: at };
    if (!full) return done;
    delete done.fullRound;
    return { ...done, lastFullSyncAt: at, resyncDone: Math.max(state.resyncDone, resyncCovered) };
  });
  return { kind: full ? 'full' : 'catchUp', users, removed, skippedUserIds, repairedUsers, graphRequests: round.graphRequests, restartedFull, resumed: checkpoint !== undefined };
}
