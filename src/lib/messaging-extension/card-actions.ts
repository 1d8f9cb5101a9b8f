import type { ActivityEnvelope, AdaptiveCardActionInvokeActivity } from './activity';
import { featureConfig, type UniversalActionsConfig } from '../config/settings';
import { AppError, BadRequestError, ForbiddenError, NotFoundError } from '../core/errors';
import { withStorage } from '../clients/storage';
import { parseCardAction, recordDecision } from '../expenses/approval';
import type { AdaptiveCard } from '../core/adaptive-card';
import { REFRESH_VERB, type UniversalActionVerb, type UniversalHost } from '../expenses/cards';
import { isExpenseId } from '../expenses/store';
import { cardForViewer } from '../expenses/viewer-card';
import { expenseForViewer, expenseViewer } from '../expenses/visibility';
import type { Logger } from '../core/log';

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
  log: Logger;
}

const cardAnswer = (value: AdaptiveCard): AdaptiveCardInvokeResponse => ({
  statusCode: 200,
  type: 'application/vnd.microsoft.card.adaptive',
  value,
});

/** The channel decides the card's version and whether it carries the provider's originator. */
const hostOf = (activity: ActivityEnvelope): UniversalHost => (activity.channelId === 'outlook' ? 'outlook' : 'teams');

/** A line under a card: what happened to this click (it names neither a person nor a time). */
function withNotice(card: AdaptiveCard, text: string): AdaptiveCard {
  const body: unknown[] = Array.isArray(card.body) ? card.body : [];
  return { ...card, body: [...body, { type: 'TextBlock', text, wrap: true, isSubtle: true }] };
}

async function decide(context: VerbContext, decision: 'approve' | 'reject'): Promise<AdaptiveCardInvokeResponse> {
  const { activity, config } = context;
  const data = activity.value.action.data;
  const action = parseCardAction({ expenseId: data.expenseId, decision, comment: data.comment, actionToken: data.actionToken });
  // The acting user: `from.aadObjectId`, which the channel vouches for, as an enabled directory user.
  const acting = await withStorage('directory read', () => expenseViewer(activity.from.aadObjectId));
  const performer = acting?.addresses[0];
  if (!acting || !performer) throw new ForbiddenError('this action is not valid for you', 'not_approver');
  const result = await recordDecision(config, { performer, objectId: acting.objectId, tokenType: 'bot' }, action, context);
  const card = await cardForViewer(result.expense, acting.objectId, { ...config, host: context.host });
  return cardAnswer(result.outcome === 'decided' ? card : withNotice(card, result.statusText));
}

const verbHandlers: { [V in UniversalActionVerb]: (context: VerbContext) => Promise<AdaptiveCardInvokeResponse> } = {
  approve: (context) => decide(context, 'approve'),
  reject: (context) => decide(context, 'reject'),
  async [REFRESH_VERB](context) {
    const { expenseId } = context.activity.value.action.data;
    if (!isExpenseId(expenseId)) throw new BadRequestError('invalid fields: expenseId', ['expenseId']);
    // Someone who may not see the expense is answered as for an unknown one.
    const viewerObjectId = context.activity.from.aadObjectId;
    const expense = await withStorage('expense read', () => expenseForViewer(expenseId, viewerObjectId, context.log, 'universalRefresh'));
    if (!expense) throw new NotFoundError('this expense no longer exists');
    return cardAnswer(await cardForViewer(expense, viewerObjectId, { ...context.config, host: context.host }));
  },
};

const isVerb = (verb: string): verb is UniversalActionVerb => Object.hasOwn(verbHandlers, verb);

/** The answered failures; anything else (storage down, not configured) is the endpoint's 5xx. */
const ANSWERED = new Set([400, 403, 404]);

export async function handleCardAction(
  activity: AdaptiveCardActionInvokeActivity,
  { now, log }: { now: Date; log: Logger },
): Promise<AdaptiveCardInvokeResponse> {
  const config = featureConfig('universalActions');
  try {
    const { type, verb } = activity.value.action;
    if (type !== 'Action.Execute') throw new BadRequestError(`the action '${type}' is not supported`, ['value.action.type']);
    if (!isVerb(verb)) throw new BadRequestError('unknown verb', ['value.action.verb']);
    return await verbHandlers[verb]({ activity, config, host: hostOf(activity), now, log });
  } catch (err) {
    if (!(err instanceof AppError) || !ANSWERED.has(err.status)) throw err;
    const statusCode = err.status as 400 | 403 | 404;
    return { statusCode, type: 'application/vnd.microsoft.error', value: { code: err.code, message: err.message } };
  }
}
