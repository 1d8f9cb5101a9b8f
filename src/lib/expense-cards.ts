import type * as Templating from 'adaptivecards-templating';

import approvalTemplate from '../cards/expense-approval.json';
import statusTemplate from '../cards/expense-status.json';
import type { Decision, Expense } from './expenses';

/**
 * Expense cards. The layouts are Adaptive Card templates in src/cards (open them in the Adaptive Cards
 * Designer); this module only computes the data they bind to, with `adaptivecards-templating` (loaded on
 * first use). Data values are never evaluated as template expressions, so text from the expense cannot
 * change a card's structure; free text is shown in TextRuns, which render no markdown.
 */

export type AdaptiveCard = Record<string, unknown>;

let templating: Promise<typeof Templating> | undefined;

async function expand(template: unknown, data: Record<string, string>): Promise<AdaptiveCard> {
  templating ??= import('adaptivecards-templating');
  const { Template } = await templating;
  return new Template(template).expand({ $root: data }) as AdaptiveCard;
}

const STATUS_TEXT = { pending: 'Waiting for approval', approved: 'Approved', rejected: 'Rejected' } as const;
const STATUS_COLOR = { pending: 'Warning', approved: 'Good', rejected: 'Attention' } as const;

export function formatAmount(amount: number, currency: string): string {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency, currencyDisplay: 'code' }).format(amount);
}

function cardData(expense: Expense): Record<string, string> {
  const amountText = formatAmount(expense.amount, expense.currency);
  return {
    id: expense.id,
    submitter: expense.submitter,
    approver: expense.approver,
    description: expense.description,
    amountText,
    statusText: STATUS_TEXT[expense.status],
    statusColor: STATUS_COLOR[expense.status],
    decidedBy: expense.decidedBy ?? '',
    comment: expense.comment ?? '',
    fallbackText: `Expense ${expense.id}: ${amountText} from ${expense.submitter}. ${STATUS_TEXT[expense.status]}.`,
  };
}

/** The expense and its state, with no actions: Adaptive Card 1.4, for Teams and for Outlook's refresh. */
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

/** The card Outlook shows after a click (`CARD-UPDATE-IN-BODY`): the decision, no actions left. */
export async function refreshedApprovalCard(expense: Expense, originator: string | undefined): Promise<AdaptiveCard> {
  return { ...(await expenseStatusCard(expense)), ...(originator ? { originator } : {}), hideOriginalBody: false };
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
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
