import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  getDirectoryUser,
  isDirectoryEmpty,
  recentlyChangedUsers,
  removeUsers,
  searchDirectory,
  upsertUsers,
  userIdsByAddress,
} from '../../../src/lib/directory/directory';
import { tableClient } from '../../../src/lib/clients/storage';
import { useAzurite } from '../../support/azurite';
import { graphUser } from '../../../tools/stand-ins/fake-graph';
import { userId } from '../graph-sync/setup';

useAzurite();

const names = (result: { people: { displayName: string }[] }): string[] => result.people.map((p) => p.displayName);
const all = { skip: 0, count: 50 };

async function indexRows(): Promise<number> {
  const table = await tableClient('directory');
  let rows = 0;
  for await (const entity of table.listEntities({ queryOptions: { select: ['RowKey'] } })) {
    if (entity.partitionKey?.startsWith('w-')) rows++;
  }
  return rows;
}

describe('directory', () => {
  test('starts empty, and a seeded user can be read back with every field', async () => {
    assert.equal(await isDirectoryEmpty(), true);
    await upsertUsers([
      graphUser(userId(1), 'Zoë Ångström', { jobTitle: 'Research Lead', department: 'Física', businessPhones: ['+1 425 555 0100'], officeLocation: '18/2111' }),
      graphUser(userId(2), "Seán O'Brien", { department: 'Sales' }),
      graphUser(userId(3), 'Adele Vance', { department: 'Retail', jobTitle: 'Retail Manager' }),
      graphUser(userId(4), 'Alex Wilber', { department: 'Marketing' }),
      graphUser(userId(5), 'Allan Deyoung', { department: 'IT', accountEnabled: false }),
    ]);
    assert.equal(await isDirectoryEmpty(), false);
    const zoe = await getDirectoryUser(userId(1));
    assert.equal(zoe?.displayName, 'Zoë Ångström');
    assert.equal(zoe?.department, 'Física');
    assert.deepEqual(zoe?.businessPhones, ['+1 425 555 0100']);
    assert.equal(zoe?.accountEnabled, true);
    assert.ok(Date.parse(zoe?.lastChanged ?? '') > 0);
    assert.equal(await getDirectoryUser(userId(99)), undefined);
  });

  test('prefix search ignores case and diacritics, both ways', async () => {
    assert.deepEqual(names(await searchDirectory('zoe', all)), ['Zoë Ångström']);
    assert.deepEqual(names(await searchDirectory('ANGS', all)), ['Zoë Ångström']);
    assert.deepEqual(names(await searchDirectory('fís', all)), ['Zoë Ångström']);
    assert.deepEqual(names(await searchDirectory('obri', all)), ["Seán O'Brien"]);
    assert.deepEqual(names(await searchDirectory('Seán', all)), ["Seán O'Brien"]);
  });

  test('every query word must start some word of the user; mail and job title count', async () => {
    assert.deepEqual(names(await searchDirectory('al', all)), ['Alex Wilber']);
    assert.deepEqual(names(await searchDirectory('retail man', all)), ['Adele Vance']);
    assert.deepEqual(names(await searchDirectory('adele.vance@contoso.com', all)), ['Adele Vance']);
    assert.deepEqual(names(await searchDirectory('ADELE.V', all)), ['Adele Vance']);
    assert.deepEqual(names(await searchDirectory('adele wilber', all)), []);
    assert.deepEqual(names(await searchDirectory('  ', all)), []);
  });

  test('disabled users never match, and are not among the recently changed', async () => {
    assert.deepEqual(names(await searchDirectory('allan', all)), []);
    assert.ok(!names(await recentlyChangedUsers(all)).includes('Allan Deyoung'));
    assert.equal((await getDirectoryUser(userId(5)))?.accountEnabled, false);
  });

  test('results come ordered by display name, paged with skip and count', async () => {
    await upsertUsers([1, 2, 3, 4].map((n) => graphUser(userId(100 + n), `Team Member${n}`)));
    const everyone = names(await searchDirectory('a', all));
    assert.deepEqual(everyone, ['Adele Vance', 'Alex Wilber', 'Zoë Ångström']);
    const team = names(await searchDirectory('member', all));
    assert.deepEqual(team, ['Team Member1', 'Team Member2', 'Team Member3', 'Team Member4']);
    const first = await searchDirectory('team', { skip: 0, count: 3 });
    assert.deepEqual(names(first), team.slice(0, 3));
    assert.equal(first.hasMore, true);
    const second = await searchDirectory('team', { skip: 3, count: 3 });
    assert.deepEqual(names(second), team.slice(3));
    assert.equal(second.hasMore, false);
  });

  test('the department filter narrows a search, ignoring case', async () => {
    assert.deepEqual(names(await searchDirectory('a', all, { department: 'RETAIL' })), ['Adele Vance']);
  });

  test('an update replaces the words it changed: old ones no longer match, no stale index rows remain', async () => {
    const before = await indexRows();
    await upsertUsers([graphUser(userId(4), 'Alexandra Wilber-Nguyen', { department: 'Marketing' })]);
    assert.deepEqual(names(await searchDirectory('nguyen', all)), ['Alexandra Wilber-Nguyen']);
    assert.deepEqual(names(await searchDirectory('alex', all)), ['Alexandra Wilber-Nguyen']);
    await upsertUsers([graphUser(userId(4), 'Sasha Nguyen', { department: 'Marketing' })]);
    assert.deepEqual(names(await searchDirectory('wilber', all)), []);
    assert.deepEqual(names(await searchDirectory('alex', all)), []);
    assert.deepEqual(names(await searchDirectory('sasha', all)), ['Sasha Nguyen']);
    // "alex" and "wilber" went, "sasha" and "nguyen" came (mail words too): the count of rows is back.
    assert.equal(await indexRows(), before);
  });

  test('the same state written again changes nothing, not even lastChanged', async () => {
    const before = await getDirectoryUser(userId(3));
    await upsertUsers([graphUser(userId(3), 'Adele Vance', { department: 'Retail', jobTitle: 'Retail Manager' })]);
    assert.deepEqual(await getDirectoryUser(userId(3)), before);
  });

  test('recently changed users come newest first, paged', async () => {
    await upsertUsers([graphUser(userId(3), 'Adele Vance', { department: 'Retail', jobTitle: 'Store Manager' })]);
    const recent = await recentlyChangedUsers({ skip: 0, count: 2 });
    assert.equal(recent.people[0]?.displayName, 'Adele Vance');
    assert.equal(recent.hasMore, true);
  });

  test('disabling a user removes them from search; removing a user removes everything', async () => {
    await upsertUsers([graphUser(userId(2), "Seán O'Brien", { department: 'Sales', accountEnabled: false })]);
    assert.deepEqual(names(await searchDirectory('sean', all)), []);
    await removeUsers([userId(1), userId(2), userId(3), userId(4), userId(5), ...[1, 2, 3, 4].map((n) => userId(100 + n))]);
    await removeUsers([userId(1)]);
    assert.equal(await getDirectoryUser(userId(1)), undefined);
    assert.equal(await indexRows(), 0);
    assert.equal(await isDirectoryEmpty(), true);
    assert.deepEqual((await recentlyChangedUsers(all)).people, []);
  });

  test('an address resolves to its user by mail or UPN, ignoring case, and follows renames and deletion', async () => {
    const guest = 'ext.person_fabrikam.com#EXT#@contoso.onmicrosoft.com';
    await upsertUsers([
      graphUser(userId(71), 'Mail Differs', { mail: 'Mail.Differs@contoso.com', userPrincipalName: 'md@contoso.onmicrosoft.com' }),
      graphUser(userId(72), 'Guest Person', { mail: 'person@fabrikam.com', userPrincipalName: guest }),
      graphUser(userId(73), 'Off Duty', { accountEnabled: false }),
    ]);
    assert.deepEqual(await userIdsByAddress('mail.differs@CONTOSO.com'), [userId(71)]);
    assert.deepEqual(await userIdsByAddress('MD@contoso.onmicrosoft.com'), [userId(71)]);
    assert.deepEqual(await userIdsByAddress(guest.toUpperCase()), [userId(72)]);
    // Disabled users still resolve: the address is theirs, so no one else may act under it.
    assert.deepEqual(await userIdsByAddress('off.duty@contoso.com'), [userId(73)]);
    assert.deepEqual(await userIdsByAddress('nobody@contoso.com'), []);

    await upsertUsers([graphUser(userId(71), 'Mail Differs', { mail: 'new.mail@contoso.com', userPrincipalName: 'md@contoso.onmicrosoft.com' })]);
    assert.deepEqual(await userIdsByAddress('mail.differs@contoso.com'), []);
    assert.deepEqual(await userIdsByAddress('new.mail@contoso.com'), [userId(71)]);
    await removeUsers([userId(71), userId(72), userId(73)]);
    for (const address of ['new.mail@contoso.com', 'md@contoso.onmicrosoft.com', guest, 'off.duty@contoso.com']) {
      assert.deepEqual(await userIdsByAddress(address), []);
    }
  });
});
