import type {
  ActivityEnvelope,
  ComposeExtensionInvokeActivity,
  ComposeExtensionInvokeName,
  MessagingExtensionQuery,
} from './activity';
import { getUserSettings, parseSettingsState, saveUserSettings, type UserSettings } from './store';
import { expenseReaders, featureConfig, type ComposeExtensionConfig } from '../config/settings';
import { type DirectoryUser, getDirectoryUser, recentlyChangedUsers, searchDirectory } from '../directory/directory';
import { expenseStatusCard, formatAmount, STATUS_TEXT } from '../expenses/cards';
import { type Expense, listExpensesForUser } from '../expenses/store';
import { expenseForViewer, expenseViewer, mayView } from '../expenses/visibility';
import type { Logger } from '../core/log';
import { personCard } from '../directory/people-card';
import { isSignedIn, redeemSigninCode, signinStartUrl } from './signin';
import { foldText, matchesAllPrefixes, searchWords } from '../directory/words';

/**
 * The messaging extension's invokes (Teams "search commands", link unfurling, settings, sign-in), one
 * handler per invoke name. The handler table's type maps every name of ComposeExtensionInvokeActivity to
 * a handler of exactly that activity, so adding an invoke to the union without a handler does not compile.
 */

// ---------------------------------------------------------------------------------------------------
// Response shapes (botframework-schema `MessagingExtensionResponse`, the parts this app sends)

export interface ThumbnailPreview {
  contentType: 'application/vnd.microsoft.card.thumbnail';
  content: { title: string; subtitle?: string; text?: string; tap?: { type: 'invoke'; value: SelectItemValue } };
}

export interface MessagingExtensionAttachment {
  contentType: 'application/vnd.microsoft.card.adaptive';
  content: object;
  preview?: ThumbnailPreview;
}

export interface CardAction {
  type: 'openUrl';
  value: string;
  title?: string;
}

export type MessagingExtensionResult =
  | { type: 'result'; attachmentLayout: 'list'; attachments: MessagingExtensionAttachment[] }
  | { type: 'message'; text: string }
  | { type: 'auth' | 'config'; suggestedActions: { actions: CardAction[] } };

export interface MessagingExtensionResponse {
  composeExtension: MessagingExtensionResult;
}

/** An invoke's answer: always 200 (Teams' contract); `composeExtension/setting` has no body. */
export interface InvokeResponse {
  status: 200;
  body?: MessagingExtensionResponse;
}

/** What a result's preview `tap` carries back as the `composeExtension/selectItem` value. */
export type SelectItemValue = { kind: 'person'; id: string } | { kind: 'expense'; id: string };

export interface InvokeContext {
  config: ComposeExtensionConfig;
  now: Date;
  log: Logger;
}

type InvokeHandlers = {
  [N in ComposeExtensionInvokeName]: (
    activity: Extract<ComposeExtensionInvokeActivity, { name: N }>,
    context: InvokeContext,
  ) => Promise<InvokeResponse>;
};

const COMMANDS = { searchPeople: 'searchPeople', searchExpenses: 'searchExpenses' } as const;

const respond = (composeExtension: MessagingExtensionResult): InvokeResponse => ({ status: 200, body: { composeExtension } });
const results = (attachments: MessagingExtensionAttachment[]): InvokeResponse =>
  respond({ type: 'result', attachmentLayout: 'list', attachments });
const message = (text: string): InvokeResponse => respond({ type: 'message', text });

// ---------------------------------------------------------------------------------------------------
// Attachments

function personAttachment(user: DirectoryUser, withPreview: boolean): MessagingExtensionAttachment {
  const attachment: MessagingExtensionAttachment = { contentType: 'application/vnd.microsoft.card.adaptive', content: personCard(user) };
  if (withPreview) {
    const role = [user.jobTitle, user.department].filter((v) => v?.trim()).join(' · ');
    attachment.preview = {
      contentType: 'application/vnd.microsoft.card.thumbnail',
      content: {
        title: user.displayName,
        ...(role ? { subtitle: role } : {}),
        ...(user.mail ?? user.userPrincipalName ? { text: user.mail ?? user.userPrincipalName } : {}),
        tap: { type: 'invoke', value: { kind: 'person', id: user.id } },
      },
    };
  }
  return attachment;
}

async function expenseAttachment(expense: Expense, withPreview: boolean): Promise<MessagingExtensionAttachment> {
  const attachment: MessagingExtensionAttachment = {
    contentType: 'application/vnd.microsoft.card.adaptive',
    content: await expenseStatusCard(expense),
  };
  if (withPreview) {
    attachment.preview = {
      contentType: 'application/vnd.microsoft.card.thumbnail',
      content: {
        title: expense.description,
        subtitle: `${formatAmount(expense.amount, expense.currency)} · ${STATUS_TEXT[expense.status].toLowerCase()}`,
        text: `${expense.submitter} → ${expense.approver}`,
        tap: { type: 'invoke', value: { kind: 'expense', id: expense.id } },
      },
    };
  }
  return attachment;
}

// ---------------------------------------------------------------------------------------------------
// Search commands

const parameter = (query: MessagingExtensionQuery, name: string): string | undefined =>
  query.parameters.find((p) => p.name === name)?.value;

/** How many of the newest people (or the user's expenses) a filtered first-run or text filter reads. */
const FILTER_WINDOW = 1000;

async function searchPeople(query: MessagingExtensionQuery, settings: UserSettings): Promise<InvokeResponse> {
  const page = query.queryOptions;
  const text = parameter(query, 'query')?.trim() ?? '';
  const initialRun = parameter(query, 'initialRun') === 'true' || text === '';
  let people: DirectoryUser[];
  if (!initialRun) {
    people = (await searchDirectory(text, page, settings.department ? { department: settings.department } : {})).people;
  } else if (settings.department) {
    // The directory's recent list has no department filter: filter the newest people, then page.
    const wanted = foldText(settings.department);
    const recent = (await recentlyChangedUsers({ skip: 0, count: FILTER_WINDOW })).people;
    people = recent.filter((u) => foldText(u.department?.trim() ?? '') === wanted).slice(page.skip, page.skip + page.count);
  } else {
    people = (await recentlyChangedUsers(page)).people;
  }
  return results(people.map((user) => personAttachment(user, true)));
}

function expenseWords(expense: Expense): string[] {
  return searchWords([expense.id, expense.description, expense.submitter, expense.approver, expense.status, expense.currency].join(' '));
}

async function searchExpenses(activity: ActivityEnvelope, query: MessagingExtensionQuery): Promise<InvokeResponse> {
  const viewer = await expenseViewer(activity.from.aadObjectId);
  if (!viewer) return message('You are not in the directory yet, so no expenses can be shown.');
  const page = query.queryOptions;
  const words = searchWords(parameter(query, 'query'));
  // The list holds the viewer's own expenses; the one visibility rule is applied to them all the same.
  const readers = expenseReaders();
  const visible = (list: Expense[]): Expense[] => list.filter((e) => mayView(viewer, e, readers));
  let expenses: Expense[];
  if (words.length === 0) {
    expenses = visible((await listExpensesForUser(viewer.addresses, page)).expenses);
  } else {
    const mine = visible((await listExpensesForUser(viewer.addresses, { skip: 0, count: FILTER_WINDOW })).expenses);
    expenses = mine.filter((e) => matchesAllPrefixes(words, expenseWords(e))).slice(page.skip, page.skip + page.count);
  }
  return results(await Promise.all(expenses.map((e) => expenseAttachment(e, true))));
}

// ---------------------------------------------------------------------------------------------------
// Sign-in gate

/**
 * With sign-in on, a user proves a completed sign-in before anything is searched: a stored sign-in, or
 * the code of the pop-up in the re-sent query's `state`. Otherwise the answer is `type: auth`.
 */
async function signinRequired(activity: ActivityEnvelope, state: string | undefined, context: InvokeContext): Promise<InvokeResponse | undefined> {
  if (context.config.signin === 'off') return undefined;
  if (await isSignedIn(activity.from.id)) return undefined;
  if (state && (await redeemSigninCode(activity.from.id, state, context.now))) return undefined;
  const url = signinStartUrl(
    featureConfig('signin'),
    { teamsUserId: activity.from.id, ...(activity.from.aadObjectId ? { aadObjectId: activity.from.aadObjectId } : {}) },
    context.now,
  );
  return respond({ type: 'auth', suggestedActions: { actions: [{ type: 'openUrl', value: url, title: 'Sign in' }] } });
}

// ---------------------------------------------------------------------------------------------------
// Handlers

function expenseIdFromLink(link: string, publicBaseUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(link);
  } catch {
    return undefined;
  }
  if (url.origin !== publicBaseUrl) return undefined;
  const match = /^\/api\/expenses\/([^/]+)\/?$/.exec(url.pathname);
  if (!match?.[1]) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

function isSelectItemValue(value: Record<string, unknown>): value is SelectItemValue {
  return (value.kind === 'person' || value.kind === 'expense') && typeof value.id === 'string' && value.id.length > 0;
}

const invokeHandlers: InvokeHandlers = {
  async 'composeExtension/query'(activity, context) {
    const gate = await signinRequired(activity, activity.value.state, context);
    if (gate) return gate;
    switch (activity.value.commandId) {
      case COMMANDS.searchPeople:
        return searchPeople(activity.value, await getUserSettings(activity.from.id));
      case COMMANDS.searchExpenses:
        return searchExpenses(activity, activity.value);
      default:
        return message(`Unknown command "${activity.value.commandId}".`);
    }
  },

  async 'composeExtension/selectItem'(activity, context) {
    if (context.config.signin === 'entra' && !(await isSignedIn(activity.from.id))) return message('Please sign in first.');
    const value = activity.value;
    if (!isSelectItemValue(value)) return message('This item cannot be shown.');
    if (value.kind === 'person') {
      const user = await getDirectoryUser(value.id);
      return user?.accountEnabled ? results([personAttachment(user, false)]) : message('This person is no longer in the directory.');
    }
    const expense = await expenseForViewer(value.id, activity.from.aadObjectId, context.log, 'selectItem');
    return expense ? results([await expenseAttachment(expense, false)]) : message('This expense no longer exists.');
  },

  async 'composeExtension/queryLink'(activity, context) {
    const id = expenseIdFromLink(activity.value.url, context.config.publicBaseUrl);
    if (id === undefined) return results([]);
    const gate = await signinRequired(activity, activity.value.state, context);
    if (gate) return gate;
    const expense = await expenseForViewer(id, activity.from.aadObjectId, context.log, 'queryLink');
    return results(expense ? [await expenseAttachment(expense, true)] : []);
  },

  async 'composeExtension/querySettingUrl'(activity, context) {
    const settings = await getUserSettings(activity.from.id);
    const url = new URL(`${context.config.publicBaseUrl}/api/settings`);
    if (settings.department) url.searchParams.set('department', settings.department);
    return respond({ type: 'config', suggestedActions: { actions: [{ type: 'openUrl', value: url.href, title: 'Settings' }] } });
  },

  async 'composeExtension/setting'(activity) {
    // No state: the user closed the page without saving; nothing changes.
    if (activity.value.state !== undefined && activity.value.state !== '') {
      await saveUserSettings(activity.from.id, parseSettingsState(activity.value.state));
    }
    return { status: 200 };
  },
};

/** Dispatches a parsed invoke to its handler (the cast is safe: the table is keyed by the same name). */
export function handleInvoke(activity: ComposeExtensionInvokeActivity, context: InvokeContext): Promise<InvokeResponse> {
  const handler = invokeHandlers[activity.name] as (a: ComposeExtensionInvokeActivity, c: InvokeContext) => Promise<InvokeResponse>;
  return handler(activity, context);
}
