import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import type { DirectoryUser } from '../../../src/lib/directory/directory';
import { peopleListCard, personCard } from '../../../src/lib/directory/people-card';
import { assertCardForHost, cardText, openUrls } from '../../support/cards';

const adele: DirectoryUser = {
  id: '87d349ed-44d7-43e1-9a83-5f2406dee5bd',
  displayName: 'Adele Vance',
  givenName: 'Adele',
  surname: 'Vance',
  mail: 'AdeleV@contoso.com',
  userPrincipalName: 'AdeleV@contoso.onmicrosoft.com',
  jobTitle: 'Retail Manager',
  department: 'Retail',
  officeLocation: '18/2111',
  businessPhones: ['+1 425 555 0109'],
  accountEnabled: true,
  lastChanged: '2026-11-01T00:00:00.000Z',
};

describe('people cards', () => {
  test('a person: name, role, contact lines, and chat and mail buttons that open URLs', () => {
    const card = personCard(adele);
    assertCardForHost(card, 'teamsOutgoingWebhook');
    assert.deepEqual(cardText(card), ['Adele Vance', 'Retail Manager · Retail', 'AdeleV@contoso.com · 18/2111 · +1 425 555 0109']);
    assert.deepEqual(openUrls(card), [
      { title: 'Chat in Teams', url: 'https://teams.microsoft.com/l/chat/0/0?users=AdeleV@contoso.onmicrosoft.com' },
      { title: 'Send mail', url: 'mailto:AdeleV@contoso.com' },
    ]);
  });

  test('directory text is shown as typed: never Markdown, never able to add or change a link', () => {
    const sneaky: DirectoryUser = {
      ...adele,
      displayName: '**Boss** [click](https://evil.example)',
      jobTitle: '<at>everyone</at>',
      mail: 'a?cc=boss@contoso.com',
      userPrincipalName: 'x&users=boss@contoso.com',
    };
    const card = personCard(sneaky);
    assertCardForHost(card, 'teamsOutgoingWebhook');
    const json = JSON.stringify(card);
    assert.doesNotMatch(json, /"type":"TextBlock"/, 'directory values only in TextRuns, which render no Markdown');
    assert.ok(cardText(card).includes('**Boss** [click](https://evil.example)'));
    const [chat, mail] = openUrls(card);
    assert.equal(new URL(chat?.url ?? '').searchParams.getAll('users').join(), 'x&users=boss@contoso.com');
    assert.equal(mail?.url, 'mailto:a%3Fcc%3Dboss@contoso.com');
  });

  test('no UPN: the chat link uses the mail address; no valid mail: no mail button', () => {
    const noUpn = { ...adele, userPrincipalName: undefined };
    assert.match(openUrls(personCard(noUpn))[0]?.url ?? '', /users=AdeleV@contoso\.com$/);
    const noMail = { ...adele, mail: undefined };
    assert.deepEqual(
      openUrls(personCard(noMail)).map((a) => a.title),
      ['Chat in Teams'],
    );
    assert.deepEqual(openUrls(personCard({ displayName: 'Room 1' })), []);
  });

  test('a list: a heading, each person with their own buttons, a footnote; one 1.2 card', () => {
    const megan = { ...adele, id: '2', displayName: 'Megan Bowen', mail: 'MeganB@contoso.com', userPrincipalName: 'MeganB@contoso.com' };
    const card = peopleListCard([adele, megan], { heading: 'People matching “retail”', footnote: 'More people match.' });
    assertCardForHost(card, 'teamsOutgoingWebhook');
    const texts = cardText(card);
    assert.equal(texts[0], 'People matching “retail”');
    assert.equal(texts.at(-1), 'More people match.');
    assert.deepEqual(
      openUrls(card).map((a) => a.url),
      [
        'https://teams.microsoft.com/l/chat/0/0?users=AdeleV@contoso.onmicrosoft.com',
        'mailto:AdeleV@contoso.com',
        'https://teams.microsoft.com/l/chat/0/0?users=MeganB@contoso.com',
        'mailto:MeganB@contoso.com',
      ],
    );
  });
});
