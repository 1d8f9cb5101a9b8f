import { approverObjectIds, issueDecisionToken } from './approval';
import { type AdaptiveCard, universalApprovalCard, universalStatusCard, type UniversalHost } from './cards';
import type { Expense } from './store';

/**
 * The one place that decides what a person sees of an expense on a Universal Actions card (the refresh
 * answer, the answer to a click, a Teams result): the approver of a pending expense gets the buttons,
 * anyone else, and everyone once it is decided, the status. Who may see an expense at all is decided
 * here too when that rule comes, so every path applies it.
 */

/** Who is looking: the directory user behind the activity's `from.aadObjectId`, when known and enabled. */
export interface Viewer {
  objectId: string;
}

export interface ViewerCardOptions {
  host: UniversalHost;
  actionTokenKey: Buffer;
  originator?: string;
}

export async function cardForViewer(expense: Expense, viewer: Viewer | undefined, options: ViewerCardOptions): Promise<AdaptiveCard> {
  const refreshUserIds = expense.status === 'pending' ? await approverObjectIds(expense) : [];
  const cardOptions = { host: options.host, refreshUserIds, ...(options.originator ? { originator: options.originator } : {}) };
  const isApprover = viewer !== undefined && refreshUserIds.includes(viewer.objectId);
  return isApprover
    ? universalApprovalCard(expense, issueDecisionToken(options.actionTokenKey, expense), cardOptions)
    : universalStatusCard(expense, cardOptions);
}
