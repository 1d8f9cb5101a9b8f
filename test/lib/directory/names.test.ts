import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import { getDirectoryUser, removeUsers, searchDirectory, upsertUsers } from '../../../src/lib/directory/directory';
import { searchWords } from '../../../src/lib/directory/words';
import { useAzurite } from '../../support/azurite';
import { rowsOf } from './mirror';
import { graphUser } from '../../../tools/stand-ins/fake-graph';
import { userId } from '../graph-sync/setup';

/**
 * Any name Graph can return is stored and found, through real Azurite writes: astral-plane letters at
 * every cut position, combining marks, right-to-left scripts, words far longer than the index keeps.
 */
useAzurite();

const one = { skip: 0, count: 5 };
const found = async (query: string): Promise<string[]> => (await searchDirectory(query, one)).people.map((p) => p.id);

describe('directory names', () => {
  test("a search for 'a'×63 + '𝐀' answers, and finds the user whose word it starts", async () => {
    const id = userId(1);
    await upsertUsers([graphUser(id, `${'a'.repeat(63)}𝐀bc Vance`)]);
    assert.deepEqual(await found(`${'a'.repeat(63)}𝐀`), [id]);
    assert.deepEqual(await found('vance'), [id]);
    await removeUsers([id]);
    assert.deepEqual(await found(`${'a'.repeat(63)}𝐀`), []);
  });

  test('an astral letter at every cut position of the 64-unit word and 100-unit sort name is stored and found', async () => {
    for (let at = 60; at <= 66; at++) {
      const id = userId(100 + at);
      const word = `${'b'.repeat(at)}𝒜${'c'.repeat(40)}`;
      await upsertUsers([graphUser(id, `${word} ${'d'.repeat(98 - at)}𝓩 Smith`)]);
      assert.deepEqual(await found(word), [id], `astral letter at ${at}`);
      await removeUsers([id]);
      assert.equal((await rowsOf(id)).length, 0);
    }
  });

  test('property: any Unicode name is read back unchanged, every word of it finds the user, and removal leaves no row', async () => {
    const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 300 });
    let n = 1000;
    await fc.assert(
      fc.asyncProperty(name, name, name, async (displayName, surname, jobTitle) => {
        const id = userId(n++);
        const { skipped } = await upsertUsers([graphUser(id, displayName, { surname, jobTitle })]);
        assert.deepEqual(skipped, []);
        const stored = await getDirectoryUser(id);
        assert.equal(stored?.displayName, displayName);
        assert.equal(stored?.jobTitle, jobTitle);
        for (const word of searchWords(`${displayName} ${surname} ${jobTitle}`).slice(0, 4)) {
          assert.ok((await searchDirectory(word, { skip: 0, count: 1000 })).people.some((p) => p.id === id), `"${word}" finds the user`);
        }
        await removeUsers([id]);
        assert.equal((await rowsOf(id)).length, 0);
      }),
      { numRuns: 60 },
    );
  });

  test('a user whose rows storage cannot hold is skipped by id; the others of the same write land', async () => {
    const good = Array.from({ length: 20 }, (_, i) => graphUser(userId(5000 + i), `Ｍａｔｈ 𝓢𝓬𝓻𝓲𝓹𝓽 ${i} אבג`));
    const bad = graphUser(userId(5100), 'Huge Title', { jobTitle: 'x'.repeat(40_000) });
    const { skipped } = await upsertUsers([...good.slice(0, 10), bad, ...good.slice(10)]);
    assert.deepEqual(skipped, [userId(5100)]);
    assert.equal(await getDirectoryUser(userId(5100)), undefined);
    assert.equal((await searchDirectory('script', { skip: 0, count: 50 })).people.length, 20);
    assert.equal((await searchDirectory('math', { skip: 0, count: 50 })).people.length, 20);
  });
});
