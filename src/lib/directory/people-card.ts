import { isMailAddress } from '../core/validate';
import type { AdaptiveCard } from '../core/adaptive-card';

/**
 * Adaptive Cards showing people from the directory, at schema 1.2: the lowest that has RichTextBlock
 * and ActionSet (each person's own buttons in a list), and below what every Teams surface renders. Every
 * string that comes from the directory goes into a `TextRun`, which Adaptive Cards never read as
 * Markdown, so a name such as `[click](https://…)` shows as typed. The only actions are
 * `Action.OpenUrl` (a Teams chat deep link and a mailto), the one kind outgoing webhooks may use.
 */

export interface PersonCardUser {
  displayName: string;
  mail?: string;
  userPrincipalName?: string;
  jobTitle?: string;
  department?: string;
  officeLocation?: string;
  businessPhones?: readonly string[];
}

export interface TextRun {
  type: 'TextRun';
  text: string;
  weight?: 'Bolder';
  size?: 'Medium';
  isSubtle?: boolean;
}

export interface RichTextBlock {
  type: 'RichTextBlock';
  inlines: TextRun[];
  spacing?: 'None' | 'Small';
}

export interface OpenUrlAction {
  type: 'Action.OpenUrl';
  title: string;
  url: string;
}

export interface ActionSet {
  type: 'ActionSet';
  actions: OpenUrlAction[];
}

export interface Container {
  type: 'Container';
  items: CardElement[];
  separator?: boolean;
  spacing?: 'Medium';
}

export type CardElement = RichTextBlock | ActionSet | Container;

export interface PeopleCard extends AdaptiveCard {
  $schema: 'http://adaptivecards.io/schemas/adaptive-card.json';
  version: '1.2';
  body: CardElement[];
  actions?: OpenUrlAction[];
}

function card(body: CardElement[], actions: OpenUrlAction[] = []): PeopleCard {
  return {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.2',
    body,
    ...(actions.length > 0 ? { actions } : {}),
  };
}

const line = (runs: TextRun[], spacing?: RichTextBlock['spacing']): RichTextBlock => ({
  type: 'RichTextBlock',
  inlines: runs,
  ...(spacing ? { spacing } : {}),
});

const present = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';

/** `https://teams.microsoft.com/l/chat/0/0?users=<upn>`: opens (or starts) a 1:1 chat with the person. */
function teamsChatUrl(user: PersonCardUser): string | undefined {
  const id = present(user.userPrincipalName) ? user.userPrincipalName : user.mail;
  if (!present(id)) return undefined;
  // '@' stays readable, as in Microsoft's examples; everything else that could end the value is escaped.
  return `https://teams.microsoft.com/l/chat/0/0?users=${encodeURIComponent(id.trim()).replace(/%40/g, '@')}`;
}

function mailtoUrl(user: PersonCardUser): string | undefined {
  const mail = user.mail?.trim();
  if (!mail || !isMailAddress(mail)) return undefined;
  const at = mail.lastIndexOf('@');
  // Percent-encode each part (RFC 6068) so that '?', '&' or '%' in an address cannot add headers.
  return `mailto:${encodeURIComponent(mail.slice(0, at))}@${encodeURIComponent(mail.slice(at + 1))}`;
}

function personActions(user: PersonCardUser): OpenUrlAction[] {
  const actions: OpenUrlAction[] = [];
  const chat = teamsChatUrl(user);
  if (chat) actions.push({ type: 'Action.OpenUrl', title: 'Chat in Teams', url: chat });
  const mailto = mailtoUrl(user);
  if (mailto) actions.push({ type: 'Action.OpenUrl', title: 'Send mail', url: mailto });
  return actions;
}

/** Name, then job title and department, then mail, office and phone: as many lines as there are facts. */
function personLines(user: PersonCardUser): RichTextBlock[] {
  const lines = [line([{ type: 'TextRun', text: user.displayName, weight: 'Bolder', size: 'Medium' }])];
  const role = [user.jobTitle, user.department].filter(present).join(' · ');
  if (role) lines.push(line([{ type: 'TextRun', text: role, isSubtle: true }], 'None'));
  const phone = user.businessPhones?.find(present);
  const contact = [user.mail, user.officeLocation, phone].filter(present).join(' · ');
  if (contact) lines.push(line([{ type: 'TextRun', text: contact }], 'Small'));
  return lines;
}

/** One person, with chat and mail buttons. */
export function personCard(user: PersonCardUser): PeopleCard {
  return card(personLines(user), personActions(user));
}

export interface PeopleListOptions {
  /** A first line above the people, e.g. what was searched for (shown as typed). */
  heading?: string;
  /** A last line below them, e.g. that more people match. */
  footnote?: string;
}

/** Several people in one card, each with its own chat and mail buttons. */
export function peopleListCard(users: readonly PersonCardUser[], options: PeopleListOptions = {}): PeopleCard {
  const body: CardElement[] = [];
  if (options.heading) body.push(line([{ type: 'TextRun', text: options.heading, weight: 'Bolder' }]));
  for (const user of users) {
    const actions = personActions(user);
    body.push({
      type: 'Container',
      separator: true,
      spacing: 'Medium',
      items: [...personLines(user), ...(actions.length > 0 ? [{ type: 'ActionSet' as const, actions }] : [])],
    });
  }
  if (options.footnote) body.push(line([{ type: 'TextRun', text: options.footnote, isSubtle: true }]));
  return card(body);
}
