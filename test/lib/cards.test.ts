import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';

import { Template } from 'adaptivecards-templating';

import approvalTemplate from '../../src/cards/expense-approval.json';
import statusTemplate from '../../src/cards/expense-status.json';
import universalApprovalTemplate from '../../src/cards/expense-approval-universal.json';
import {
  expenseApprovalCard,
  expenseStatusCard,
  markdownLiteral,
  refreshedApprovalCard,
  universalApprovalCard,
  universalStatusCard,
} from '../../src/lib/expenses/cards';
import type { Expense, ExpenseStatus } from '../../src/lib/expenses/store';
import { peopleListCard, personCard } from '../../src/lib/directory/people-card';
import { assertCardForHost, cardProblems, cardText, HOST_RULES, type HostName, versionTable } from '../support/cards';

/**
 * Every kind of card the app emits, built by the functions that build them for real, checked with
 * Microsoft's Adaptive Cards SDK against the rules of each host that shows it; and the contrast of every
 * text colour the cards use on those hosts' themes. (The cards as they leave the endpoints are checked
 * too: see the actionable-messages round trip, the outgoing-webhook replies and the messaging-extension
 * invokes.)
 */

const ORIGINATOR = '6e5f1b5c-0000-4000-8000-000000000001';
const APPROVAL_OPTIONS = { originator: ORIGINATOR, actionUrl: 'https://contoso.example/api/actionable-message', actionToken: 'v1.token' };
const STATUSES: ExpenseStatus[] = ['pending', 'approved', 'rejected'];

function expense(status: ExpenseStatus, extra: Partial<Expense> = {}): Expense {
  return {
    id: 'EXP-7',
    submitter: 'alexw@contoso.com',
    approver: 'adelev@contoso.com',
    amount: 42.5,
    currency: 'EUR',
    description: 'Team lunch',
    status,
    createdAt: '2026-11-23T10:00:00.000Z',
    ...(status === 'pending' ? {} : { decidedBy: 'adelev@contoso.com', decidedAt: '2026-11-23T11:00:00.000Z' }),
    ...extra,
  };
}

const people = [
  { displayName: 'Adele Vance', mail: 'AdeleV@contoso.com', userPrincipalName: 'AdeleV@contoso.com', jobTitle: 'Retail Manager', department: 'Retail' },
  { displayName: 'Megan Bowen', mail: 'MeganB@contoso.com' },
];

interface EmittedCard {
  kind: string;
  card: Record<string, unknown>;
  hosts: HostName[];
}

/** Every card kind, with every host that shows it. */
async function emittedCards(): Promise<EmittedCard[]> {
  const teams: HostName[] = ['teamsOutgoingWebhook', 'teamsMessagingExtension', 'teamsLinkUnfurl'];
  const cards: EmittedCard[] = [
    { kind: 'approval (mailed)', card: await expenseApprovalCard(expense('pending'), APPROVAL_OPTIONS), hosts: ['outlookActionableMessage'] },
    { kind: 'person', card: { ...personCard(people[0] ?? assert.fail()) }, hosts: ['teamsOutgoingWebhook', 'teamsMessagingExtension'] },
    { kind: 'people list', card: { ...peopleListCard(people, { heading: 'People matching “a”', footnote: 'More people match.' }) }, hosts: ['teamsOutgoingWebhook'] },
  ];
  const refreshUserIds = ['cd723fa0-0591-416a-9290-e93ecf3a9b92'];
  const mailed = { host: 'outlook' as const, originator: ORIGINATOR, refreshUserIds };
  const inTeams = { host: 'teams' as const, refreshUserIds };
  cards.push(
    { kind: 'Universal Actions approval (mailed)', card: await universalApprovalCard(expense('pending'), 'v1.token', mailed), hosts: ['outlookUniversalActions'] },
    { kind: 'Universal Actions approval (Teams)', card: await universalApprovalCard(expense('pending'), 'v1.token', inTeams), hosts: ['teamsUniversalActions', 'teamsMessagingExtension'] },
  );
  for (const status of STATUSES) {
    const decided = status === 'pending' ? expense(status) : expense(status, { comment: 'Fine *by* me' });
    cards.push(
      { kind: `Universal Actions status (${status}, Outlook)`, card: await universalStatusCard(decided, mailed), hosts: ['outlookUniversalActions'] },
      {
        kind: `Universal Actions status (${status}, Teams)`,
        card: await universalStatusCard(decided, inTeams),
        // A pending card is also a messaging-extension result; a decided one is only ever an invoke's answer.
        hosts: status === 'pending' ? ['teamsUniversalActions', 'teamsMessagingExtension'] : ['teamsUniversalActions'],
      },
    );
  }
  for (const status of STATUSES) {
    cards.push({ kind: `status (${status})`, card: await expenseStatusCard(expense(status)), hosts: teams });
    if (status !== 'pending') {
      const decided = expense(status, { comment: 'See *the* [policy](https://evil.example)' });
      cards.push({ kind: `refreshed after a click (${status})`, card: await refreshedApprovalCard(decided, ORIGINATOR), hosts: ['outlookActionableMessage'] });
      cards.push({ kind: `status with comment (${status})`, card: await expenseStatusCard(decided), hosts: teams });
    }
  }
  return cards;
}

describe('every card the app emits, for every host that shows it', () => {
  test('parses with the Adaptive Cards SDK at its own version, with no error or warning, within the host rules', async (t) => {
    for (const { kind, card, hosts } of await emittedCards()) {
      for (const host of hosts) assert.deepEqual(cardProblems(card, host), [], `${kind} for ${HOST_RULES[host].host}`);
      t.diagnostic(`${kind}: version ${String(card.version)}, needs ${versionTable(card, hosts[0] ?? assert.fail()).needs}; ${hosts.join(', ')}`);
    }
  });

  test('the Outlook cards are version 1.0, the approval card with originator and two Action.Http POSTs to the app', async () => {
    const approval = await expenseApprovalCard(expense('pending'), APPROVAL_OPTIONS);
    assert.equal(approval.version, '1.0');
    assert.equal(approval.originator, ORIGINATOR);
    const actions = approval.actions as { type: string; title: string; method: string; url: string; body: string }[];
    assert.deepEqual(actions.map((a) => [a.type, a.title, a.method, a.url]), [
      ['Action.Http', 'Approve', 'POST', APPROVAL_OPTIONS.actionUrl],
      ['Action.Http', 'Reject', 'POST', APPROVAL_OPTIONS.actionUrl],
    ]);
    for (const [action, decision] of [[actions[0], 'approve'], [actions[1], 'reject']] as const) {
      assert.deepEqual(JSON.parse(action?.body ?? ''), { expenseId: 'EXP-7', decision, comment: '{{comment.value}}', actionToken: 'v1.token' });
    }
    // The comment's label is a TextBlock (Input.label is 1.3).
    const body = approval.body as Record<string, unknown>[];
    const input = body.findIndex((e) => e.type === 'Input.Text');
    assert.equal(body[input - 1]?.type, 'TextBlock');
    assert.match(String(body[input - 1]?.text), /Comment/);
    const refreshed = await refreshedApprovalCard(expense('approved'), ORIGINATOR);
    assert.equal(refreshed.version, '1.0');
    assert.equal(refreshed.originator, ORIGINATOR);
    assert.equal(refreshed.actions, undefined, 'a decision is taken once: no actions are left');
  });

  test('the Universal Actions cards: 1.4 with originator for Outlook, 1.5 for Teams, Action.Execute verbs with the token, a refresh naming the approver while pending', async () => {
    const ids = ['cd723fa0-0591-416a-9290-e93ecf3a9b92'];
    const mailed = await universalApprovalCard(expense('pending'), 'v1.token', { host: 'outlook', originator: ORIGINATOR, refreshUserIds: ids });
    assert.equal(mailed.version, '1.4');
    assert.equal(mailed.originator, ORIGINATOR);
    const actions = mailed.actions as { type: string; verb: string; data: unknown }[];
    assert.deepEqual(actions.map((a) => [a.type, a.verb, a.data]), [
      ['Action.Execute', 'approve', { expenseId: 'EXP-7', actionToken: 'v1.token' }],
      ['Action.Execute', 'reject', { expenseId: 'EXP-7', actionToken: 'v1.token' }],
    ]);
    assert.deepEqual(mailed.refresh, { action: { type: 'Action.Execute', verb: 'refresh', data: { expenseId: 'EXP-7' } }, userIds: ids.map((id) => `8:orgid:${id}`) });
    assert.ok((mailed.body as { type: string; id?: string }[]).some((e) => e.type === 'Input.Text' && e.id === 'comment'));
    const teams = await universalApprovalCard(expense('pending'), 'v1.token', { host: 'teams', refreshUserIds: ids });
    assert.equal(teams.version, '1.5');
    assert.equal(teams.originator, undefined);
    const decided = await universalStatusCard(expense('approved'), { host: 'teams', refreshUserIds: ids });
    assert.equal(decided.refresh, undefined, 'a decided expense never changes: no refresh');
    assert.equal(decided.actions, undefined);
    const many = Array.from({ length: 70 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`);
    const capped = await universalStatusCard(expense('pending'), { host: 'teams', refreshUserIds: many });
    assert.equal((capped.refresh as { userIds: string[] }).userIds.length, 60, 'Teams refreshes for at most 60 users');
  });

  test('a Universal Actions card below the host version fails: Teams 1.4, Outlook 1.0', async () => {
    const teams = await universalApprovalCard(expense('pending'), 'v1.token', { host: 'teams', refreshUserIds: [] });
    assert.ok(cardProblems({ ...teams, version: '1.4' }, 'teamsUniversalActions').includes('claims 1.4 but uses features of 1.5'));
    const asOne = cardProblems({ ...teams, version: '1.0', originator: ORIGINATOR }, 'outlookUniversalActions');
    assert.ok(asOne.some((p) => /Action\.Execute/.test(p)), asOne.join('\n'));
  });

  test('the version table comes from the SDK: what each card uses and the version that introduced it', async (t) => {
    const approval = versionTable(await expenseApprovalCard(expense('pending'), APPROVAL_OPTIONS), 'outlookActionableMessage');
    assert.ok(approval.rows.length > 20);
    assert.deepEqual(approval.rows.filter((r) => r.version !== '1.0'), [], 'the approval card uses only what 1.0 defines');
    const list = versionTable(peopleListCard(people), 'teamsOutgoingWebhook');
    assert.equal(list.needs, '1.2');
    assert.deepEqual(list.rows.filter((r) => r.version === '1.2').map((r) => r.feature), ['ActionSet', 'RichTextBlock', 'TextRun']);
    for (const row of [...approval.rows, ...list.rows]) t.diagnostic(`${row.feature}: ${row.version}`);
  });

  test('every host rule names its Microsoft source', () => {
    for (const rule of Object.values(HOST_RULES)) assert.match(rule.source, /^https:\/\/learn\.microsoft\.com\//);
  });
});

describe('the check catches what the hosts would not show', () => {
  test('a 1.0 card using RichTextBlock (1.2) fails: the SDK does not know it at 1.0, and the table says 1.2', () => {
    const card = {
      type: 'AdaptiveCard',
      version: '1.0',
      originator: ORIGINATOR,
      body: [{ type: 'RichTextBlock', inlines: [{ type: 'TextRun', text: 'Lunch' }] }],
    };
    const problems = cardProblems(card, 'outlookActionableMessage');
    assert.ok(problems.some((p) => /Unknown element type "RichTextBlock"/.test(p)), problems.join('\n'));
    assert.ok(problems.includes('claims 1.0 but uses features of 1.2'), problems.join('\n'));
  });

  test('the old approval card (1.4, RichTextBlock, Input label, action style) fails for Outlook', async () => {
    const card = await expenseApprovalCard(expense('pending'), APPROVAL_OPTIONS);
    const body = card.body as Record<string, unknown>[];
    const old = {
      ...card,
      version: '1.4',
      body: body.map((e) => (e.type === 'Input.Text' ? { ...e, label: 'Comment (optional)' } : e)),
      actions: (card.actions as object[]).map((a) => ({ ...a, style: 'positive' })),
    };
    assert.ok(cardProblems(old, 'outlookActionableMessage').includes('Outlook actionable message with Action.Http buttons, and the refresh card returned after a click needs exactly version 1.0'));
    const asOne = cardProblems({ ...old, version: '1.0' }, 'outlookActionableMessage');
    assert.ok(asOne.some((p) => /"label" is supported in version 1\.3/.test(p)), asOne.join('\n'));
    assert.ok(asOne.some((p) => /"style" is supported in version 1\.2/.test(p)), asOne.join('\n'));
  });

  test('a 1.4 link-unfurl card fails: Teams unfurls cards up to 1.3', async () => {
    const card = { ...(await expenseStatusCard(expense('pending'))), version: '1.4' };
    const problems = cardProblems(card, 'teamsLinkUnfurl');
    assert.ok(problems.includes('claims 1.4, above the 1.3 that Teams link unfurling (composeExtension/queryLink) renders'), problems.join('\n'));
  });

  test('a card that claims more than it needs fails (the lowest version its features need)', () => {
    assert.ok(cardProblems({ ...personCard(people[1] ?? assert.fail()), version: '1.4' }, 'teamsOutgoingWebhook').includes('claims 1.4 but needs only 1.2'));
  });

  test('an outgoing-webhook card with anything but Action.OpenUrl fails', () => {
    const card = { ...personCard(people[1] ?? assert.fail()), actions: [{ type: 'Action.Submit', title: 'Go' }] };
    assert.ok(cardProblems(card, 'teamsOutgoingWebhook').includes('Action.Submit is not an action Teams outgoing webhook reply shows'));
  });

  test('Action.Http outside Outlook, an unknown property, and a mailed card without originator fail', async () => {
    const approval = await expenseApprovalCard(expense('pending'), APPROVAL_OPTIONS);
    const inTeams = cardProblems(approval, 'teamsMessagingExtension');
    assert.ok(inTeams.some((p) => /Unknown action type "Action.Http"/.test(p)), inTeams.join('\n'));
    const typo = cardProblems({ ...approval, body: [{ type: 'TextBlock', text: 'x', wieght: 'Bolder' }] }, 'outlookActionableMessage');
    assert.ok(typo.some((p) => p.startsWith('TextBlock.wieght is not in the Adaptive Cards schema')), typo.join('\n'));
    assert.ok(cardProblems({ ...approval, originator: undefined }, 'outlookActionableMessage').includes('originator is missing'));
  });
});

// ---------------------------------------------------------------------------------------------------
// Reading a card without colour, and the colours it may use

/**
 * Text colours of the Adaptive Cards Designer's host configs (microsoft/AdaptiveCards at
 * 644d933e185a8482c4dcf4c375d177aac37fd095, samples/HostConfig/{outlook-desktop,microsoft-teams-light,
 * microsoft-teams-dark}.json, which the designer copies to source/nodejs/adaptivecards-designer/src/hostConfigs):
 * `containerStyles.default`'s background and foreground colours, `#AARRGGBB` or `#RRGGBB`.
 * The designer has no Outlook dark theme.
 */
const THEMES = {
  'outlook-desktop': {
    background: '#FFFFFF',
    default: { default: '#333333', subtle: '#EE333333' },
    good: { default: '#028A02', subtle: '#DD027502' },
    warning: { default: '#e69500', subtle: '#DDe69500' },
    attention: { default: '#cc3300', subtle: '#DDcc3300' },
  },
  'microsoft-teams-light': {
    background: '#ffffff',
    default: { default: '#ff252424', subtle: '#bf252424' },
    good: { default: '#92c353', subtle: '#e592c353' },
    warning: { default: '#f8d22a', subtle: '#e5f8d22a' },
    attention: { default: '#c4314b', subtle: '#e5c4314b' },
  },
  'microsoft-teams-dark': {
    background: '#ff2d2c2c',
    default: { default: '#ffffffff', subtle: '#bfffffff' },
    good: { default: '#ff92c353', subtle: '#e592c353' },
    warning: { default: '#fff8d22a', subtle: '#e5f8d22a' },
    attention: { default: '#ffd74654', subtle: '#e5d74654' },
  },
} as const;
type Theme = keyof typeof THEMES;
type ColorName = 'default' | 'good' | 'warning' | 'attention';

const THEMES_OF: Record<HostName, Theme[]> = {
  outlookActionableMessage: ['outlook-desktop'],
  outlookUniversalActions: ['outlook-desktop'],
  teamsUniversalActions: ['microsoft-teams-light', 'microsoft-teams-dark'],
  teamsOutgoingWebhook: ['microsoft-teams-light', 'microsoft-teams-dark'],
  teamsMessagingExtension: ['microsoft-teams-light', 'microsoft-teams-dark'],
  teamsLinkUnfurl: ['microsoft-teams-light', 'microsoft-teams-dark'],
};

/** `#AARRGGBB` / `#RRGGBB` → RGBA in 0..1. */
function rgba(hex: string): [number, number, number, number] {
  const digits = hex.slice(1);
  const argb = digits.length === 8 ? digits : `ff${digits}`;
  const [a, r, g, b] = [0, 2, 4, 6].map((i) => parseInt(argb.slice(i, i + 2), 16) / 255) as [number, number, number, number];
  return [r, g, b, a];
}

/** WCAG 2 relative luminance of a colour drawn over an opaque background. */
function luminance(foreground: string, background: string): number {
  const [br, bg, bb] = rgba(background);
  const [r, g, b, a] = rgba(foreground);
  const channel = (c: number): number => (c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4);
  const [lr, lg, lb] = [r * a + br * (1 - a), g * a + bg * (1 - a), b * a + bb * (1 - a)].map(channel) as [number, number, number];
  return 0.2126 * lr + 0.7152 * lg + 0.0722 * lb;
}

function contrast(theme: Theme, color: ColorName, subtle: boolean): number {
  const t = THEMES[theme];
  const fg = luminance(t[color][subtle ? 'subtle' : 'default'], t.background);
  const bg = luminance(t.background, t.background);
  return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
}

/** Every text style a card uses: its colour name and whether it is subtle. */
function textStyles(card: unknown): { color: ColorName; subtle: boolean; text: string }[] {
  const found: { color: ColorName; subtle: boolean; text: string }[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const record = node as Record<string, unknown>;
    if (record.type === 'TextBlock' || record.type === 'TextRun') {
      const color = (typeof record.color === 'string' ? record.color : 'default').toLowerCase();
      assert.ok(['default', 'good', 'warning', 'attention'].includes(color), `colour ${color} has a value in every theme here`);
      found.push({ color: color as ColorName, subtle: record.isSubtle === true, text: String(record.text) });
    }
    Object.values(record).forEach(walk);
  };
  walk(card);
  return found;
}

describe('state is readable without colour; colours pass contrast', () => {
  test('the contrast arithmetic matches WCAG: black on white is 21:1, and the issue measured Teams light "warning" at 1.47:1', () => {
    assert.equal(Math.round(luminance('#000000', '#ffffff') * 1000), 0);
    assert.equal(contrast('microsoft-teams-light', 'warning', false).toFixed(2), '1.47');
    assert.equal(contrast('microsoft-teams-light', 'good', false).toFixed(2), '2.07');
    assert.equal(contrast('microsoft-teams-dark', 'attention', false).toFixed(2), '3.24');
  });

  test('every text style on every card passes 4.5:1 on each theme of each host that shows it', async () => {
    for (const { kind, card, hosts } of await emittedCards()) {
      for (const theme of new Set(hosts.flatMap((h) => THEMES_OF[h]))) {
        for (const style of textStyles(card)) {
          const ratio = contrast(theme, style.color, style.subtle);
          assert.ok(ratio >= 4.5, `${kind}, "${style.text}" (${style.color}${style.subtle ? ', subtle' : ''}) on ${theme}: ${ratio.toFixed(2)}:1`);
        }
      }
    }
  });

  test('no state colour would pass on every host, so none is used: each status is a symbol and a word in bold', async () => {
    const everyTheme = Object.keys(THEMES) as Theme[];
    for (const color of ['good', 'warning', 'attention'] as const) {
      assert.ok(everyTheme.some((theme) => contrast(theme, color, false) < 4.5), color);
    }
    const words = { pending: 'Waiting for approval', approved: 'Approved', rejected: 'Rejected' };
    for (const status of STATUSES) {
      const card = await expenseStatusCard(expense(status));
      const line = (card.body as Record<string, unknown>[]).find((e) => String(e.text).includes(words[status]));
      assert.ok(line, status);
      assert.match(String(line.text), new RegExp(`^[^\\p{L}\\s] ${words[status]}$`, 'u'), 'a symbol, then the word');
      assert.equal(line.weight, 'Bolder');
      assert.equal(line.color, undefined, 'the host default colour');
    }
    const symbols = await Promise.all(STATUSES.map(async (s) => String(((await expenseStatusCard(expense(s))).body as { text: string }[])[1]?.text).charAt(0)));
    assert.equal(new Set(symbols).size, 3, 'each state its own symbol');
  });
});

describe('free text on the cards is shown as typed', () => {
  test('Markdown in a description, comment or address neither formats nor links: the hosts read it back as typed', async () => {
    const hostile = '**Boss** [click](https://evil.example) _x_ `code` ~~gone~~ \\ back\n- item\n1. first\n# heading';
    for (const card of [
      await expenseApprovalCard(expense('pending', { description: hostile }), APPROVAL_OPTIONS),
      await expenseStatusCard(expense('rejected', { description: hostile, comment: hostile })),
    ]) {
      assert.ok(cardText(card).filter((t) => t === hostile).length >= 1);
      const raw = JSON.stringify(card);
      assert.doesNotMatch(raw, /(?<!\\\\)\[click\]/, 'no link syntax left unescaped');
    }
    assert.equal(markdownLiteral('EUR 42.50 · a@contoso.com · EXP-7'), 'EUR 42.50 · a@contoso.com · EXP-7', 'ordinary text is unchanged');
  });
});

describe('the sample data a designer opens the templates with', () => {
  const sample = (name: string): Record<string, unknown> =>
    JSON.parse(readFileSync(resolve(__dirname, '..', '..', '..', 'docs', 'cards', name), 'utf8')) as Record<string, unknown>;

  test('docs/cards/expense-approval.data.json fills every binding: an Outlook 1.0 card with Approve and Reject', () => {
    const card = new Template(approvalTemplate).expand({ $root: sample('expense-approval.data.json') }) as Record<string, unknown>;
    assert.doesNotMatch(JSON.stringify(card), /\$\{/);
    assertCardForHost(card, 'outlookActionableMessage');
    assert.deepEqual((card.actions as { title: string }[]).map((a) => a.title), ['Approve', 'Reject']);
  });

  test('docs/cards/expense-approval-universal.data.json fills every binding: a Teams 1.5 card with Approve and Reject as Action.Execute', () => {
    const card = new Template(universalApprovalTemplate).expand({ $root: sample('expense-approval-universal.data.json') }) as Record<string, unknown>;
    assert.doesNotMatch(JSON.stringify(card), /\$\{/);
    assertCardForHost(card, 'teamsUniversalActions');
    assert.deepEqual((card.actions as { verb: string }[]).map((a) => a.verb), ['approve', 'reject']);
  });

  test('docs/cards/expense-status.data.json fills every binding of the status card', () => {
    const card = new Template(statusTemplate).expand({ $root: sample('expense-status.data.json') }) as Record<string, unknown>;
    assert.doesNotMatch(JSON.stringify(card), /\$\{/);
    for (const host of ['teamsLinkUnfurl', 'teamsOutgoingWebhook'] as const) assertCardForHost(card, host);
  });
});
