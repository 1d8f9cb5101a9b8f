import { issueActionToken, verifyActionToken } from './action-token';
import type { ActionableMessagesConfig, ExpensesConfig } from '../config/settings';
import { ensureError, ForbiddenError, NotFoundError, UpstreamError, BadRequestError } from '../core/errors';
import { approvalMailHtml, expenseApprovalCard, formatAmount, refreshedApprovalCard } from './cards';
import type { ActionPerformer } from './outlook-token';
import { getDirectoryUser, userIdsByAddress } from '../directory/directory';
import { type Decision, decideExpense, type Expense, isExpenseId } from './store';
import { graphClient } from '../clients/graph-client';
import type { AdaptiveCard } from '../core/adaptive-card';
import { isRecord } from '../core/http';
import { withStorage } from '../clients/storage';

/**
 * The approval round trip: the mail that carries the actionable card to the approver, and what a click
 * on its Approve/Reject buttons does once the caller's bearer token has been verified.
 */

const ACTION_PATH = '/api/actionable-message';

/** Mails the approval card to the approver from the sender mailbox (Graph sendMail, Mail.Send). */
export async function sendApprovalMail(config: ExpensesConfig, expense: Expense): Promise<void> {
  const card = await expenseApprovalCard(expense, {
    originator: config.originator,
    actionUrl: `${config.publicBaseUrl}${ACTION_PATH}`,
    actionToken: issueActionToken(config.actionTokenKey, 'expense-decision', expense.id, expense.approver),
  });
  const message = {
    subject: `Expense approval: ${formatAmount(expense.amount, expense.currency)} from ${expense.submitter}`,
    body: { contentType: 'HTML', content: approvalMailHtml(card, expense) },
    toRecipients: [{ emailAddress: { address: expense.approver } }],
  };
  const client = await graphClient(config);
  try {
    await client.api(`/users/${encodeURIComponent(config.sender)}/sendMail`).post({ message, saveToSentItems: true });
  } catch (err) {
    const status = (err as { statusCode?: unknown }).statusCode;
    throw new UpstreamError(`Graph sendMail failed (${typeof status === 'number' ? status : ensureError(err).message})`, {
      cause: err,
    });
  }
}

/** What Outlook posts when a button is clicked (the card's `Action.Http` body, comment filled in). */
export interface ApprovalClick {
  expenseId: string;
  decision: Decision;
  comment?: string;
  actionToken: string;
}

export const MAX_COMMENT_LENGTH = 1000;
const UNFILLED_COMMENT = '{{comment.value}}';

export function parseCardAction(body: unknown): ApprovalClick {
  if (!isRecord(body)) throw new BadRequestError('body must be a JSON object', ['expenseId', 'decision', 'actionToken']);
  const bad: string[] = [];
  if (!isExpenseId(body.expenseId)) bad.push('expenseId');
  if (body.decision !== 'approve' && body.decision !== 'reject') bad.push('decision');
  const comment = body.comment === undefined || body.comment === null ? '' : body.comment;
  if (typeof comment !== 'string' || comment.length > MAX_COMMENT_LENGTH) bad.push('comment');
  if (typeof body.actionToken !== 'string' || body.actionToken.length === 0) bad.push('actionToken');
  if (bad.length > 0) throw new BadRequestError(`invalid fields: ${bad.join(', ')}`, bad);
  const action: ApprovalClick = {
    expenseId: body.expenseId as string,
    decision: body.decision as Decision,
    actionToken: body.actionToken as string,
  };
  // A client that did not fill the input in leaves the placeholder: that is no comment.
  const text = (comment as string).trim();
  if (text && text !== UNFILLED_COMMENT) action.comment = text;
  return action;
}

export interface ApprovalClickResult {
  outcome: 'decided' | 'alreadyDecided';
  expense: Expense;
  /** For CARD-ACTION-STATUS: names neither the performer nor the time. */
  statusText: string;
  card: AdaptiveCard;
}

const domainOf = (address: string): string => address.slice(address.lastIndexOf('@') + 1).toLowerCase();

/**
 * The approver address this click's action token was issued for, when the verified caller is that
 * approver; otherwise 403, before the expense is read, so a caller learns nothing about ids that are not
 * theirs. An approver is named by address, which may be their `mail` or their `userPrincipalName` (the
 * two differ in many tenants): the caller's `oid` is looked up in the directory and the token is checked
 * against that user's addresses. Only an approver the directory does not know (an outside address, a
 * directory not yet synced) is recognised by the token's own address, and so is a legacy token's.
 */
async function approverOf(caller: ActionPerformer, action: ApprovalClick, key: Buffer): Promise<string> {
  const issuedFor = (address: string | undefined): address is string =>
    address !== undefined && verifyActionToken(key, action.actionToken, 'expense-decision', action.expenseId, address);
  return withStorage('approver lookup', async () => {
    const user = caller.objectId === undefined ? undefined : await getDirectoryUser(caller.objectId);
    if (user?.accountEnabled) {
      const address = [user.mail, user.userPrincipalName].find(issuedFor);
      if (address) return address.toLowerCase();
    }
    // A legacy token names its performer by address alone (`sub`), which is then all there is to go by.
    const byAddress = caller.tokenType === 'legacy' || (await userIdsByAddress(caller.performer)).length === 0;
    if (issuedFor(caller.performer) && byAddress) return caller.performer.toLowerCase();
    throw new ForbiddenError('this action is not valid for you', 'action_token');
  });
}

/**
 * Applies a verified caller's click: the action token must be the one this app issued for this expense
 * and the caller as its approver (403), the expense must exist (404) and, when configured, the caller's
 * domain be allowed (403). Then the decision is recorded once.
 */
export async function applyCardAction(
  config: ActionableMessagesConfig,
  caller: ActionPerformer,
  action: ApprovalClick,
  now: Date,
): Promise<ApprovalClickResult> {
  const { performer } = caller;
  const approver = await approverOf(caller, action, config.actionTokenKey);
  const outcome = await decideExpense(
    action.expenseId,
    { decision: action.decision, decidedBy: performer, ...(action.comment ? { comment: action.comment } : {}) },
    {
      now,
      check(expense) {
        if (expense.approver.toLowerCase() !== approver) {
          throw new ForbiddenError('only the approver can decide this expense', 'not_approver');
        }
        const domains = config.allowedPerformerDomains;
        if (domains && !domains.includes(domainOf(performer))) {
          throw new ForbiddenError('your organisation may not decide this expense', 'performer_domain');
        }
      },
    },
  );
  if (outcome.outcome === 'notFound') throw new NotFoundError('this expense no longer exists');
  const { expense } = outcome;
  const statusText =
    outcome.outcome === 'decided'
      ? `The expense was ${expense.status}.`
      : `This expense was already ${expense.status}; nothing was changed.`;
  return { outcome: outcome.outcome, expense, statusText, card: await refreshedApprovalCard(expense, config.originator) };
}
