/**
 * The normaliser shared by the directory's index and its queries: lone surrogates replaced (a key must be
 * well-formed Unicode to be sent at all), lower case, diacritics stripped (compatibility decomposition,
 * so that "𝐀dele" and "ﬁnn" fold like "Adele" and "finn", then combining marks dropped; a few letters
 * that do not decompose are mapped by hand), apostrophes removed so that "O'Brien" is one word, then
 * split on anything that is not a letter or a digit. Both sides use the same function, so "Zoë" finds
 * "zoe" and "José" "jose". Every cut is made between code points, never inside a surrogate pair.
 */

const FOLDED: Readonly<Record<string, string>> = {
  ß: 'ss',
  æ: 'ae',
  œ: 'oe',
  ø: 'o',
  ł: 'l',
  đ: 'd',
  ð: 'd',
  þ: 'th',
  ı: 'i',
};

/** Index keys must stay short (Table storage RowKeys are at most 1 KiB): UTF-16 units of a word. */
const MAX_WORD_LENGTH = 64;

export function foldText(text: string): string {
  return text
    .toWellFormed()
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/[ßæœøłđðþı]/g, (letter) => FOLDED[letter] ?? letter)
    .replace(/['’ʼ`]/g, '');
}

/** The distinct words of `text`, normalised, in order of first appearance. */
export function searchWords(text: string | undefined | null): string[] {
  if (!text) return [];
  const words = foldText(text)
    .split(/[^\p{L}\p{N}]+/u)
    .filter((word) => word.length > 0)
    .map((word) => cutAtCodePoint(word, MAX_WORD_LENGTH));
  return [...new Set(words)];
}

/** Whether every query word is a prefix of at least one of `words`. */
export function matchesAllPrefixes(queryWords: readonly string[], words: readonly string[]): boolean {
  return queryWords.every((query) => words.some((word) => word.startsWith(query)));
}

/** At most `maxUnits` UTF-16 units of `text`, shortened further rather than split inside a surrogate pair. */
export function cutAtCodePoint(text: string, maxUnits: number): string {
  if (text.length <= maxUnits) return text;
  const cut = text.charCodeAt(maxUnits - 1);
  const splitsPair = cut >= 0xd800 && cut <= 0xdbff;
  return text.slice(0, splitsPair ? maxUnits - 1 : maxUnits);
}

/**
 * The smallest string greater than every string that starts with `prefix` (for a range query): its last
 * code point moved up by one, stepping over the surrogate range so that the bound is well-formed too.
 */
export function prefixUpperBound(prefix: string): string {
  const points = [...prefix];
  const last = points.pop()?.codePointAt(0);
  if (last === undefined) return '\u{10FFFF}';
  if (last === 0x10ffff) return prefixUpperBound(points.join(''));
  const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
  return points.join('') + String.fromCodePoint(next);
}
