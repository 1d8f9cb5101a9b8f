import type * as Templating from 'adaptivecards-templating';

import approvalTemplate from '../../cards/expense-approval.json';
import universalApprovalTemplate from '../../cards/expense-approval-universal.json';
import statusTemplate from '../../cards/expense-status.json';
import type { AdaptiveCard } from '../core/adaptive-card';
import { escapeHtml } from '../core/escape-html';
import type { Decision, Expense } from './store';

/**
 * Expense cards. The layouts are Adaptive Card templates in src/cards (open them in the Adaptive Cards
 * Designer); this module only computes the data they bind to, with `adaptivecards-templating` (loaded on
 * first use). Data values are never evaluated as template expressions, so text from the expense cannot
 * change a card's structure. The `Action.Http` cards are version 1.0, the only version whose `Action.Http`
 * buttons Outlook shows; the Universal Actions cards are the version each host asks for. Free text goes
 * into TextBlocks and facts, which Outlook and Teams read as Markdown: every value is bound through
 * `markdownLiteral`.
 */

let templating: Promise<typeof Templating> | undefined;

async function expand(template: unknown, data: Record<string, string>): Promise<AdaptiveCard> {
  templating ??= import('adaptivecards-templating');
  const { Template } = await templating;
  return new Template(template).expand({ $root: data }) as AdaptiveCard;
}

/** The words for each status, wherever an expense is shown (cards, previews, replies). */
export const STATUS_TEXT = { pending: 'Waiting for approval', approved: 'Approved', rejected: 'Rejected' } as const;
/**
 * The state as a symbol and a word, in bold and the host's default colour: the hosts' "good", "warning"
 * and "attention" colours fall below 4.5:1 contrast on Teams' light or dark theme, so no colour carries it.
 */
const STATUS_SYMBOL = { pending: '⌛', approved: '✓', rejected: '✗' } as const;

/**
 * Text shown as typed in a TextBlock or fact: a backslash before every character Markdown gives a
 * meaning to (emphasis, links, code, strike-through) and before line-leading list and heading markers.
 * Outlook asks for exactly this ("escape Markdown special characters"), and CommonMark renders `\*` as `*`.
 */
export function markdownLiteral(text: string): string {
  return text
    .replace(/[\\*_[\]`~]/g, '\\$&')
    .replace(/^([ \t]*)([-+#>])/gm, '$1\\$2')
    .replace(/^([ \t]*\d+)([.)])/gm, '$1\\$2');
}

export function formatAmount(amount: number, currency: string): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency, currencyDisplay: 'code' }).format(amount);
}

function cardData(expense: Expense): Record<string, string> {
  const amountText = formatAmount(expense.amount, expense.currency);
  return {
    id: markdownLiteral(expense.id),
    submitter: markdownLiteral(expense.submitter),
    approver: markdownLiteral(expense.approver),
    description: markdownLiteral(expense.description),
    amountText: markdownLiteral(amountText),
    statusLine: `${STATUS_SYMBOL[expense.status]} ${STATUS_TEXT[expense.status]}`,
    decidedBy: markdownLiteral(expense.decidedBy ?? ''),
    comment: markdownLiteral(expense.comment ?? ''),
    // Plain text (no Markdown): what a client shows when it cannot render the card.
    fallbackText: `Expense ${expense.id}: ${amountText} from ${expense.submitter}. ${STATUS_TEXT[expense.status]}.`,
  };
}

/** The expense and its state, with no actions: Adaptive Card 1.0, for Teams and for Outlook's refresh. */
export function expenseStatusCard(expense: Expense): Promise<AdaptiveCard> {
  return expand(statusTemplate, cardData(expense));
}

export interface ApprovalCardOptions {
  /** Provider id from the Actionable Email Developer Dashboard. */
  originator: string;
  /** `${PUBLIC_BASE_URL}/api/actionable-message`. */
  actionUrl: string;
  /** The app's action token for this expense and approver. */
  actionToken: string;
}

/** The body Outlook posts for a button; Outlook fills `{{comment.value}}` from the comment input. */
function actionBody(expenseId: string, decision: Decision, actionToken: string): string {
  return JSON.stringify({ expenseId, decision, comment: '{{comment.value}}', actionToken });
}

/** The actionable card mailed to the approver: a comment box and Approve/Reject `Action.Http` buttons. */
export function expenseApprovalCard(expense: Expense, options: ApprovalCardOptions): Promise<AdaptiveCard> {
  return expand(approvalTemplate, {
    ...cardData(expense),
    originator: options.originator,
    actionUrl: options.actionUrl,
    approveBody: actionBody(expense.id, 'approve', options.actionToken),
    rejectBody: actionBody(expense.id, 'reject', options.actionToken),
  });
}

/**
 * The card Outlook shows after a click (`CARD-UPDATE-IN-BODY`): the decision and no actions left, as
 * Outlook's refresh-card guidance asks for an action that can be taken once; still version 1.0 and
 * still with the provider's `originator`.
 */
export async function refreshedApprovalCard(expense: Expense, originator: string | undefined): Promise<AdaptiveCard> {
  return { ...(await expenseStatusCard(expense)), ...(originator ? { originator } : {}), hideOriginalBody: false };
}

// ---------------------------------------------------------------------------------------------------
// Universal Actions: the same card for Outlook and Teams, its buttons answered by the bot

/** The verb of the card's `refresh` action; `approve` and `reject` are its buttons' verbs. */
export const REFRESH_VERB = 'refresh';
export type UniversalActionVerb = Decision | typeof REFRESH_VERB;

/**
 * Where a Universal Actions card is shown. Outlook runs `Action.Execute` in cards of version 1.4 and up,
 * and shows a mailed card only with the provider's `originator`; Teams asks for 1.5.
 */
export type UniversalHost = 'outlook' | 'teams';
const UNIVERSAL_VERSION: Record<UniversalHost, string> = { outlook: '1.4', teams: '1.5' };

export interface UniversalCardOptions {
  host: UniversalHost;
  /** Provider id from the Actionable Email Developer Dashboard; required by Outlook, left out for Teams. */
  originator?: string;
  /**
   * Entra object ids of the people whose client refreshes the card when it is shown (Teams; Outlook
   * ignores `userIds` and refreshes for everyone): the approver, so that they see the buttons and
   * everyone else the status.
   */
  refreshUserIds: readonly string[];
}

/** Teams refreshes a card automatically for at most 60 users. */
const MAX_REFRESH_USERS = 60;
/** Teams names a user in `refresh.userIds` as `29:<id>` or `8:orgid:<Entra object id>`. */
const refreshUserId = (objectId: string): string => `8:orgid:${objectId}`;

/** The properties a Universal Actions card adds to (or overrides on) a template's card. */
function universalFrame(expense: Expense, options: UniversalCardOptions): Partial<AdaptiveCard> {
  const frame: Partial<AdaptiveCard> = { version: UNIVERSAL_VERSION[options.host] };
  // Only Outlook knows `originator`; in Teams it is no part of the card.
  if (options.host === 'outlook' && options.originator) frame.originator = options.originator;
  // A decided expense never changes again, so its card needs no refresh.
  if (expense.status === 'pending') {
    frame.refresh = {
      action: { type: 'Action.Execute', verb: REFRESH_VERB, data: { expenseId: expense.id } },
      userIds: options.refreshUserIds.slice(0, MAX_REFRESH_USERS).map(refreshUserId),
    };
  }
  return frame;
}

/** The approver's card: a comment box and `Action.Execute` Approve/Reject carrying the action token. */
export async function universalApprovalCard(expense: Expense, actionToken: string, options: UniversalCardOptions): Promise<AdaptiveCard> {
  const card = await expand(universalApprovalTemplate, {
    ...cardData(expense),
    version: UNIVERSAL_VERSION[options.host],
    expenseId: expense.id,
    actionToken,
  });
  return { ...card, ...universalFrame(expense, options) };
}

/** Everyone else's card, and everyone's once decided: the status, with no buttons. */
export async function universalStatusCard(expense: Expense, options: UniversalCardOptions): Promise<AdaptiveCard> {
  return { ...(await expenseStatusCard(expense)), ...universalFrame(expense, options) };
}

/**
 * JSON that is safe inside a <script> element: `<`, `>` and `&` are written as \u escapes (still the
 * same JSON), so no value can close the element or open a comment; U+2028/9 likewise.
 */
export function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * The approval mail: the card in the head, where Outlook looks for it, and an HTML body that reads well
 * on its own (other mail clients, or Outlook when the card cannot be shown; `hideOriginalBody` is off).
 */
export function approvalMailHtml(card: AdaptiveCard, expense: Expense): string {
  const row = (label: string, value: string): string =>
    `<tr><th align="left" style="padding:2px 12px 2px 0">${escapeHtml(label)}</th><td>${escapeHtml(value)}</td></tr>`;
  return [
    '<html><head>',
    '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">',
    `<script type="application/adaptivecard+json">${scriptSafeJson(card)}</script>`,
    '</head><body>',
    '<p>An expense is waiting for your approval.</p>',
    '<table>',
    row('Description', expense.description),
    row('Amount', formatAmount(expense.amount, expense.currency)),
    row('Submitted by', expense.submitter),
    row('Reference', expense.id),
    '</table>',
    '<p>Approve or reject it with the buttons on the card in Outlook.</p>',
    '</body></html>',
  ].join('\n');
}
