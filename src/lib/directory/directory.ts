import type { TableClient, TransactionAction } from '@azure/data-tables' with { 'resolution-mode': 'import' };
import { createHash } from 'node:crypto';

import { isRecord } from '../core/http';
import { WriteConflictError } from '../core/errors';
import { deleteEntityIfUnchanged, getEntityIfExists, storageStatus, tableClient } from '../clients/storage';
import { cutAtCodePoint, foldText, matchesAllPrefixes, prefixUpperBound, searchWords } from './words';

/**
 * The directory: a mirror of the tenant's users in Table storage, fed by the delta sync and the change
 * notifications, read by people search. One table, three kinds of rows:
 *
 * - `user-<first two characters of the id>` partitions, RowKey = user id: the user as last seen, plus the
 *   keys of every row derived from it;
 * - `w-<first three letters of the word>` partitions, RowKey = `<word> <sort name> <id>`: one row per
 *   distinct searchable word of an enabled user, carrying the user and all its words, so a prefix range
 *   query answers a search without any per-user read (and rows of one word come in display-name order);
 * - `recent-<inverted second>-<first character of the id>` partitions, RowKey = `<inverted ms> <id>`:
 *   enabled users, newest change first across partitions;
 * - `addr-<first two hex digits>` partitions, RowKey = `<SHA-256 hex of the lower-cased address> <id>`:
 *   one row per distinct `mail` and `userPrincipalName` of every user, enabled or not, so an address
 *   (an expense's approver) resolves to the user's object id in one read. Hashing keeps characters a
 *   RowKey may not hold (`#` in a guest's `#EXT#` UPN) out of the key.
 *
 * Partitions stay small on purpose: Table storage serves about 2,000 entities a second per partition, so
 * one partition per common word (or one for all users) would throttle a full sync of a large tenant. For
 * the same reason the domain of `mail` and `userPrincipalName` is not indexed (every user would carry the
 * same words); a query word that is an address is matched by its part before `@`.
 *
 * Writes go in table transactions (one partition, at most 100 operations each). A change is applied in
 * phases ordered so that a crash at any point leaves a state the next delivery of the same change repairs:
 * the user row lists the union of old and new derived rows until the derived rows are in place.
 */

export interface DirectoryUser {
  id: string;
  displayName: string;
  givenName?: string;
  surname?: string;
  mail?: string;
  userPrincipalName?: string;
  jobTitle?: string;
  department?: string;
  officeLocation?: string;
  businessPhones: string[];
  accountEnabled: boolean;
  lastChanged: string /* ISO */;
}

export interface Page {
  skip: number;
  count: number;
}

const DIRECTORY_TABLE = 'directory';

/** The Graph `$select` that gives every field the directory keeps. */
export const USER_SELECT = [
  'id',
  'displayName',
  'givenName',
  'surname',
  'mail',
  'userPrincipalName',
  'jobTitle',
  'department',
  'officeLocation',
  'businessPhones',
  'accountEnabled',
] as const;

const OPTIONAL_TEXT = ['givenName', 'surname', 'mail', 'userPrincipalName', 'jobTitle', 'department', 'officeLocation'] as const;
const SEARCHABLE = ['displayName', 'givenName', 'surname', 'mail', 'userPrincipalName', 'jobTitle', 'department'] as const;

const USER_PREFIX = 'user-';
const WORD_PREFIX = 'w-';
const RECENT_PREFIX = 'recent-';
const ADDRESS_PREFIX = 'addr-';
/** Letters of a word that pick its partition. */
const WORD_PARTITION_LETTERS = 3;
const TRANSACTION_LIMIT = 100;
/** Index rows a search reads at most: two pages of a range query, so two storage round trips. */
const SEARCH_PAGE = 1000;
const SEARCH_PAGES = 2;
const PARALLEL_WRITES = 16;
/** UTF-16 units of the display name that order a word's rows (RowKey = word, sort name, id). */
const SORT_NAME_LENGTH = 100;
/** Table storage limits: keys of at most 1 KiB of UTF-16, string properties of at most 64 KiB. */
const MAX_KEY_UNITS = 512;
const MAX_STRING_UNITS = 32 * 1024;
// eslint-disable-next-line no-control-regex
const KEY_FORBIDDEN = /[/\\#?\u0000-\u001f\u007f-\u009f]/;
const PARALLEL_READS = 32;

type RowKeyPair = readonly [partitionKey: string, rowKey: string];

/** A user row as stored: no `user` for a tombstone (a removed user, kept to remember its read time). */
interface StoredRow {
  user?: DirectoryUser | undefined;
  derived: RowKeyPair[];
  /** When the Graph read of this state was sent (epoch ms). */
  readAt: number;
  etag?: string | undefined;
}

type UserRow = StoredRow & { user: DirectoryUser };

interface UserEntity {
  partitionKey?: string;
  rowKey?: string;
  etag?: string;
  data?: string;
  derived?: string;
  readAt?: number;
}

export type DerivedRow = { partitionKey: string; rowKey: string } & Record<string, unknown>;

/** Conditional writes lost to other writers before one gives up (each loss means another writer progressed). */
const CONFLICT_RETRIES = 10;

/**
 * How long a removed user's tombstone (its row without data, remembering the read that removed it) is kept:
 * longer than any Graph read can be in flight, so that a read older than the removal, answered late, still
 * loses to it instead of bringing the user back.
 */
export const TOMBSTONE_KEEP_MS = 24 * 3_600_000;

/** Changes when derivedRows changes, so that rows written by an older release are rewritten by the sweep. */
const DERIVATION_VERSION = '2';

// ---------------------------------------------------------------------------------------------------
// Reading

export async function getDirectoryUser(id: string): Promise<DirectoryUser | undefined> {
  if (!isValidKey(id)) return undefined;
  const table = await directoryTable();
  const entity = await getEntityIfExists<{ data?: string }>(table, userPartition(id), id);
  return parseUser(entity?.data);
}

/**
 * Object ids of the users whose `mail` or `userPrincipalName` is `address` (ignoring case), disabled users
 * included: usually one, none for an address the tenant does not know.
 */
export async function userIdsByAddress(address: string): Promise<string[]> {
  const { partitionKey, hash } = addressKey(address);
  const table = await directoryTable();
  const ids: string[] = [];
  const rows = table.listEntities<{ i: string }>({
    queryOptions: { filter: `PartitionKey eq '${partitionKey}' and RowKey ge '${hash} ' and RowKey lt '${hash}!'`, select: ['i'] },
  });
  for await (const row of rows) if (typeof row.i === 'string') ids.push(row.i);
  return ids;
}

export async function isDirectoryEmpty(): Promise<boolean> {
  const table = await directoryTable();
  const pages = table
    .listEntities({ queryOptions: { filter: `${partitionRange(USER_PREFIX)} and data gt ''`, select: ['RowKey'] } })
    .byPage({ maxPageSize: 1 });
  // A query across partitions may answer an empty page with a continuation: only the end says "empty".
  for await (const page of pages) if (page.length > 0) return false;
  return true;
}

/**
 * People whose words start with every word of `query` (case and diacritics ignored), enabled users only,
 * ordered by display name. One range query on the index partition of the longest query word answers
 * it; the other words and the department are checked against the words each index row carries. The
 * read stops after two pages: for a prefix so common that it matches more index rows than that, the
 * answer holds the best matches read and says there are more.
 */
export async function searchDirectory(
  query: string,
  page: Page,
  filter: { department?: string } = {},
): Promise<{ people: DirectoryUser[]; hasMore: boolean }> {
  const terms = queryWords(query);
  const { skip, count } = normalisePage(page);
  if (terms.length === 0) return { people: [], hasMore: false };
  const driver = terms.reduce((longest, term) => (term.length > longest.length ? term : longest));
  const others = terms.filter((term) => term !== driver);
  const department = filter.department === undefined ? undefined : foldText(filter.department.trim());

  const table = await directoryTable();
  const rows = table
    .listEntities<{ u: string; w: string; d?: string }>({
      queryOptions: {
        filter: `${wordPartitionFilter(driver)} and RowKey ge '${driver}' and RowKey lt '${prefixUpperBound(driver)}'`,
        select: ['u', 'w', 'd'],
      },
    })
    .byPage({ maxPageSize: SEARCH_PAGE });

  const found = new Map<string, DirectoryUser>();
  let pagesRead = 0;
  let truncated = false;
  for await (const entities of rows) {
    if (pagesRead === SEARCH_PAGES) {
      truncated = entities.length > 0;
      break;
    }
    pagesRead++;
    for (const entity of entities) {
      if (department !== undefined && (entity.d ?? '') !== department) continue;
      if (!matchesAllPrefixes(others, entity.w.split(' '))) continue;
      const user = parseUser(entity.u);
      if (user?.accountEnabled) found.set(user.id, user);
    }
  }
  const ordered = [...found.values()].sort(byDisplayName);
  return { people: ordered.slice(skip, skip + count), hasMore: truncated || ordered.length > skip + count };
}

/** Enabled users, most recently changed first (one range read of the `recent` partition). */
export async function recentlyChangedUsers(page: Page): Promise<{ people: DirectoryUser[]; hasMore: boolean }> {
  const { skip, count } = normalisePage(page);
  const wanted = Math.min(skip + count + 1, SEARCH_PAGE);
  const table = await directoryTable();
  const pages = table
    .listEntities<{ u: string }>({
      queryOptions: { filter: partitionRange(RECENT_PREFIX), select: ['u'] },
    })
    .byPage({ maxPageSize: wanted });
  const people: DirectoryUser[] = [];
  for await (const entities of pages) {
    for (const entity of entities) {
      const user = parseUser(entity.u);
      if (user) people.push(user);
    }
    if (people.length >= wanted) break;
  }
  return { people: people.slice(skip, skip + count), hasMore: people.length > skip + count };
}

/**
 * Every user row, read in one paged scan: a full sync works from this instead of reading each user it
 * writes (20,000 point reads), and removes at the end the users it did not see. It is kept up to date by
 * the writes made with it. `rows` are the users in the directory, `tombstones` the rows that remember
 * when a removed user was last read (so that an older read arriving late cannot bring them back).
 */
export interface DirectorySnapshot {
  readonly rows: Map<string, UserRow>;
  readonly tombstones: Map<string, StoredRow>;
}

export async function readDirectorySnapshot(): Promise<DirectorySnapshot> {
  const table = await directoryTable();
  const snapshot: DirectorySnapshot = { rows: new Map(), tombstones: new Map() };
  const entities = table.listEntities<UserEntity>({
    queryOptions: { filter: partitionRange(USER_PREFIX), select: ['RowKey', 'data', 'derived', 'readAt'] },
  });
  for await (const entity of entities) remember(snapshot, entity.rowKey ?? '', toStoredRow(entity));
  return snapshot;
}

function remember(snapshot: DirectorySnapshot | undefined, id: string, row: StoredRow | undefined): void {
  if (!snapshot) return;
  snapshot.rows.delete(id);
  snapshot.tombstones.delete(id);
  if (row?.user) snapshot.rows.set(id, row as UserRow);
  else if (row) snapshot.tombstones.set(id, row);
}

// ---------------------------------------------------------------------------------------------------
// Writing

/** Graph user objects as returned with `$select` (see USER_SELECT): each replaces the stored user. */
export function upsertUsers(users: readonly Record<string, unknown>[], readAt = Date.now()): Promise<AppliedChanges> {
  return applyUserChanges(users.map((user) => ({ kind: 'replace', user, readAt })));
}

export function removeUsers(ids: readonly string[], readAt = Date.now()): Promise<AppliedChanges> {
  return applyUserChanges(ids.map((id) => ({ kind: 'remove', id, readAt })));
}

/**
 * `replace`: the user's full state (a property that is absent is empty). `patch`: only the properties
 * present change, as in a delta catch-up round, which returns "at least the properties that have been
 * updated". `remove`: the user leaves the directory. `readAt`: when the Graph read that saw this state was
 * sent (epoch ms); a change read before the one stored is older news and is dropped.
 */
export type UserChange =
  | { kind: 'replace'; user: Record<string, unknown>; readAt: number }
  | { kind: 'patch'; user: Record<string, unknown>; readAt: number }
  | { kind: 'remove'; id: string; readAt: number };

export interface AppliedChanges {
  /** Users whose rows Table storage could not hold (a key or property over its limits): left as they were. */
  skipped: string[];
}

/** What one user's change writes: the user row's new state and the derived rows it owns. */
interface Plan {
  id: string;
  before: StoredRow | undefined;
  next: DirectoryUser | undefined;
  readAt: number;
  /** Derived rows to write (none when only the read time changes). */
  rows: DerivedRow[];
  /** The derived rows the user owns once written. */
  keys: RowKeyPair[];
  /** Rows listed before that the new state no longer has. */
  stale: RowKeyPair[];
}

/**
 * Applies changes in order (the last change of a user wins); unchanged users cost one small write. The
 * users' current rows are read first, or taken from `snapshot` (a full sync), which is then updated.
 *
 * Each user is written in three steps, so that no derived row can exist that its user row does not
 * list, whatever crashes or races in between: (1) the user row, conditional on the ETag read, takes the
 * new state and lists the old and new derived rows; (2) the derived rows are written and the stale ones
 * deleted, in table transactions; (3) the user row, conditional on the ETag of step 1, lists only the new
 * rows. A lost race at step 1 re-reads and plans again (an older read then loses); a lost race at step 3
 * means another write came between, and the user's rows are converged on what the row now says.
 */
export async function applyUserChanges(changes: readonly UserChange[], snapshot?: DirectorySnapshot): Promise<AppliedChanges> {
  const latest = new Map<string, UserChange[]>();
  for (const change of changes) {
    const id = change.kind === 'remove' ? change.id : change.user.id;
    if (typeof id !== 'string' || !isValidKey(id)) continue;
    const list = latest.get(id) ?? [];
    if (change.kind !== 'patch') list.length = 0;
    list.push(change);
    latest.set(id, list);
  }
  const skipped: string[] = [];
  if (latest.size === 0) return { skipped };

  const table = await directoryTable();
  const previous = snapshot
    ? (id: string): StoredRow | undefined => snapshot.rows.get(id) ?? snapshot.tombstones.get(id)
    : await readPrevious(table, [...latest.keys()]);

  // Step 1, per user: a conditional write, planned again from a fresh read when it loses a race.
  const planned: { plan: Plan; etag: string }[] = [];
  await forEachLimited([...latest], PARALLEL_WRITES, async ([id, list]) => {
    let before = previous(id);
    // A state storage cannot hold is logged by the caller; the user leaves the directory rather than stay stale.
    if (nextState(list, before).unstorable) skipped.push(id);
    for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
      const plan = planChange(id, list, before);
      if (plan === 'older' || plan === 'unchanged') return;
      const listed = [...plan.keys, ...plan.stale];
      const etag = await writeUserRow(table, id, plan.next, listed, plan.readAt, before?.etag);
      if (etag !== undefined) {
        planned.push({ plan, etag });
        return;
      }
      before = await readUserRow(table, id);
    }
    throw new WriteConflictError(`the directory row of user ${id} kept changing under this write`);
  });

  // Step 2: the derived rows, grouped in transactions.
  const actions: TransactionAction[] = [];
  for (const { plan } of planned) {
    for (const row of plan.rows) actions.push(['upsert', row, 'Replace']);
    for (const key of plan.stale) actions.push(['delete', { partitionKey: key[0], rowKey: key[1] }]);
  }
  await submitGrouped(table, actions);

  // Step 3: each user row lists only its new rows, unless another write came in between. With nothing to
  // drop from the list, a read confirms it (nothing to confirm when step 2 wrote nothing). Either way a
  // write that came in between may have planned before step 2 landed, so the rows are then converged on
  // what the row says now.
  await forEachLimited(planned, PARALLEL_WRITES, async ({ plan, etag }) => {
    const keys = plan.keys;
    let done: string | undefined = etag;
    if (plan.stale.length > 0) done = await writeUserRow(table, plan.id, plan.next, keys, plan.readAt, etag);
    else if (plan.rows.length > 0 && (await readUserRow(table, plan.id))?.etag !== etag) done = undefined;
    if (done !== undefined) remember(snapshot, plan.id, { user: plan.next, derived: keys, readAt: plan.readAt, etag: done });
    else remember(snapshot, plan.id, await convergeUser(table, plan.id, [...keys, ...plan.stale]));
  });
  return { skipped };
}

/** The user's state after `list` applied on `before`: undefined when the user leaves or cannot be held. */
function nextState(list: readonly UserChange[], before: StoredRow | undefined): { next: DirectoryUser | undefined; readAt: number; unstorable: boolean } {
  const readAt = Math.max(...list.map((change) => change.readAt));
  let next: DirectoryUser | undefined = before?.user;
  for (const change of list) {
    next = change.kind === 'remove' ? undefined : toDirectoryUser(change.user, change.kind === 'patch' ? next : undefined, new Date(readAt));
  }
  if (!next || [userEntity(next, [], readAt), ...derivedRows(next)].every(isStorable)) return { next, readAt, unstorable: false };
  return { next: undefined, readAt, unstorable: true };
}

function planChange(id: string, list: readonly UserChange[], before: StoredRow | undefined): Plan | 'older' | 'unchanged' {
  const state = nextState(list, before);
  const readAt = state.readAt;
  if (before && readAt < before.readAt) return 'older';
  let next = state.next;
  const oldKeys = before?.derived ?? [];
  if (!next) {
    if (!before || (!before.user && oldKeys.length === 0 && readAt === before.readAt)) return 'unchanged';
    return { id, before, next, readAt, rows: [], keys: [], stale: oldKeys };
  }
  if (before?.user && sameUser(before.user, next)) next = { ...next, lastChanged: before.user.lastChanged };
  const rows = derivedRows(next);
  const newKeys = rows.map(keyOf);
  const stale = oldKeys.filter((key) => !newKeys.some((k) => k[0] === key[0] && k[1] === key[1]));
  const unchanged = before?.user !== undefined && sameUser(before.user, next) && sameKeys(oldKeys, newKeys);
  if (unchanged && readAt === before.readAt) return 'unchanged';
  // Unchanged but read later: the row still takes the newer read time, so an older read cannot win later.
  return { id, before, next, readAt, rows: unchanged ? [] : rows, keys: newKeys, stale };
}

/**
 * Makes a user's derived rows what its row says now: writes the rows of its state, deletes every other
 * row it lists or `suspects` names, and records the list, conditional on the ETag read (repeated when
 * another write comes in between, so the last writer's state is what stays). Rows of an id without a row
 * are listed under a tombstone before they are deleted, so that a writer creating the user meanwhile
 * plans over the tombstone (and its conditional write makes this one go round again).
 */
async function convergeUser(table: TableClient, id: string, suspects: readonly RowKeyPair[]): Promise<StoredRow | undefined> {
  for (let attempt = 0; attempt < CONFLICT_RETRIES; attempt++) {
    let row = await readUserRow(table, id);
    if (!row) {
      if (suspects.length === 0) return undefined;
      const etag = await writeUserRow(table, id, undefined, suspects, 0, undefined);
      if (etag === undefined) continue;
      row = { user: undefined, derived: [...suspects], readAt: 0, etag };
    }
    const rows = row.user ? derivedRows(row.user) : [];
    const keys = rows.map(keyOf);
    const wanted = new Set(keys.map(keyText));
    const extra = [...row.derived, ...suspects].filter((key) => !wanted.has(keyText(key)));
    await submitGrouped(table, [
      ...rows.map((r): TransactionAction => ['upsert', r, 'Replace']),
      ...extra.map((key): TransactionAction => ['delete', { partitionKey: key[0], rowKey: key[1] }]),
    ]);
    const etag = await writeUserRow(table, id, row.user, keys, row.readAt, row.etag);
    if (etag !== undefined) return { ...row, derived: keys, etag };
  }
  throw new WriteConflictError(`the directory row of user ${id} kept changing while its rows were repaired`);
}

/** What the sweep keeps of a user row: enough to judge its derived rows, not the user itself. */
interface SweptUser {
  /** The `v` its derived rows must carry; undefined for a tombstone (which owns none). */
  version: string | undefined;
  expected: number;
  seen: number;
  listedRight: boolean;
  readAt: number;
  etag: string | undefined;
}

/**
 * The full reconciliation's sweep, in two streamed passes. The user rows: for each, the version its
 * derived rows must carry, how many it must have, and whether its list is exactly those. Then every
 * derived row (keys and `v` only): a row with its user's version is one of that user's rows (rows are a
 * function of the state); any other row (stale, from a write that crashed or lost a race, or of an id
 * without a user row) and any user whose count or list is off is converged. Memory holds a few numbers
 * per user, not the rows. Tombstones of reads older than `forgetBefore` are dropped (a read that old can
 * no longer be in flight).
 */
export async function sweepDirectory(forgetBefore: number): Promise<{ repairedUsers: number; tombstonesDropped: number }> {
  const table = await directoryTable();
  const users = new Map<string, SweptUser>();
  const userRows = table.listEntities<UserEntity>({
    queryOptions: { filter: partitionRange(USER_PREFIX), select: ['RowKey', 'data', 'derived', 'readAt'] },
  });
  for await (const entity of userRows) {
    const row = toStoredRow(entity);
    if (!row || !entity.rowKey) continue;
    const expected = row.user ? derivedRows(row.user).map(keyOf) : [];
    users.set(entity.rowKey, {
      version: row.user && versionOf(row.user),
      expected: expected.length,
      seen: 0,
      listedRight: sameKeys(row.derived, expected),
      readAt: row.readAt,
      etag: row.etag,
    });
  }
  const suspect = new Map<string, RowKeyPair[]>();
  const flag = (id: string, key?: RowKeyPair): void => {
    const list = suspect.get(id) ?? [];
    if (key) list.push(key);
    suspect.set(id, list);
  };
  const derived = table.listEntities<{ v?: string }>({
    queryOptions: {
      filter: `PartitionKey lt '${USER_PREFIX}' or PartitionKey ge '${prefixUpperBound(USER_PREFIX)}'`,
      select: ['PartitionKey', 'RowKey', 'v'],
    },
  });
  for await (const entity of derived) {
    const key: RowKeyPair = [entity.partitionKey ?? '', entity.rowKey ?? ''];
    const id = key[1].slice(key[1].lastIndexOf(' ') + 1);
    const user = users.get(id);
    if (user?.version !== undefined && entity.v === user.version) user.seen++;
    else flag(id, key);
  }
  for (const [id, user] of users) if (!user.listedRight || user.seen !== user.expected) flag(id);
  await forEachLimited([...suspect], PARALLEL_WRITES, async ([id, keys]) => {
    await convergeUser(table, id, keys);
  });
  let tombstonesDropped = 0;
  await forEachLimited([...users], PARALLEL_WRITES, async ([id, user]) => {
    if (user.version !== undefined || user.readAt >= forgetBefore || user.expected > 0 || !user.listedRight || suspect.has(id) || !user.etag) return;
    if (await deleteEntityIfUnchanged(table, userPartition(id), id, user.etag)) tombstonesDropped++;
  });
  return { repairedUsers: suspect.size, tombstonesDropped };
}

// ---------------------------------------------------------------------------------------------------
// Rows

function directoryTable(): Promise<TableClient> {
  return tableClient(DIRECTORY_TABLE);
}

/** Graph ids are GUIDs; anything a RowKey cannot hold (or a query could misread) is refused. */
function isValidKey(id: string): boolean {
  return id.length > 0 && id.length <= 256 && /^[A-Za-z0-9._@-]+$/.test(id);
}

function userPartition(id: string): string {
  return `${USER_PREFIX}${id.slice(0, 2).toLowerCase()}`;
}

function wordPartition(word: string): string {
  return `${WORD_PREFIX}${[...word].slice(0, WORD_PARTITION_LETTERS).join('')}`;
}

/** The partitions that can hold words starting with `prefix`: one, or a range for a short prefix. */
function wordPartitionFilter(prefix: string): string {
  if ([...prefix].length >= WORD_PARTITION_LETTERS) return `PartitionKey eq '${wordPartition(prefix)}'`;
  return partitionRange(`${WORD_PREFIX}${prefix}`);
}

function partitionRange(prefix: string): string {
  return `PartitionKey ge '${prefix}' and PartitionKey lt '${prefixUpperBound(prefix)}'`;
}

/** The query's words; an address counts by its part before `@`, as addresses are indexed. */
function queryWords(query: string): string[] {
  const terms = query.split(/\s+/).map((term) => (term.includes('@') ? term.slice(0, term.indexOf('@')) : term));
  return [...new Set(terms.flatMap((term) => searchWords(term)))];
}

/** The indexed words of a user: every searchable field, addresses without their domain. */
function userWords(user: DirectoryUser): string[] {
  const words = SEARCHABLE.flatMap((field) => {
    const value = user[field];
    if (value && (field === 'mail' || field === 'userPrincipalName')) return searchWords(value.split('@')[0]);
    return searchWords(value);
  });
  return [...new Set(words)];
}

const MAX_TIME = 9_999_999_999_999;
const MAX_SECONDS = 9_999_999_999;

function addressKey(address: string): { partitionKey: string; hash: string } {
  const hash = createHash('sha256').update(address.trim().toLowerCase(), 'utf8').digest('hex');
  return { partitionKey: `${ADDRESS_PREFIX}${hash.slice(0, 2)}`, hash };
}

function addressRows(user: DirectoryUser): { partitionKey: string; rowKey: string; i: string }[] {
  const keys = [user.mail, user.userPrincipalName].filter((a): a is string => !!a).map(addressKey);
  const distinct = new Map(keys.map((key) => [key.hash, key]));
  return [...distinct.values()].map(({ partitionKey, hash }) => ({ partitionKey, rowKey: `${hash} ${user.id}`, i: user.id }));
}

/** Carried by every derived row as `v`: which state of the user (and which release's derivation) wrote it. */
function versionOf(user: DirectoryUser): string {
  return createHash('sha256').update(DERIVATION_VERSION).update('\n').update(JSON.stringify(user)).digest('base64url').slice(0, 16);
}

/** The rows derived from a user's state (keys and content): what the sweep converges on, and what tests expect. */
export function derivedRows(user: DirectoryUser): DerivedRow[] {
  const v = versionOf(user);
  const addresses = addressRows(user).map((row) => ({ ...row, v }));
  if (!user.accountEnabled) return addresses;
  const data = JSON.stringify(user);
  const words = userWords(user);
  const sortName = cutAtCodePoint(searchWords(user.displayName).join(' '), SORT_NAME_LENGTH);
  const department = foldText((user.department ?? '').trim());
  const rows = words.map((word) => ({
    partitionKey: wordPartition(word),
    rowKey: `${word} ${sortName} ${user.id}`,
    u: data,
    w: words.join(' '),
    d: department,
    v,
  }));
  const parsed = Date.parse(user.lastChanged);
  const changedAt = Number.isFinite(parsed) ? parsed : 0;
  const invertedMs = String(MAX_TIME - changedAt).padStart(13, '0');
  const invertedSecond = String(MAX_SECONDS - Math.floor(changedAt / 1000)).padStart(10, '0');
  // Users changed in the same second (a full sync) spread over a few partitions, still newest first.
  const bucket = user.id.charAt(0).toLowerCase();
  return [...rows, ...addresses, { partitionKey: `${RECENT_PREFIX}${invertedSecond}-${bucket}`, rowKey: `${invertedMs} ${user.id}`, u: data, v }];
}

function userEntity(user: DirectoryUser | undefined, derived: readonly RowKeyPair[], readAt: number): Required<Pick<UserEntity, 'partitionKey' | 'rowKey' | 'data' | 'derived' | 'readAt'>> {
  const id = user?.id ?? '';
  return { partitionKey: userPartition(id), rowKey: id, data: user ? JSON.stringify(user) : '', derived: JSON.stringify(derived), readAt };
}

function keyOf(row: DerivedRow): RowKeyPair {
  return [row.partitionKey, row.rowKey];
}

function keyText(key: RowKeyPair): string {
  return `${key[0]}\n${key[1]}`;
}

function toStoredRow(entity: UserEntity): StoredRow | undefined {
  if (typeof entity.data !== 'string') return undefined;
  const user = parseUser(entity.data);
  return { user, derived: parseKeys(entity.derived), readAt: typeof entity.readAt === 'number' ? entity.readAt : 0, etag: entity.etag };
}

async function readUserRow(table: TableClient, id: string): Promise<StoredRow | undefined> {
  const entity = await getEntityIfExists<UserEntity>(table, userPartition(id), id);
  return entity && toStoredRow(entity);
}

/**
 * The user row, conditional: replaced if it still has `etag`, created if there was none. Returns the new
 * ETag, or undefined when another write came first.
 */
async function writeUserRow(
  table: TableClient,
  id: string,
  user: DirectoryUser | undefined,
  derived: readonly RowKeyPair[],
  readAt: number,
  etag: string | undefined,
): Promise<string | undefined> {
  const entity = { ...userEntity(user, derived, readAt), partitionKey: userPartition(id), rowKey: id };
  try {
    const written = etag === undefined ? await table.createEntity(entity) : await table.updateEntity(entity, 'Replace', { etag });
    return written.etag ?? '*';
  } catch (err) {
    // 409: created by another writer first; 412: changed since read; 404: dropped (a tombstone) since read.
    const status = storageStatus(err);
    if (status === 409 || status === 412 || status === 404) return undefined;
    throw err;
  }
}

/**
 * The users' current rows: point reads in parallel, the cheapest Table storage operation and the only one
 * whose cost does not grow with the partition (a filter of `RowKey eq … or …` scans the partition).
 * Seeding an empty directory needs none (one query says it is empty).
 */
async function readPrevious(table: TableClient, ids: readonly string[]): Promise<(id: string) => StoredRow | undefined> {
  const rows = new Map<string, StoredRow>();
  if (ids.length >= PARALLEL_READS && (await isDirectoryEmptyOfRows(table))) return () => undefined;
  await forEachLimited(ids, PARALLEL_READS, async (id) => {
    const row = await readUserRow(table, id);
    if (row) rows.set(id, row);
  });
  return (id) => rows.get(id);
}

/** No user row at all, tombstones included (for `isDirectoryEmpty` a tombstone is no user). */
async function isDirectoryEmptyOfRows(table: TableClient): Promise<boolean> {
  const pages = table.listEntities({ queryOptions: { filter: partitionRange(USER_PREFIX), select: ['RowKey'] } }).byPage({ maxPageSize: 1 });
  for await (const page of pages) if (page.length > 0) return false;
  return true;
}

/** Whether Table storage accepts the row: keys within 1 KiB and free of the characters keys may not hold. */
function isStorable(row: { partitionKey: string; rowKey: string; [key: string]: unknown }): boolean {
  const goodKey = (key: string): boolean => key.length > 0 && key.length <= MAX_KEY_UNITS && !KEY_FORBIDDEN.test(key) && key.isWellFormed();
  const goodValue = (value: unknown): boolean => typeof value !== 'string' || value.length <= MAX_STRING_UNITS;
  return goodKey(row.partitionKey) && goodKey(row.rowKey) && Object.values(row).every(goodValue);
}

/** Operations grouped by partition, 100 to a transaction, several partitions in parallel. */
async function submitGrouped(table: TableClient, actions: readonly TransactionAction[]): Promise<void> {
  const byPartition = new Map<string, Map<string, TransactionAction>>();
  for (const action of actions) {
    const { partitionKey, rowKey } = action[1];
    const partition = byPartition.get(partitionKey) ?? new Map<string, TransactionAction>();
    partition.set(rowKey, action); // a transaction may touch a row once; the last action wins
    byPartition.set(partitionKey, partition);
  }
  const batches: TransactionAction[][] = [];
  for (const partition of byPartition.values()) {
    const list = [...partition.values()];
    for (let i = 0; i < list.length; i += TRANSACTION_LIMIT) batches.push(list.slice(i, i + TRANSACTION_LIMIT));
  }
  await forEachLimited(batches, PARALLEL_WRITES, (batch) => submitBatch(table, batch));
}

async function submitBatch(table: TableClient, batch: TransactionAction[]): Promise<void> {
  try {
    await table.submitTransaction(batch);
  } catch (err) {
    // A delete of a row that is already gone fails the whole transaction; replay it one by one,
    // treating "already gone" as done (the change is being applied a second time).
    if (storageStatus(err) !== 404) throw err;
    await forEachLimited(batch, PARALLEL_WRITES, async (action) => {
      if (action[0] === 'delete') {
        await table.deleteEntity(action[1].partitionKey, action[1].rowKey).catch((e: unknown) => {
          if (storageStatus(e) !== 404) throw e;
        });
      } else if (action[0] === 'upsert') {
        await table.upsertEntity(action[1], 'Replace');
      }
    });
  }
}

async function forEachLimited<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++] as T;
      await work(item);
    }
  });
  await Promise.all(workers);
}

// ---------------------------------------------------------------------------------------------------
// Values

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** A Graph user object (with `$select`) as a DirectoryUser; `base` supplies properties it lacks. */
function toDirectoryUser(record: Record<string, unknown>, base: DirectoryUser | undefined, now: Date): DirectoryUser | undefined {
  const id = text(record.id);
  if (!id) return undefined;
  const has = (key: string): boolean => Object.prototype.hasOwnProperty.call(record, key);
  const user: DirectoryUser = {
    id,
    displayName: has('displayName') ? (text(record.displayName) ?? '') : (base?.displayName ?? ''),
    businessPhones: has('businessPhones')
      ? Array.isArray(record.businessPhones)
        ? record.businessPhones.filter((p): p is string => typeof p === 'string')
        : []
      : (base?.businessPhones ?? []),
    // Graph omits accountEnabled only when it was not selected; an unknown user is taken as enabled.
    accountEnabled: has('accountEnabled') ? record.accountEnabled !== false : (base?.accountEnabled ?? true),
    lastChanged: now.toISOString(),
  };
  for (const field of OPTIONAL_TEXT) {
    const value = has(field) ? text(record[field]) : base?.[field];
    if (value !== undefined) user[field] = value;
  }
  return user;
}

function parseUser(json: string | undefined): DirectoryUser | undefined {
  if (!json) return undefined;
  try {
    const value = JSON.parse(json) as unknown;
    return isRecord(value) && typeof value.id === 'string' ? (value as unknown as DirectoryUser) : undefined;
  } catch {
    return undefined;
  }
}

function parseKeys(json: string | undefined): RowKeyPair[] {
  try {
    const value = JSON.parse(json ?? '[]') as unknown;
    return Array.isArray(value)
      ? value.filter((k): k is RowKeyPair => Array.isArray(k) && typeof k[0] === 'string' && typeof k[1] === 'string')
      : [];
  } catch {
    return [];
  }
}

/** Equal apart from lastChanged. */
function sameUser(a: DirectoryUser, b: DirectoryUser): boolean {
  return JSON.stringify({ ...a, lastChanged: '' }) === JSON.stringify({ ...b, lastChanged: '' });
}

function sameKeys(a: readonly RowKeyPair[], b: readonly RowKeyPair[]): boolean {
  const flat = (keys: readonly RowKeyPair[]): string => keys.map((k) => `${k[0]}\n${k[1]}`).sort().join('\n');
  return flat(a) === flat(b);
}

// Made on first search, not at load: the first Intl object of a process costs milliseconds of cold start.
let collator: Intl.Collator | undefined;

function byDisplayName(a: DirectoryUser, b: DirectoryUser): number {
  collator ??= new Intl.Collator('en', { sensitivity: 'base', numeric: true });
  return collator.compare(a.displayName, b.displayName) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function normalisePage(page: Page): Page {
  const skip = Number.isFinite(page.skip) ? Math.max(0, Math.floor(page.skip)) : 0;
  const count = Number.isFinite(page.count) ? Math.max(0, Math.min(SEARCH_PAGE, Math.floor(page.count))) : 0;
  return { skip, count };
}
