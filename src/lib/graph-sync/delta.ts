import type { Client } from '@microsoft/microsoft-graph-client';

import { applyUserChanges, type DirectorySnapshot, readDirectorySnapshot, sweepDirectory, TOMBSTONE_KEEP_MS, USER_SELECT, type UserChange } from '../directory/directory';
import { isRecord } from '../core/http';
import { callGraph, graphFailure, graphLinkPath } from '../clients/graph-retry';
import { type FullRoundCheckpoint, type HeldLease, readSyncState, resyncOwed, type SyncState, withSyncLease } from './state';
import { confirmAbsent } from './users';
import { readTime } from './read-time';

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
 * checkpointed per page: once a page is in the directory, the next link (then the final delta link) and
 * the round's start are stored, so a round that stops (crash, timeout, failure) goes on from there on the
 * next run instead of starting over; a checkpoint whose link expired meanwhile starts a new round.
 *
 * Only the holder of the sync lease works (state.ts withSyncLease): a second run at the same time returns
 * `busy` at once, so two syncs never work from the same delta link. The lease is short, renewed while the
 * run works (a crashed holder's lease runs out within minutes), and checked at every page.
 */
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
      /** Delta pages read and applied by this run. */
      pages: number;
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
  /** The sync lease, when the caller already holds it (subscription upkeep then sync, in one run). */
  lease?: HeldLease;
}

export async function runDeltaSync(client: Client, baseUrl: string, options: DeltaSyncOptions = {}): Promise<SyncOutcome> {
  const now = options.now ?? Date.now;
  if (options.lease) return syncUnderLease(client, baseUrl, options.lease, options.fullSyncEveryMs ?? DAY_MS, now);
  const held = await withSyncLease((lease) => syncUnderLease(client, baseUrl, lease, options.fullSyncEveryMs ?? DAY_MS, now), now);
  return held.kind === 'busy' ? held : held.value;
}

async function syncUnderLease(client: Client, baseUrl: string, lease: HeldLease, fullSyncEveryMs: number, now: () => number): Promise<SyncOutcome> {
  const state = await readSyncState();
  const lastFull = Date.parse(state.lastFullSyncAt ?? '');
  const due = !(now() - lastFull < fullSyncEveryMs);
  const full = state.fullRound !== undefined || resyncOwed(state) || due;
  const context: RoundContext = { client, baseUrl, lease, resyncCovered: state.resyncRequested, graphRequests: 0, pages: 0, now };
  try {
    return await syncRound(context, full ? undefined : state.deltaLink, full ? state.fullRound : undefined, false);
  } catch (err) {
    // An expired delta link, or a checkpoint's next link that expired while no run went on from it.
    if (!isExpiredDeltaLink(err) || (full && state.fullRound === undefined)) throw err;
    return syncRound(context, undefined, undefined, true);
  }
}

interface RoundContext {
  client: Client;
  baseUrl: string;
  lease: HeldLease;
  resyncCovered: number;
  graphRequests: number;
  pages: number;
  now: () => number;
}

async function syncRound(context: RoundContext, deltaLink: string | undefined, checkpoint: FullRoundCheckpoint | undefined, restartedFull: boolean): Promise<SyncOutcome> {
  const { client, baseUrl, lease, now } = context;
  const full = deltaLink === undefined;
  const startedAt = checkpoint?.startedAt ?? now();
  // A full round writes every user: one scan of the user rows beats a read per user.
  const snapshot: DirectorySnapshot | undefined = full ? await readDirectorySnapshot() : undefined;
  let users = 0;
  let removed = 0;
  const skippedUserIds: string[] = [];
  let next: string = deltaLink ?? checkpoint?.nextLink ?? `/users/delta?$select=${USER_SELECT.join(',')}`;
  let finalLink: string | undefined = checkpoint?.deltaLink;
  // Rows written after the stopped run's last applied page, and before this run, were not marked.
  const gaps: [number, number][] = checkpoint ? [...checkpoint.gaps, [checkpoint.markedUntil, now()]] : [];
  let markedUntil = checkpoint?.markedUntil ?? startedAt - 1;
  const save = (): Promise<unknown> =>
    lease.update((state) => ({ ...state, fullRound: { startedAt, nextLink: next, markedUntil, gaps, ...(finalLink ? { deltaLink: finalLink } : {}) } }));
  if (full) await save();

  while (!finalLink) {
    lease.check();
    context.graphRequests++;
    // Strictly later than the last page's, so that the checkpoint's markedUntil separates pages.
    const readAt = Math.max(readTime(now()), markedUntil + 1, (gaps.at(-1)?.[1] ?? 0) + 1);
    const page = await callGraph(client, 'get', graphLinkPath(next, baseUrl));
    if (!isRecord(page)) throw new Error('Graph answered a delta page that is not an object');
    const changes: UserChange[] = [];
    for (const item of Array.isArray(page.value) ? page.value : []) {
      if (!isRecord(item) || typeof item.id !== 'string') continue;
      if (item['@removed'] !== undefined) {
        changes.push({ kind: 'remove', id: item.id, readAt });
        removed++;
      } else {
        changes.push({ kind: full ? 'replace' : 'patch', user: item, readAt });
        users++;
      }
    }
    if (typeof page['@odata.nextLink'] === 'string') next = page['@odata.nextLink'];
    else if (typeof page['@odata.deltaLink'] === 'string') finalLink = page['@odata.deltaLink'];
    else throw new Error('Graph answered a delta page with neither nextLink nor deltaLink');
    skippedUserIds.push(...(await applyUserChanges(changes, snapshot)).skipped);
    context.pages++;
    // The checkpoint: everything before `next` is in the directory, so a stopped round goes on from there.
    markedUntil = readAt;
    if (full) await save();
  }

  let repairedUsers = 0;
  if (snapshot) {
    // Not marked by this round: in no page. Removed only once Graph confirms, one by one, that it is gone.
    const marked = (readAt: number): boolean => readAt >= startedAt && !gaps.some(([from, to]) => readAt > from && readAt < to);
    const unmarked = [...snapshot.rows.values()].filter((row) => !marked(row.readAt)).map((row) => row.user.id);
    if (unmarked.length > 0) {
      lease.check();
      const absent = await confirmAbsent(client, unmarked);
      context.graphRequests += absent.requests;
      const changes: UserChange[] = [
        ...absent.present.map(({ user, readAt }): UserChange => ({ kind: 'replace', user, readAt })),
        ...absent.gone.map(({ id, readAt }): UserChange => ({ kind: 'remove', id, readAt })),
      ];
      skippedUserIds.push(...(await applyUserChanges(changes, snapshot)).skipped);
      removed += absent.gone.length;
    }
    lease.check();
    repairedUsers = (await sweepDirectory(startedAt - TOMBSTONE_KEEP_MS)).repairedUsers;
  }
  const at = new Date(now()).toISOString();
  const resyncCovered = context.resyncCovered;
  await lease.update((state) => {
    const done: SyncState = { ...state, deltaLink: finalLink, lastSyncAt: at };
    if (!full) return done;
    delete done.fullRound;
    return { ...done, lastFullSyncAt: at, resyncDone: Math.max(state.resyncDone, resyncCovered) };
  });
  return {
    kind: full ? 'full' : 'catchUp',
    users,
    removed,
    skippedUserIds,
    repairedUsers,
    graphRequests: context.graphRequests,
    pages: context.pages,
    restartedFull,
    resumed: checkpoint !== undefined,
  };
}
