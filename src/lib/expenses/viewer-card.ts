import { approverObjectIds, issueDecisionToken } from './approval';
import type { AdaptiveCard } from '../core/adaptive-card';
import { universalApprovalCard, universalStatusCard, type UniversalHost } from './cards';
import type { Expense } from './store';

/**
 * The one place that decides what a person sees of an expense on a Universal Actions card (the refresh
 * answer, the answer to a click, a Teams result): the approver of a pending expense gets the buttons,
 * anyone else, and everyone once it is decided, the status. Whether the viewer may see the expense at all
 * is the caller's check first (expenses/visibility).
 */

export interface ViewerCardOptions {
  host: UniversalHost;
  actionTokenKey: Buffer;
  originator?: string;
}

/** `viewerObjectId`: the Entra object id of who is looking (`from.aadObjectId`), when known. */
export async function cardForViewer(
  expense: Expense,
  viewerObjectId: string | undefined,
  options: ViewerCardOptions,
): Promise<AdaptiveCard> {
  const refreshUserIds = expense.status === 'pending' ? await approverObjectIds(expense) : [];
  const cardOptions = { host: options.host, refreshUserIds, ...(options.originator ? { originator: options.originator } : {}) };
  const viewer = viewerObjectId?.toLowerCase();
  const isApprover = viewer !== undefined && refreshUserIds.some((id) => id.toLowerCase() === viewer);
  return isApprover
    ? universalApprovalCard(expense, issueDecisionToken(options.actionTokenKey, expense), cardOptions)
    : universalStatusCard(expense, cardOptions);
}
