import { expenseReaders, type ExpenseReaders } from '../config/settings';
import { logEvent, type Logger } from '../core/log';
import { getDirectoryUser } from '../directory/directory';
import { type Expense, getExpense, isExpenseId } from './store';

/**
 * Who may see an expense in Teams: its submitter, its approver and the people of EXPENSE_READERS. The
 * Teams user is known by `from.aadObjectId` (the webhook's HMAC or the bot's token vouches for it),
 * resolved through the directory to the addresses an expense names. Anyone else, and anyone the
 * directory does not know as an enabled user, is answered as for an unknown expense.
 */

/** A Teams user as the rule sees them: object id and lowercased addresses. */
export interface ExpenseViewer {
  objectId: string;
  addresses: readonly string[];
}

/** The enabled directory user behind `from.aadObjectId`, or undefined (no id, unknown, disabled). */
export async function expenseViewer(objectId: string | undefined): Promise<ExpenseViewer | undefined> {
  if (!objectId) return undefined;
  const user = await getDirectoryUser(objectId);
  if (!user?.accountEnabled) return undefined;
  const addresses = [user.mail, user.userPrincipalName]
    .map((address) => address?.trim().toLowerCase())
    .filter((address): address is string => Boolean(address));
  return { objectId: user.id.toLowerCase(), addresses };
}

/** The one rule: the viewer is the submitter, the approver, or a reader (by address or object id). */
export function mayView(viewer: ExpenseViewer | undefined, expense: Expense, readers: ExpenseReaders = expenseReaders()): boolean {
  if (!viewer) return false;
  if (readers.objectIds.has(viewer.objectId)) return true;
  const concerned = [expense.submitter.toLowerCase(), expense.approver.toLowerCase()];
  return viewer.addresses.some((address) => concerned.includes(address) || readers.addresses.has(address));
}

/**
 * The expense when `viewerObjectId` may see it, otherwise undefined, exactly as for an id no expense has.
 * The expense and the viewer are read together whether or not the expense exists, so the answer's
 * timing does not tell an existing expense from an unknown one. A refusal is logged without the id.
 */
export async function expenseForViewer(
  id: string,
  viewerObjectId: string | undefined,
  log: Logger,
  surface: string,
): Promise<Expense | undefined> {
  if (!isExpenseId(id)) return undefined;
  const [expense, viewer] = await Promise.all([getExpense(id), expenseViewer(viewerObjectId)]);
  if (!expense) return undefined;
  if (mayView(viewer, expense)) return expense;
  logEvent(log, 'warn', 'expenses.viewRefused', { surface, viewerKnown: viewer !== undefined });
  return undefined;
}
