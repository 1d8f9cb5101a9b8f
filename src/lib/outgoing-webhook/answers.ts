
import { isDirectoryEmpty, searchDirectory } from '../directory/directory';
import { withinDeadline } from '../core/deadline';
import { ensureError } from '../core/errors';
import { expenseStatusCard } from '../expenses/cards';
import { isExpenseId } from '../expenses/store';
import { expenseForViewer } from '../expenses/visibility';
import { logEvent, type Logger } from '../core/log';
import type { Command } from './activity';
import { peopleListCard } from '../directory/people-card';

/**
 * The answers of the Teams outgoing webhook: Bot Framework `message` activities, sent back as the HTTP
 * response, which Teams posts in the channel as a reply to the message that mentioned the webhook.
 * Text replies are `plain` (Teams shows them as typed, so echoed words cannot format anything); rich
 * replies are one Adaptive Card whose only actions open URLs, the one kind outgoing webhooks allow.
 */

export interface TextReply {
  type: 'message';
  textFormat: 'plain';
  text: string;
}

export interface CardReply {
  type: 'message';
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive'; content: object }];
}

export type ReplyActivity = TextReply | CardReply;

const textReply = (text: string): TextReply => ({ type: 'message', textFormat: 'plain', text });

const cardReply = (card: object): CardReply => ({
  type: 'message',
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', content: card }],
});

/** Teams waits five seconds; a lookup that takes longer than this is abandoned for an apology. */
const LOOKUP_BUDGET_MS = 3500;
const MAX_PEOPLE = 5;
/** Longer text is not a name, a title or a department, and would only make an expensive query. */
const MAX_QUERY_CHARS = 100;

const HELP_TEXT = [
  'Mention me with one of these:',
  '• help: this list',
  '• expense <id>: the status of an expense, e.g. "expense 7f3c9a"',
  '• anything else: find people by name, mail address, job title or department, e.g. "Adele" or "marketing"',
].join('\n');

const EXPENSE_USAGE_TEXT = 'Which expense? Send "expense" followed by its id, e.g. "expense 7f3c9a".';
const QUERY_TOO_LONG_TEXT = `That is too long to search for: send a name, mail address, job title or department of up to ${MAX_QUERY_CHARS} characters.`;
const DIRECTORY_EMPTY_TEXT =
  'The people directory is still empty: it fills on its first sync with Microsoft 365. Please try again in a few minutes.';
const DIRECTORY_UNAVAILABLE_TEXT = "Sorry, I can't reach the people directory right now. Please try again in a minute.";
const EXPENSES_UNAVAILABLE_TEXT = "Sorry, I can't reach the expense records right now. Please try again in a minute.";

/** Echoed words are the person's own, in quotes; a runaway one is cut short. */
function quoted(text: string): string {
  const chars = [...text];
  return `“${chars.length > MAX_QUERY_CHARS ? `${chars.slice(0, MAX_QUERY_CHARS).join('')}…` : text}”`;
}
const noOneMatchesText = (query: string): string =>
  `No one matches ${quoted(query)}. Try a first or last name, a mail address, a job title or a department.`;
const unknownExpenseText = (id: string): string => `I can't find an expense with the id ${quoted(id)}.`;

/** What was answered, for the log line (never the query itself). */
export type Outcome =
  | 'help'
  | 'expenseUsage'
  | 'expenseFound'
  | 'expenseUnknown'
  | 'expenseUnavailable'
  | 'peopleFound'
  | 'peopleNone'
  | 'directoryEmpty'
  | 'directoryUnavailable'
  | 'queryTooLong';

export interface Answer {
  reply: ReplyActivity;
  outcome: Outcome;
}

async function answerExpense(id: string, senderObjectId: string | undefined, context: Logger, budgetMs: number): Promise<Answer> {
  // An id no expense can have names no stored expense: the store is not asked.
  if (!isExpenseId(id)) return { reply: textReply(unknownExpenseText(id)), outcome: 'expenseUnknown' };
  try {
    return await withinDeadline((async (): Promise<Answer> => {
      // An expense the sender may not see is answered as an unknown one.
      const expense = await expenseForViewer(id, senderObjectId, context, 'outgoingWebhook');
      return expense
        ? { reply: cardReply(await expenseStatusCard(expense)), outcome: 'expenseFound' }
        : { reply: textReply(unknownExpenseText(id)), outcome: 'expenseUnknown' };
    })(), budgetMs);
  } catch (err) {
    logEvent(context, 'error', 'outgoingWebhook.lookupFailed', { store: 'expenses', error: ensureError(err).message });
    return { reply: textReply(EXPENSES_UNAVAILABLE_TEXT), outcome: 'expenseUnavailable' };
  }
}

async function answerPeople(query: string, context: Logger, budgetMs: number): Promise<Answer> {
  if (query.length > MAX_QUERY_CHARS) return { reply: textReply(QUERY_TOO_LONG_TEXT), outcome: 'queryTooLong' };
  try {
    return await withinDeadline((async (): Promise<Answer> => {
      const { people, hasMore } = await searchDirectory(query, { skip: 0, count: MAX_PEOPLE });
      if (people.length > 0) {
        const card = peopleListCard(people, {
          heading: `People matching ${quoted(query)}`,
          ...(hasMore ? { footnote: 'More people match: add a word to narrow the search.' } : {}),
        });
        return { reply: cardReply(card), outcome: 'peopleFound' };
      }
      // Only an unanswered search pays for the second read.
      return (await isDirectoryEmpty())
        ? { reply: textReply(DIRECTORY_EMPTY_TEXT), outcome: 'directoryEmpty' }
        : { reply: textReply(noOneMatchesText(query)), outcome: 'peopleNone' };
    })(), budgetMs);
  } catch (err) {
    logEvent(context, 'error', 'outgoingWebhook.lookupFailed', { store: 'directory', error: ensureError(err).message });
    return { reply: textReply(DIRECTORY_UNAVAILABLE_TEXT), outcome: 'directoryUnavailable' };
  }
}

/**
 * The reply to a command. Never throws: when the directory or the expense store fails or is too slow,
 * the reply apologises (Teams shows it in the channel) and the failure is logged.
 */
export function answerCommand(
  command: Command,
  senderObjectId: string | undefined,
  context: Logger,
  budgetMs: number = LOOKUP_BUDGET_MS,
): Promise<Answer> {
  switch (command.name) {
    case 'help':
      return Promise.resolve({ reply: textReply(HELP_TEXT), outcome: 'help' });
    case 'expenseUsage':
      return Promise.resolve({ reply: textReply(EXPENSE_USAGE_TEXT), outcome: 'expenseUsage' });
    case 'expense':
      return answerExpense(command.id, senderObjectId, context, budgetMs);
    case 'people':
      return answerPeople(command.query, context, budgetMs);
  }
}
