/**
 * The normaliser shared by the directory's index and its queries: lower case, diacritics stripped
 * (canonical decomposition, then combining marks dropped; a few letters that do not decompose are
 * mapped by hand), apostrophes removed so that "O'Brien" is one word, then split on anything that is
 * not a letter or a digit. Both sides use the same function, so "Zoë" finds "zoe" and "José" "jose".
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

/** Index keys must stay short (Table storage RowKeys are at most 1 KiB). */
const MAX_WORD_LENGTH = 64;

export function foldText(text: string): string {
  return text
    .normalize('NFD')
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
    .map((word) => word.slice(0, MAX_WORD_LENGTH));
  return [...new Set(words)];
}

/** Whether every query word is a prefix of at least one of `words`. */
export function matchesAllPrefixes(queryWords: readonly string[], words: readonly string[]): boolean {
  return queryWords.every((query) => words.some((word) => word.startsWith(query)));
}

/** The smallest string greater than every string that starts with `prefix` (for a range query). */
export function prefixUpperBound(prefix: string): string {
  const last = prefix.charCodeAt(prefix.length - 1);
  return prefix.slice(0, -1) + String.fromCharCode(last + 1);
}
