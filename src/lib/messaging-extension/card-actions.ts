import type { ActivityEnvelope, AdaptiveCardActionInvokeActivity } from './activity';
import { featureConfig, type UniversalActionsConfig } from '../config/settings';
import { AppError, BadRequestError, ForbiddenError, NotFoundError } from '../core/errors';
import { withStorage } from '../clients/storage';
import { getDirectoryUser } from '../directory/directory';
import { parseCardAction, recordDecision } from '../expenses/approval';
import { type AdaptiveCard, REFRESH_VERB, type UniversalActionVerb, type UniversalHost } from '../expenses/cards';
import { getExpense, isExpenseId } from '../expenses/store';
import { cardForViewer, type Viewer } from '../expenses/viewer-card';

/**
 * Universal Actions: the `adaptiveCard/action` invoke that an `Action.Execute` button or a card's
 * `refresh` sends to the bot, from Teams (`msteams`) and from Outlook (`outlook`). One handler per verb;
 * the table's type names every verb, so a verb without a handler does not compile. The answer is the
 * Universal Actions response (botbuilder's `AdaptiveCardInvokeResponse`): a card, or an error that never
 * names a person.
 */

export type AdaptiveCardInvokeResponse =
  | { statusCode: 200; type: 'application/vnd.microsoft.card.adaptive'; value: AdaptiveCard }
  | { statusCode: 400 | 403 | 404; type: 'application/vnd.microsoft.error'; value: { code: string; message: string } };

interface VerbContext {
  activity: AdaptiveCardActionInvokeActivity;
  config: UniversalActionsConfig;
  host: UniversalHost;
  now: Date;
}

const cardAnswer = (value: AdaptiveCard): AdaptiveCardInvokeResponse => ({
  statusCode: 200,
  type: 'application/vnd.microsoft.card.adaptive',
  value,
});

/** The channel decides the card's version and whether it carries the provider's originator. */
const hostOf = (activity: ActivityEnvelope): UniversalHost => (activity.channelId === 'outlook' ? 'outlook' : 'teams');

/** The acting user: `from.aadObjectId`, which the channel vouches for, as an enabled directory user. */
async function viewerOf(activity: ActivityEnvelope): Promise<{ viewer: Viewer; address: string } | undefined> {
  const objectId = activity.from.aadObjectId;
  if (!objectId) return undefined;
  const user = await withStorage('directory read', () => getDirectoryUser(objectId));
  if (!user?.accountEnabled) return undefined;
  const address = user.mail ?? user.userPrincipalName;
  return address ? { viewer: { objectId: user.id }, address } : undefined;
}

/** A line under a card: what happened to this click (it names neither a person nor a time). */
function withNotice(card: AdaptiveCard, text: string): AdaptiveCard {
  const body: unknown[] = Array.isArray(card.body) ? card.body : [];
  return { ...card, body: [...body, { type: 'TextBlock', text, wrap: true, isSubtle: true }] };
}

async function decide(context: VerbContext, decision: 'approve' | 'reject'): Promise<AdaptiveCardInvokeResponse> {
  const { activity, config } = context;
  const data = activity.value.action.data;
  const action = parseCardAction({ expenseId: data.expenseId, decision, comment: data.comment, actionToken: data.actionToken });
  const acting = await viewerOf(activity);
  if (!acting) throw new ForbiddenError('this action is not valid for you', 'not_approver');
  const result = await recordDecision(
    config,
    { performer: acting.address, objectId: acting.viewer.objectId, tokenType: 'bot' },
    action,
    context.now,
  );
  const card = await cardForViewer(result.expense, acting.viewer, { ...config, host: context.host });
  return cardAnswer(result.outcome === 'decided' ? card : withNotice(card, result.statusText));
}

const verbHandlers: { [V in UniversalActionVerb]: (context: VerbContext) => Promise<AdaptiveCardInvokeResponse> } = {
  approve: (context) => decide(context, 'approve'),
  reject: (context) => decide(context, 'reject'),
  async [REFRESH_VERB](context) {
    const { expenseId } = context.activity.value.action.data;
    if (!isExpenseId(expenseId)) throw new BadRequestError('invalid fields: expenseId', ['expenseId']);
    const expense = await getExpense(expenseId);
    if (!expense) throw new NotFoundError('this expense no longer exists');
    const acting = await viewerOf(context.activity);
    return cardAnswer(await cardForViewer(expense, acting?.viewer, { ...context.config, host: context.host }));
  },
};

const isVerb = (verb: string): verb is UniversalActionVerb => Object.hasOwn(verbHandlers, verb);

/** The answered failures; anything else (storage down, not configured) is the endpoint's 5xx. */
const ANSWERED = new Set([400, 403, 404]);

export async function handleCardAction(activity: AdaptiveCardActionInvokeActivity, now: Date): Promise<AdaptiveCardInvokeResponse> {
  const config = featureConfig('universalActions');
  try {
    const { type, verb } = activity.value.action;
    if (type !== 'Action.Execute') throw new BadRequestError(`the action '${type}' is not supported`, ['value.action.type']);
    if (!isVerb(verb)) throw new BadRequestError('unknown verb', ['value.action.verb']);
    return await verbHandlers[verb]({ activity, config, host: hostOf(activity), now });
  } catch (err) {
    if (!(err instanceof AppError) || !ANSWERED.has(err.status)) throw err;
    const statusCode = err.status as 400 | 403 | 404;
    return { statusCode, type: 'application/vnd.microsoft.error', value: { code: err.code, message: err.message } };
  }
}
