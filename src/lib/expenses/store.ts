import type { TableClient, TableEntityResult } from '@azure/data-tables' with { 'resolution-mode': 'import' };

import { randomUUID } from 'node:crypto';

import { isMailAddress } from '../core/validate';
import { BadRequestError } from '../core/errors';
import { isRecord } from '../core/http';
import { getEntityIfExists, storageStatus, tableClient, withStorage } from '../clients/storage';

/**
 * The expense store in Table storage. Each expense is one row (partition = its id), so a decision is an
 * ETag-conditional update of that row: of two clicks racing each other exactly one records its decision.
 * A second table indexes expenses by the lower-cased address of the submitter and of the approver, newest
 * first, for "my expenses" listings; its rows are written idempotently after the expense, so a retried
 * create repairs a missing index row.
 */

export type ExpenseStatus = 'pending' | 'approved' | 'rejected';

export interface Expense {
  id: string;
  submitter: string;
  approver: string;
  amount: number;
  currency: string;
  description: string;
  status: ExpenseStatus;
  decidedBy?: string;
  comment?: string;
  createdAt: string;
  decidedAt?: string;
}

export type NewExpense = Pick<Expense, 'id' | 'submitter' | 'approver' | 'amount' | 'currency' | 'description'>;

export type Decision = 'approve' | 'reject';

/** Ids are safe as Table keys and in URLs: letters, digits, `.`, `_`, `-`, at most 64, starting alphanumeric. */
export function isExpenseId(value: unknown): value is string {
  return typeof value === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(value);
}

const MAX_DESCRIPTION_LENGTH = 1000;
const MAX_AMOUNT = 1e12;

let currencies: Set<string> | undefined;
function isCurrency(code: string): boolean {
  currencies ??= new Set(Intl.supportedValuesOf('currency'));
  return currencies.has(code);
}

/** Decimal places the currency has (2 for EUR, 0 for JPY, 3 for KWD). */
function minorDigits(currency: string): number {
  return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
}

/**
 * Validates a createExpense body. Every problem is collected, so the 400 lists all fields at once.
 * The currency is an ISO 4217 code (upper-cased); the amount is positive, finite and has no more
 * decimals than the currency has.
 */
export function parseNewExpense(body: unknown): NewExpense {
  if (!isRecord(body)) {
    throw new BadRequestError('body must be a JSON object', ['submitter', 'approver', 'amount', 'currency', 'description']);
  }
  const input = body;
  const bad: string[] = [];
  const mail = (name: string): string => {
    const value = input[name];
    if (typeof value === 'string' && isMailAddress(value.trim())) return value.trim();
    bad.push(name);
    return '';
  };
  const submitter = mail('submitter');
  const approver = mail('approver');
  const currency = typeof input.currency === 'string' ? input.currency.trim().toUpperCase() : '';
  const currencyValid = /^[A-Z]{3}$/.test(currency) && isCurrency(currency);
  if (!currencyValid) bad.push('currency');
  const amount = input.amount;
  const amountValid =
    typeof amount === 'number' &&
    Number.isFinite(amount) &&
    amount > 0 &&
    amount <= MAX_AMOUNT &&
    (!currencyValid || Number(amount.toFixed(minorDigits(currency))) === amount);
  if (!amountValid) bad.push('amount');
  const description = typeof input.description === 'string' ? input.description.trim() : '';
  if (description.length === 0 || description.length > MAX_DESCRIPTION_LENGTH) bad.push('description');
  if (input.id !== undefined && !isExpenseId(input.id)) bad.push('id');
  if (bad.length > 0) {
    throw new BadRequestError(
      `invalid fields: ${bad.join(', ')} (submitter and approver are mail addresses; amount is a positive number ` +
        `with at most the currency's decimals; currency is an ISO 4217 code; description is 1-${MAX_DESCRIPTION_LENGTH} ` +
        'characters; id, when given, is 1-64 letters, digits, ".", "_" or "-")',
      bad,
    );
  }
  return {
    id: isExpenseId(input.id) ? input.id : randomUUID(),
    submitter,
    approver,
    amount: amount as number,
    currency,
    description,
  };
}

const EXPENSES_TABLE = 'expenses';
const INDEX_TABLE = 'expensesbyuser';
const EXPENSE_ROW = 'expense';

interface ExpenseEntity {
  partitionKey: string;
  rowKey: string;
  submitter: string;
  approver: string;
  amount: number;
  currency: string;
  description: string;
  status: string;
  decidedBy?: string;
  comment?: string;
  createdAt: string;
  decidedAt?: string;
}

interface IndexEntity {
  partitionKey: string;
  rowKey: string;
  expenseId: string;
}

const isStatus = (value: unknown): value is ExpenseStatus =>
  value === 'pending' || value === 'approved' || value === 'rejected';

function toExpense(entity: TableEntityResult<ExpenseEntity>): Expense {
  const expense: Expense = {
    id: entity.partitionKey,
    submitter: entity.submitter,
    approver: entity.approver,
    amount: Number(entity.amount),
    currency: entity.currency,
    description: entity.description,
    status: isStatus(entity.status) ? entity.status : 'pending',
    createdAt: entity.createdAt,
  };
  if (entity.decidedBy) expense.decidedBy = entity.decidedBy;
  if (entity.comment) expense.comment = entity.comment;
  if (entity.decidedAt) expense.decidedAt = entity.decidedAt;
  return expense;
}

function readEntity(table: TableClient, id: string): Promise<TableEntityResult<ExpenseEntity> | undefined> {
  return getEntityIfExists<ExpenseEntity>(table, id, EXPENSE_ROW);
}

export function getExpense(id: string): Promise<Expense | undefined> {
  return withStorage('expense store read', async () => {
    const entity = await readEntity(await tableClient(EXPENSES_TABLE), id);
    return entity ? toExpense(entity) : undefined;
  });
}

// Index row keys sort newest first: the time left until year 275760 (JavaScript's last date), zero-padded.
const MAX_TIME = 8_640_000_000_000_000;
function indexRowKey(expense: Expense): string {
  const remaining = MAX_TIME - Date.parse(expense.createdAt);
  return `${String(remaining).padStart(16, '0')}_${expense.id}`;
}

/**
 * A mail address as an index partition key. Addresses may hold characters Table storage refuses in keys
 * (`/ \\ # ?` and control characters); those, and `%` itself, are %-escaped, so that every address has
 * its own key and ordinary addresses are stored as they are.
 */
const indexKey = (address: string): string =>
  address.replace(/[%/\\#?\p{Cc}]/gu, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

async function writeIndex(expense: Expense): Promise<void> {
  const table = await tableClient(INDEX_TABLE);
  const addresses = new Set([expense.submitter.toLowerCase(), expense.approver.toLowerCase()]);
  await Promise.all(
    [...addresses].map((address) =>
      table.upsertEntity<IndexEntity>(
        { partitionKey: indexKey(address), rowKey: indexRowKey(expense), expenseId: expense.id },
        'Replace',
      ),
    ),
  );
}

/**
 * Stores a new pending expense. When the id exists already nothing is written except a repair of its
 * index rows, and the stored expense is returned with `created: false`.
 */
export function insertExpense(input: NewExpense, now: Date = new Date()): Promise<{ expense: Expense; created: boolean }> {
  return withStorage('expense store create', async () => {
    const table = await tableClient(EXPENSES_TABLE);
    const entity: ExpenseEntity = {
      partitionKey: input.id,
      rowKey: EXPENSE_ROW,
      submitter: input.submitter,
      approver: input.approver,
      amount: input.amount,
      currency: input.currency,
      description: input.description,
      status: 'pending',
      createdAt: now.toISOString(),
    };
    let result: { expense: Expense; created: boolean };
    try {
      await table.createEntity(entity);
      result = { expense: toExpense(entity as TableEntityResult<ExpenseEntity>), created: true };
    } catch (err) {
      if (storageStatus(err) !== 409) throw err;
      const stored = await readEntity(table, input.id);
      if (!stored) throw err;
      result = { expense: toExpense(stored), created: false };
    }
    await writeIndex(result.expense);
    return result;
  });
}

export type DecisionOutcome =
  | { outcome: 'decided'; expense: Expense }
  | { outcome: 'alreadyDecided'; expense: Expense }
  | { outcome: 'notFound' };

/**
 * Records a decision on a pending expense with an ETag-conditional update. `check` sees the stored
 * expense first and may throw to refuse (e.g. the performer is not its approver), whatever its status.
 * If the expense was decided already, or another decision wins the race, nothing changes and the
 * stored expense is returned.
 */
export function decideExpense(
  id: string,
  decision: { decision: Decision; decidedBy: string; comment?: string },
  options: { now?: Date; check?: (expense: Expense) => void } = {},
): Promise<DecisionOutcome> {
  return withStorage('expense store decide', async () => {
    const table = await tableClient(EXPENSES_TABLE);
    const current = await readEntity(table, id);
    if (!current) return { outcome: 'notFound' };
    const stored = toExpense(current);
    options.check?.(stored);
    if (current.status !== 'pending') return { outcome: 'alreadyDecided', expense: stored };
    const change = {
      partitionKey: id,
      rowKey: EXPENSE_ROW,
      status: decision.decision === 'approve' ? 'approved' : 'rejected',
      decidedBy: decision.decidedBy,
      decidedAt: (options.now ?? new Date()).toISOString(),
      ...(decision.comment ? { comment: decision.comment } : {}),
    };
    try {
      await table.updateEntity(change, 'Merge', { etag: current.etag });
    } catch (err) {
      // 412: another decision landed between our read and our write; it stands.
      if (storageStatus(err) !== 412) throw err;
      const winner = await readEntity(table, id);
      if (!winner) return { outcome: 'notFound' };
      return { outcome: 'alreadyDecided', expense: toExpense(winner) };
    }
    return { outcome: 'decided', expense: toExpense({ ...current, ...change }) };
  });
}

/** Expenses whose submitter or approver is one of these addresses (case-insensitive), newest first. */
export function listExpensesForUser(
  addresses: readonly string[],
  page: { skip: number; count: number },
): Promise<{ expenses: Expense[]; hasMore: boolean }> {
  return withStorage('expense store list', async () => {
    const wanted = [...new Set(addresses.map((a) => a.trim().toLowerCase()).filter((a) => a.length > 0))];
    const skip = Math.max(0, Math.floor(page.skip));
    const count = Math.max(0, Math.floor(page.count));
    if (wanted.length === 0 || count === 0) return { expenses: [], hasMore: false };
    const { odata } = await import('@azure/data-tables');
    const index = await tableClient(INDEX_TABLE);
    // Each address's rows are already newest first; take at most what the page can need from each.
    const limit = skip + count + 1;
    const rows = new Map<string, string>();
    await Promise.all(
      wanted.map(async (address) => {
        let taken = 0;
        const pages = index
          .listEntities<IndexEntity>({ queryOptions: { filter: odata`PartitionKey eq ${indexKey(address)}` } })
          .byPage({ maxPageSize: Math.min(limit, 1000) });
        for await (const batch of pages) {
          for (const row of batch) {
            if (taken++ >= limit) break;
            // The same expense has the same row key under every address it is indexed by.
            rows.set(row.expenseId, row.rowKey);
          }
          if (taken >= limit) break;
        }
      }),
    );
    const ordered = [...rows.entries()].sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0)).map(([id]) => id);
    const table = await tableClient(EXPENSES_TABLE);
    const wantedSet = new Set(wanted);
    const involves = (e: Expense): boolean =>
      wantedSet.has(e.submitter.toLowerCase()) || wantedSet.has(e.approver.toLowerCase());
    const window = ordered.slice(skip, skip + count + 1);
    const loaded = await Promise.all(window.map((id) => readEntity(table, id)));
    const expenses = loaded
      .filter((e): e is TableEntityResult<ExpenseEntity> => e !== undefined)
      .map(toExpense)
      .filter(involves);
    return { expenses: expenses.slice(0, count), hasMore: ordered.length > skip + count };
  });
}
