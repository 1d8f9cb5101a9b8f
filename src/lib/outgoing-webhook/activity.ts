import { BadRequestError } from '../core/errors';
import { isRecord, parseJsonBytes } from '../core/http';

/**
 * What Teams posts to an outgoing webhook: a Bot Framework activity. Teams only ever sends `message`
 * activities there (a channel post that @mentions the webhook); anything else is kept apart so that
 * the handler can acknowledge it without answering.
 */
export interface MessageActivity {
  type: 'message';
  /** Teams' message id, for log correlation. */
  id?: string;
  /** The message as Teams renders it to text: mentions as `<at>Name</at>`, sometimes with HTML around. */
  text: string;
  /** The sender's Entra object id (`from.aadObjectId`), vouched for by the HMAC over the body. */
  senderObjectId?: string;
}

export interface UnsupportedActivity {
  type: 'unsupported';
  activityType: string;
}

export type OutgoingWebhookActivity = MessageActivity | UnsupportedActivity;

/** Parses the activity from the verified body bytes (never from a re-read or re-serialised body). */
export function parseWebhookActivity(body: Buffer): OutgoingWebhookActivity {
  const json = parseJsonBytes(body);
  if (!isRecord(json) || typeof json.type !== 'string') throw new BadRequestError('not an activity', ['type']);
  if (json.type !== 'message') return { type: 'unsupported', activityType: json.type };
  const { text, id, from } = json;
  if (text !== undefined && text !== null && typeof text !== 'string') {
    throw new BadRequestError('text must be a string', ['text']);
  }
  const senderObjectId = isRecord(from) && typeof from.aadObjectId === 'string' && from.aadObjectId ? from.aadObjectId : undefined;
  return {
    type: 'message',
    text: text ?? '',
    ...(typeof id === 'string' ? { id } : {}),
    ...(senderObjectId ? { senderObjectId } : {}),
  };
}

// ---------------------------------------------------------------------------------------------------
// Commands

export type Command =
  | { name: 'help' }
  | { name: 'expense'; id: string }
  /** `expense` without a usable id. */
  | { name: 'expenseUsage' }
  | { name: 'people'; query: string };

const NAMED_ENTITIES: Readonly<Record<string, string>> = {
  nbsp: ' ',
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

/** One pass, so that `&amp;lt;` becomes the text `&lt;` and not `<`. */
function decodeEntities(text: string): string {
  return text.replace(/&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|([a-z]+));/gi, (entity, dec?: string, hex?: string, name?: string) => {
    if (name !== undefined) return NAMED_ENTITIES[name.toLowerCase()] ?? entity;
    const code = dec !== undefined ? Number(dec) : Number.parseInt(hex ?? '', 16);
    return code > 0 && code <= 0x10ffff && (code < 0xd800 || code > 0xdfff) ? String.fromCodePoint(code) : entity;
  });
}

/**
 * The text a person typed after the mention: every `<at>…</at>` removed (the webhook's own name and
 * anyone else mentioned), the HTML Teams may wrap around a message (`<div>`, `<p>`, `<span>`, `<br>`)
 * dropped, entities such as `&nbsp;` decoded, and whitespace (zero-width spaces included) collapsed.
 */
export function commandText(text: string): string {
  const withoutMentions = text.replace(/<at\b[^>]*>[\s\S]*?<\/at\s*>/gi, ' ');
  const withoutTags = withoutMentions.replace(/<\/?[a-z][^<>]*>/gi, ' ');
  return decodeEntities(withoutTags)
    .replace(/[\s\u200b-\u200d\u2060]+/g, ' ')
    .trim();
}

/** `help` or nothing, `expense <id>`, or anything else as a people search; the keywords ignore case. */
export function parseCommand(text: string): Command {
  const command = commandText(text);
  if (command === '' || command.toLowerCase() === 'help') return { name: 'help' };
  const expense = /^expense(?: (.*))?$/i.exec(command);
  if (expense) {
    const id = expense[1]?.trim() ?? '';
    return id === '' || id.includes(' ') ? { name: 'expenseUsage' } : { name: 'expense', id };
  }
  return { name: 'people', query: command };
}
