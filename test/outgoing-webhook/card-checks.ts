import assert from 'node:assert/strict';

/**
 * What Teams requires of a card an outgoing webhook sends: Adaptive Card schema 1.4 at most and no
 * action but `Action.OpenUrl` (checked everywhere in the tree, `selectAction`s and ActionSets included).
 */
export function assertWebhookCard(card: unknown): void {
  assert.ok(card && typeof card === 'object');
  const root = card as Record<string, unknown>;
  assert.equal(root.type, 'AdaptiveCard');
  const [major, minor] = String(root.version).split('.').map(Number);
  assert.ok(major === 1 && (minor ?? 99) <= 4, `version ${String(root.version)} is at most 1.4`);
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (typeof record.type === 'string' && record.type.startsWith('Action.')) {
      assert.equal(record.type, 'Action.OpenUrl', `only Action.OpenUrl, found ${record.type}`);
    }
    Object.values(record).forEach(walk);
  };
  walk(card);
}

/** Every OpenUrl action of a card, in order. */
export function openUrls(card: unknown): { title: string; url: string }[] {
  const found: { title: string; url: string }[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (record.type === 'Action.OpenUrl') found.push({ title: String(record.title), url: String(record.url) });
    Object.values(record).forEach(walk);
  };
  walk(card);
  return found;
}

/** The text a person sees on the card: TextBlock texts, TextRun texts and facts, in order. */
export function cardText(card: unknown): string[] {
  const texts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if ((record.type === 'TextBlock' || record.type === 'TextRun') && typeof record.text === 'string') texts.push(record.text);
    if (typeof record.title === 'string' && typeof record.value === 'string') texts.push(`${record.title}: ${record.value}`);
    Object.values(record).forEach(walk);
  };
  walk(card);
  return texts;
}
