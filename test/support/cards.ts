import assert from 'node:assert/strict';

import type * as AdaptiveCardsSdk from 'adaptivecards';

/**
 * The one card checker: every Adaptive Card the app emits is parsed by Microsoft's `adaptivecards` SDK at
 * the version the card claims, and held to the rules of the host that shows it. Nothing here renders a
 * card; the versions every element, property and value was introduced in come from the SDK's own type
 * registry and property definitions.
 */

// The package's lib/ is ES modules without file extensions, which Node cannot load; dist/ is the same
// SDK bundled as UMD, with the same types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sdk = require('adaptivecards/dist/adaptivecards.js') as typeof AdaptiveCardsSdk;

type Json = Record<string, unknown>;

export type HostName =
  | 'outlookActionableMessage'
  | 'outlookUniversalActions'
  | 'teamsOutgoingWebhook'
  | 'teamsLinkUnfurl'
  | 'teamsMessagingExtension'
  | 'teamsUniversalActions';

export interface HostRule {
  /** Where the card is shown. */
  host: string;
  /** The highest card version the host renders. */
  maxVersion: string;
  /** The host renders the card's actions only at exactly `maxVersion`. */
  exactVersion?: true;
  /** A card with `Action.Execute` or `refresh` must claim at least this version for the host to run them. */
  universalActionsVersion?: string;
  /** Every card of this host claims at least this version (the answers of a Universal Actions exchange keep its version). */
  minVersion?: string;
  /** Action types the host shows, anywhere in the card (actions, ActionSets, selectAction). */
  actions: readonly string[];
  /** Root properties the host defines beyond the Adaptive Card schema (unknown to the SDK). */
  cardExtensions: readonly string[];
  /** Root properties the host requires. */
  requiredCardProperties: readonly string[];
  source: string;
}

/** Host → highest version and allowed actions, from Microsoft's documentation of each host. */
export const HOST_RULES: Record<HostName, HostRule> = {
  outlookActionableMessage: {
    host: 'Outlook actionable message with Action.Http buttons, and the refresh card returned after a click',
    maxVersion: '1.0',
    exactVersion: true,
    actions: ['Action.Http', 'Action.OpenUrl', 'Action.ShowCard'],
    cardExtensions: ['originator', 'hideOriginalBody', 'autoInvokeAction', 'correlationId', 'expectedActors'],
    requiredCardProperties: ['originator'],
    source:
      'https://learn.microsoft.com/outlook/actionable-messages/actionable-messages-faq ("I upgraded the Adaptive Card version from 1.0 to 1.4, and my action buttons disappeared"); ' +
      'https://learn.microsoft.com/outlook/actionable-messages/adaptive-card (Action.Http, Action.Submit not supported, originator required, refresh cards)',
  },
  outlookUniversalActions: {
    host: 'Outlook actionable message with Universal Actions (Action.Execute through the bot), and the cards the bot answers',
    maxVersion: '1.4',
    minVersion: '1.4',
    actions: ['Action.Execute', 'Action.OpenUrl', 'Action.ShowCard', 'Action.ToggleVisibility'],
    cardExtensions: ['originator', 'hideOriginalBody', 'autoInvokeAction', 'correlationId', 'expectedActors'],
    requiredCardProperties: ['originator'],
    source:
      'https://learn.microsoft.com/outlook/actionable-messages/universal-action-model ("Universal Action Model is introduced in Adaptive card schema version 1.4 and above"; `refresh` with `Action.Execute`, `userIds` ignored in Outlook); ' +
      'https://learn.microsoft.com/outlook/actionable-messages/adaptive-card (originator required)',
  },
  teamsUniversalActions: {
    host: 'Teams card answered to an adaptiveCard/action invoke (Universal Actions)',
    maxVersion: '1.5',
    minVersion: '1.5',
    actions: ['Action.Execute', 'Action.OpenUrl', 'Action.ShowCard', 'Action.ToggleVisibility'],
    cardExtensions: [],
    requiredCardProperties: [],
    source:
      'https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/universal-actions-for-adaptive-cards/work-with-universal-actions-for-adaptive-cards ("Universal Actions for Adaptive Cards are introduced in the Adaptive Cards schema version 1.5")',
  },
  teamsOutgoingWebhook: {
    host: 'Teams outgoing webhook reply',
    maxVersion: '1.4',
    actions: ['Action.OpenUrl'],
    cardExtensions: [],
    requiredCardProperties: [],
    source: 'https://learn.microsoft.com/microsoftteams/platform/webhooks-and-connectors/how-to/add-outgoing-webhook (Adaptive Cards, openURL actions only)',
  },
  teamsLinkUnfurl: {
    host: 'Teams link unfurling (composeExtension/queryLink)',
    maxVersion: '1.3',
    actions: ['Action.OpenUrl', 'Action.Submit', 'Action.ShowCard', 'Action.ToggleVisibility'],
    cardExtensions: [],
    requiredCardProperties: [],
    source: 'https://learn.microsoft.com/microsoftteams/platform/messaging-extensions/how-to/link-unfurling (Adaptive Cards up to version 1.3)',
  },
  teamsMessagingExtension: {
    host: 'Teams messaging-extension result and selectItem cards',
    maxVersion: '1.5',
    universalActionsVersion: '1.5',
    actions: ['Action.OpenUrl', 'Action.Submit', 'Action.ShowCard', 'Action.ToggleVisibility', 'Action.Execute'],
    cardExtensions: [],
    requiredCardProperties: [],
    source:
      'https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-actions (action types); ' +
      'https://learn.microsoft.com/microsoft-copilot-studio/guidance/adaptive-cards-overview ("Teams is also limited to version 1.5")',
  },
};

/** Keys that hold child elements or actions: the SDK parses them in code, not through a property definition. */
const CHILD_KEYS = new Set(['type', 'body', 'actions', 'items', 'inlines', 'columns', 'card']);

const version = (text: string): AdaptiveCardsSdk.Version => {
  const parsed = sdk.Versions.getAllDeclaredVersions().find((v) => v.toString() === text);
  assert.ok(parsed, `Adaptive Cards version ${text} is one the SDK declares`);
  return parsed;
};

const maxVersion = (a: AdaptiveCardsSdk.Version, b: AdaptiveCardsSdk.Version): AdaptiveCardsSdk.Version => (a.compareTo(b) >= 0 ? a : b);

/** A registry of the SDK's default actions plus `Action.Http`, which the SDK defines but leaves to Outlook to register. */
function actionRegistry(withHttp: boolean): AdaptiveCardsSdk.CardObjectRegistry<AdaptiveCardsSdk.Action> {
  const registry = new sdk.CardObjectRegistry<AdaptiveCardsSdk.Action>();
  sdk.GlobalRegistry.populateWithDefaultActions(registry);
  if (withHttp) registry.register(sdk.HttpAction.JsonTypeName, sdk.HttpAction, sdk.Versions.v1_0);
  return registry;
}

export interface VersionRow {
  /** `Type`, `Type.property` or `Type.property=value`. */
  feature: string;
  /** The schema version that introduced it, as the SDK records it. */
  version: string;
}

interface Walk {
  rows: Map<string, AdaptiveCardsSdk.Version>;
  unknown: string[];
}

function valueVersion(prop: AdaptiveCardsSdk.PropertyDefinition, value: unknown): AdaptiveCardsSdk.Version | undefined {
  if (typeof value !== 'string') return undefined;
  if (prop instanceof sdk.ValueSetProperty) {
    return prop.values.find((v) => v.value.toLowerCase() === value.toLowerCase())?.targetVersion;
  }
  if (prop instanceof sdk.EnumProperty) {
    const names = prop.enumType as unknown as Record<number, string>;
    return prop.values.find((v) => names[v.value]?.toLowerCase() === value.toLowerCase())?.targetVersion;
  }
  return undefined;
}

function walkObject(node: Json, typeName: string, object: AdaptiveCardsSdk.SerializableObject, introduced: AdaptiveCardsSdk.Version, extensions: readonly string[], walk: Walk): void {
  walk.rows.set(typeName, introduced);
  const schema = object.getSchema();
  const props = Array.from({ length: schema.getCount() }, (_, i) => schema.getItemAt(i));
  for (const [key, value] of Object.entries(node)) {
    const prop = props.find((p) => p.name === key);
    if (prop) {
      walk.rows.set(`${typeName}.${key}`, prop.targetVersion);
      const valueIntroduced = valueVersion(prop, value);
      if (valueIntroduced) walk.rows.set(`${typeName}.${key}=${String(value)}`, valueIntroduced);
      if (prop instanceof sdk.SerializableObjectCollectionProperty && Array.isArray(value)) {
        for (const item of value as Json[]) walkObject(item, prop.objectType.name, new prop.objectType(), prop.targetVersion, [], walk);
      } else if (prop instanceof sdk.ActionProperty && value && typeof value === 'object') {
        walkTyped(value as Json, extensions, walk);
      }
    } else if (CHILD_KEYS.has(key)) {
      for (const child of Array.isArray(value) ? value : [value]) {
        if (child && typeof child === 'object') walkTyped(child as Json, extensions, walk);
      }
    } else if (typeName !== 'AdaptiveCard' || !extensions.includes(key)) {
      walk.unknown.push(`${typeName}.${key}`);
    }
  }
}

function walkTyped(node: Json, extensions: readonly string[], walk: Walk): void {
  const typeName = String(node.type);
  if (typeName === 'AdaptiveCard') return walkObject(node, typeName, new sdk.AdaptiveCard(), sdk.Versions.v1_0, extensions, walk);
  const registration =
    sdk.GlobalRegistry.elements.findByName(typeName) ?? actionRegistry(true).findByName(typeName);
  if (!registration) {
    walk.unknown.push(typeName);
    return;
  }
  walkObject(node, typeName, new registration.objectType(), registration.schemaVersion, extensions, walk);
}

/** Every element, property and enumerated value a card uses, with the version that introduced it. */
export function versionTable(card: object, host: HostName): { rows: VersionRow[]; needs: string; unknown: string[] } {
  const walk: Walk = { rows: new Map(), unknown: [] };
  walkTyped(card as Json, HOST_RULES[host].cardExtensions, walk);
  const needs = [...walk.rows.values()].reduce(maxVersion, sdk.Versions.v1_0);
  return {
    rows: [...walk.rows].map(([feature, v]) => ({ feature, version: v.toString() })).sort((a, b) => a.feature.localeCompare(b.feature)),
    needs: needs.toString(),
    unknown: walk.unknown,
  };
}

function actionTypes(node: unknown, found: Set<string> = new Set()): Set<string> {
  if (Array.isArray(node)) node.forEach((n) => actionTypes(n, found));
  else if (node && typeof node === 'object') {
    const record = node as Json;
    if (typeof record.type === 'string' && record.type.startsWith('Action.')) found.add(record.type);
    Object.values(record).forEach((v) => actionTypes(v, found));
  }
  return found;
}

/**
 * Everything wrong with a card for a host, as sentences; empty when the host can show it as meant. The
 * SDK parses it at its claimed version (every parse event and validation failure counts, warnings too);
 * the claimed version must be the lowest its features need and no higher than the host renders.
 */
export function cardProblems(card: unknown, host: HostName): string[] {
  const rule = HOST_RULES[host];
  if (!card || typeof card !== 'object') return ['not an object'];
  const json = card as Json;
  const problems: string[] = [];
  if (json.type !== 'AdaptiveCard') problems.push('type is not AdaptiveCard');
  const claimed = sdk.Versions.getAllDeclaredVersions().find((v) => v.toString() === json.version);
  if (!claimed) return [...problems, `version ${String(json.version)} is not an Adaptive Cards version`];

  const context = new sdk.SerializationContext(claimed);
  context.setActionRegistry(actionRegistry(rule.actions.includes('Action.Http')));
  const parsed = new sdk.AdaptiveCard();
  parsed.parse(json, context);
  for (let i = 0; i < context.eventCount; i++) problems.push(`SDK at ${claimed.toString()}: ${context.getEventAt(i).message}`);
  for (const event of parsed.validateProperties().validationEvents) problems.push(`SDK validation: ${event.message}`);

  const table = versionTable(json, host);
  const { unknown } = table;
  // Hosts run Universal Actions only at the version they name, which may be above what the SDK records.
  const universal = table.rows.some((r) => r.feature === 'Action.Execute' || r.feature === 'AdaptiveCard.refresh');
  const floors = [table.needs, rule.minVersion, universal ? rule.universalActionsVersion : undefined];
  const needs = floors
    .filter((v): v is string => v !== undefined)
    .map(version)
    .reduce(maxVersion)
    .toString();
  for (const name of unknown) problems.push(`${name} is not in the Adaptive Cards schema nor a ${rule.host} extension`);
  if (claimed.compareTo(version(needs)) < 0) problems.push(`claims ${claimed.toString()} but uses features of ${needs}`);
  const hostMax = version(rule.maxVersion);
  if (claimed.compareTo(hostMax) > 0) problems.push(`claims ${claimed.toString()}, above the ${rule.maxVersion} that ${rule.host} renders`);
  if (rule.exactVersion && claimed.compareTo(hostMax) !== 0) problems.push(`${rule.host} needs exactly version ${rule.maxVersion}`);
  if (!rule.exactVersion && claimed.compareTo(version(needs)) > 0) problems.push(`claims ${claimed.toString()} but needs only ${needs}`);
  for (const type of actionTypes(json)) {
    if (!rule.actions.includes(type)) problems.push(`${type} is not an action ${rule.host} shows`);
  }
  for (const name of rule.requiredCardProperties) {
    if (typeof json[name] !== 'string' || json[name] === '') problems.push(`${name} is missing`);
  }
  return problems;
}

export function assertCardForHost(card: unknown, host: HostName): void {
  assert.deepEqual(cardProblems(card, host), [], `a card for ${HOST_RULES[host].host}`);
}

/**
 * A messaging-extension result's `preview`: Teams shows a thumbnail or hero card there, with only the
 * fields the Bot Framework defines for it and a tap of a CardAction type Teams supports.
 * Sources: https://learn.microsoft.com/microsoftteams/platform/messaging-extensions/how-to/search-commands/respond-to-search
 * and https://learn.microsoft.com/microsoftteams/platform/task-modules-and-cards/cards/cards-actions.
 */
export function previewProblems(preview: unknown): string[] {
  if (!preview || typeof preview !== 'object') return ['no preview'];
  const { contentType, content } = preview as { contentType?: unknown; content?: Json };
  const problems: string[] = [];
  if (contentType !== 'application/vnd.microsoft.card.thumbnail' && contentType !== 'application/vnd.microsoft.card.hero') {
    problems.push(`preview content type ${String(contentType)} is not a thumbnail or hero card`);
  }
  const fields = new Set(['title', 'subtitle', 'text', 'images', 'buttons', 'tap']);
  for (const key of Object.keys(content ?? {})) if (!fields.has(key)) problems.push(`preview field ${key} is not a thumbnail card's`);
  if (typeof content?.title !== 'string' || content.title === '') problems.push('preview has no title');
  const tap = content?.tap as Json | undefined;
  if (tap && !['openUrl', 'messageBack', 'imBack', 'invoke', 'signin'].includes(String(tap.type))) problems.push(`tap type ${String(tap.type)}`);
  return problems;
}

// ---------------------------------------------------------------------------------------------------
// What a card says

/** CommonMark backslash escapes: `\*` shows `*` (the cards escape free text in TextBlocks and facts). */
const unescapeMarkdown = (text: string): string => text.replace(/\\([!-/:-@[-`{-~])/g, '$1');

/** The text a person sees on the card, in order: TextBlocks and facts with Markdown escapes read, TextRuns as typed. */
export function cardText(card: unknown): string[] {
  const texts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const record = node as Json;
    if (record.type === 'TextBlock' && typeof record.text === 'string') texts.push(unescapeMarkdown(record.text));
    if (record.type === 'TextRun' && typeof record.text === 'string') texts.push(record.text);
    if (record.type === 'FactSet' && Array.isArray(record.facts)) {
      for (const fact of record.facts as { title: string; value: string }[]) texts.push(unescapeMarkdown(fact.title), unescapeMarkdown(fact.value));
      return;
    }
    Object.values(record).forEach(walk);
  };
  walk(card);
  return texts;
}

/** Every OpenUrl action of a card, in order. */
export function openUrls(card: unknown): { title: string; url: string }[] {
  const found: { title: string; url: string }[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const record = node as Json;
    if (record.type === 'Action.OpenUrl') found.push({ title: String(record.title), url: String(record.url) });
    Object.values(record).forEach(walk);
  };
  walk(card);
  return found;
}
