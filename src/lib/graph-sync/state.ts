import { createHash, randomUUID } from 'node:crypto';

import { LeaseLostError, WriteConflictError } from '../core/errors';
import { isRecord } from '../core/http';
import { getEntityIfExists, storageStatus, tableClient } from '../clients/storage';

/**
 * The Graph pipeline's own state, one table row each, every update guarded by the row's ETag:
 *
 * - `sync`: the stored delta link; the checkpoint of a full round under way; resync requests and the last request a full sync covered (a resync is
 *   owed while `resyncRequested > resyncDone`, so a request that arrives during a sync is never lost);
 *   and the sync lease, so that two syncs never work from the same delta link.
 * - `subscription`: the id of the subscription this app made and a fingerprint of the clientState it was
 *   made with (Graph never returns clientState, and a subscription made with an older secret would
 *   deliver notifications that are all rejected, so it has to be replaced).
 */
const STATE_TABLE = 'graphstate';
const PARTITION = 'graph';

/**
 * Where a full round that has not finished goes on from: when it began (the mark: user rows read since
 * then were seen by it) and the next page to read, or, once every page is applied, the delta link that
 * ends it (only the confirmation of unseen users and the sweep are left).
 */
export interface FullRoundCheckpoint {
  startedAt: number;
  nextLink: string;
  deltaLink?: string;
  /** The read time of the last page applied: rows read later by this run are not yet marked. */
  markedUntil: number;
  /**
   * Read times that mark nothing: between a stopped run's last applied page and the next run's start.
   * A stopped run's unfinished page may have written users that its re-read no longer holds.
   */
  gaps: [number, number][];
}

export interface SyncState {
  deltaLink?: string;
  fullRound?: FullRoundCheckpoint;
  resyncRequested: number;
  resyncDone: number;
  leaseId?: string;
  leaseUntil?: number;
  lastSyncAt?: string;
  lastFullSyncAt?: string;
}

export interface SubscriptionState {
  subscriptionId?: string;
  clientStateFingerprint?: string;
}

interface Row<T> {
  value: T;
  etag?: string;
}

export function clientStateFingerprint(clientState: string): string {
  return createHash('sha256').update('graph-subscription-client-state\n').update(clientState).digest('base64url');
}

async function readRow(rowKey: string): Promise<Row<Record<string, unknown>>> {
  const table = await tableClient(STATE_TABLE);
  const entity = await getEntityIfExists<{ json: string }>(table, PARTITION, rowKey);
  if (!entity) return { value: {} };
  const parsed = JSON.parse(entity.json) as unknown;
  return { value: isRecord(parsed) ? parsed : {}, etag: entity.etag };
}

/** Writes `value` if the row is still as read (`etag`), or absent when it was; false on a lost race. */
async function writeRow(rowKey: string, value: object, etag: string | undefined): Promise<boolean> {
  const table = await tableClient(STATE_TABLE);
  const entity = { partitionKey: PARTITION, rowKey, json: JSON.stringify(value) };
  try {
    if (etag === undefined) await table.createEntity(entity);
    else await table.updateEntity(entity, 'Replace', { etag });
    return true;
  } catch (err) {
    const status = storageStatus(err);
    if (status === 409 || status === 412) return false;
    throw err;
  }
}

function toSyncState(value: Record<string, unknown>): SyncState {
  const state: SyncState = {
    resyncRequested: typeof value.resyncRequested === 'number' ? value.resyncRequested : 0,
    resyncDone: typeof value.resyncDone === 'number' ? value.resyncDone : 0,
  };
  if (typeof value.deltaLink === 'string') state.deltaLink = value.deltaLink;
  if (typeof value.leaseId === 'string') state.leaseId = value.leaseId;
  if (typeof value.leaseUntil === 'number') state.leaseUntil = value.leaseUntil;
  if (typeof value.lastSyncAt === 'string') state.lastSyncAt = value.lastSyncAt;
  if (typeof value.lastFullSyncAt === 'string') state.lastFullSyncAt = value.lastFullSyncAt;
  const round = value.fullRound;
  if (isRecord(round) && typeof round.startedAt === 'number' && typeof round.nextLink === 'string' && typeof round.markedUntil === 'number') {
    const gaps = Array.isArray(round.gaps) ? round.gaps.filter((g): g is [number, number] => Array.isArray(g) && typeof g[0] === 'number' && typeof g[1] === 'number') : [];
    state.fullRound = { startedAt: round.startedAt, nextLink: round.nextLink, markedUntil: round.markedUntil, gaps };
    if (typeof round.deltaLink === 'string') state.fullRound.deltaLink = round.deltaLink;
  }
  return state;
}

export async function readSyncState(): Promise<SyncState> {
  return toSyncState((await readRow('sync')).value);
}

/**
 * Read-modify-write of the sync row, retried on ETag conflicts. `change` returns the new state, or
 * undefined to leave the row as it is (its result is then undefined too).
 */
async function updateSyncState(change: (state: SyncState) => SyncState | undefined): Promise<SyncState | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const row = await readRow('sync');
    const next = change(toSyncState(row.value));
    if (!next) return undefined;
    if (await writeRow('sync', next, row.etag)) return next;
  }
  throw new WriteConflictError('the Graph sync state kept changing under this update');
}

/** Records that a full resync is owed (lifecycle `missed`, a re-created subscription). */
export async function requestResync(): Promise<void> {
  await updateSyncState((state) => ({ ...state, resyncRequested: state.resyncRequested + 1 }));
}

export function resyncOwed(state: SyncState): boolean {
  return state.deltaLink === undefined || state.resyncRequested > state.resyncDone;
}

/** How long a lease lasts unrenewed: a crashed holder's lease runs out within this. */
export const LEASE_MS = 2 * 60_000;

/**
 * Takes the sync lease for `ttlMs` unless another holder's lease is still running; returns the lease id,
 * or undefined when another sync holds it.
 */
export async function acquireSyncLease(ttlMs: number, now = Date.now()): Promise<string | undefined> {
  const leaseId = randomUUID();
  const taken = await updateSyncState((state) =>
    state.leaseId && (state.leaseUntil ?? 0) > now ? undefined : { ...state, leaseId, leaseUntil: now + ttlMs },
  );
  return taken ? leaseId : undefined;
}

/** Changes the sync row only while `leaseId` still holds the lease; throws LeaseLostError otherwise. */
export async function updateUnderLease(leaseId: string, change: (state: SyncState) => SyncState): Promise<SyncState> {
  let lost = false;
  const next = await updateSyncState((state) => {
    if (state.leaseId !== leaseId) {
      lost = true;
      return undefined;
    }
    return change(state);
  });
  if (lost || !next) throw new LeaseLostError();
  return next;
}

export async function releaseSyncLease(leaseId: string): Promise<void> {
  await updateSyncState((state) => {
    if (state.leaseId !== leaseId) return undefined;
    const released = { ...state };
    delete released.leaseId;
    delete released.leaseUntil;
    return released;
  });
}

/** The lease a run holds: its state-row updates, and a check that throws once the lease was lost. */
export interface HeldLease {
  readonly id: string;
  update(change: (state: SyncState) => SyncState): Promise<SyncState>;
  /** Throws LeaseLostError when a renewal found the lease taken over. */
  check(): void;
}

/**
 * Runs `work` holding the sync lease (the Graph pipeline's one lock: delta sync and subscription upkeep),
 * or answers `busy` at once when another run holds it. The lease lasts LEASE_MS and is renewed in the
 * background every third of that while `work` runs, so a long step (a sweep, a page of confirmations)
 * keeps it, and a crashed run's lease runs out within LEASE_MS. Released at the end, whatever happened.
 */
export async function withSyncLease<T>(
  work: (lease: HeldLease) => Promise<T>,
  now: () => number = Date.now,
): Promise<{ kind: 'busy' } | { kind: 'held'; value: T }> {
  const leaseId = await acquireSyncLease(LEASE_MS, now());
  if (!leaseId) return { kind: 'busy' };
  let lost: unknown;
  const update = (change: (state: SyncState) => SyncState): Promise<SyncState> =>
    updateUnderLease(leaseId, (state) => ({ ...change(state), leaseUntil: now() + LEASE_MS })).catch((err: unknown) => {
      if (err instanceof LeaseLostError) lost = err;
      throw err;
    });
  const lease: HeldLease = {
    id: leaseId,
    update,
    check() {
      if (lost) throw new LeaseLostError();
    },
  };
  let renewing: Promise<unknown> = Promise.resolve();
  const renewal = setInterval(() => {
    // A failed renewal is retried at the next tick; only a lost lease stops the work (through check()).
    renewing = update((state) => state).catch(() => undefined);
  }, LEASE_MS / 3);
  renewal.unref();
  try {
    const value = await work(lease);
    lease.check();
    return { kind: 'held', value };
  } finally {
    clearInterval(renewal);
    await renewing;
    await releaseSyncLease(leaseId).catch(() => undefined);
  }
}

export async function readSubscriptionState(): Promise<SubscriptionState> {
  const { value } = await readRow('subscription');
  const state: SubscriptionState = {};
  if (typeof value.subscriptionId === 'string') state.subscriptionId = value.subscriptionId;
  if (typeof value.clientStateFingerprint === 'string') state.clientStateFingerprint = value.clientStateFingerprint;
  return state;
}

export async function writeSubscriptionState(state: SubscriptionState): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const row = await readRow('subscription');
    if (await writeRow('subscription', state, row.etag)) return;
  }
  throw new WriteConflictError('the Graph subscription state kept changing under this update');
}
