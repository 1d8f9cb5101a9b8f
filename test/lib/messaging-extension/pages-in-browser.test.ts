import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';

import type { HttpResponseInit } from '@azure/functions';

import { settingsPage } from '../../../src/handlers/settingsPage';
import { signinCallback } from '../../../src/handlers/signinCallback';
import { TEAMS_JS } from '../../../src/lib/messaging-extension/html-page';
import { signinRedirectPage, signinSuccessPage } from '../../../src/lib/messaging-extension/signin-pages';
import { chromiumPath, NO_CHROMIUM, type PageRun, startBrowser, teamsJsBytes, type TestBrowser } from '../../support/browser';
import { setEnv } from '../../../tools/stand-ins/env';
import { httpRequest, testContext } from '../../../tools/stand-ins/functions';
import { type LoopbackServer, type RecordedRequest, type Reply, startLoopbackServer } from '../../../tools/stand-ins/loopback';
import { BOT_APP_ID, PUBLIC_BASE_URL } from '../../../tools/stand-ins/bot';

/**
 * The three pop-up pages in a real browser, inside a fake Teams host and outside any host, with the
 * pages' own Content-Security-Policy in force. The settings page and the failed callback come from their
 * real handlers; the redirecting start page and the successful callback come from the page builders
 * those handlers call (reaching them through the handlers takes a stored sign-in state and an Entra code
 * exchange, which signin.test.ts covers).
 */

const AUTHORIZE = 'https://login.microsoftonline.com/9188040d-6c67-4c5b-b112-36a304b66dad/oauth2/v2.0/authorize';
const SIGNIN_CODE = 'single-use-code_0123456789';

test('the TeamsJS the pages load is the npm package at the pinned version, with the SRI hash they declare', () => {
  const manifest = readFileSync(require.resolve('@microsoft/teams-js/package.json'), 'utf8');
  const installed = (JSON.parse(manifest) as { version: string }).version;
  assert.equal(installed, TEAMS_JS.version);
  assert.ok(TEAMS_JS.src.includes(`/teams-js/${TEAMS_JS.version}/`));
  assert.equal(`sha384-${createHash('sha384').update(teamsJsBytes()).digest('base64')}`, TEAMS_JS.integrity);
});

function reply(response: HttpResponseInit): Reply {
  return {
    status: response.status ?? 200,
    headers: (response.headers ?? {}) as Record<string, string>,
    body: typeof response.body === 'string' ? response.body : '',
  };
}

/** The app's pages as the browser gets them from `PUBLIC_BASE_URL`. */
async function servePage(request: RecordedRequest): Promise<Reply> {
  const query = Object.fromEntries(request.url.searchParams);
  const incoming = httpRequest({ method: request.method, url: `${PUBLIC_BASE_URL}${request.url.pathname}${request.url.search}`, query });
  switch (request.path) {
    case '/api/settings':
      return reply(await settingsPage(incoming, testContext('settingsPage').context));
    case '/api/signin/callback':
      return reply(await signinCallback(incoming, testContext('signinCallback').context));
    case '/builder/signin-start':
      return reply(signinRedirectPage(`${AUTHORIZE}?client_id=signin-client&state=s`));
    case '/builder/signin-success':
      return reply(signinSuccessPage(SIGNIN_CODE));
    default:
      return { status: 404 };
  }
}

const executable = chromiumPath();
/** Each browser test on its own is reported as skipped, with the reason, where there is no Chromium. */
const inBrowser = { skip: executable ? false : NO_CHROMIUM, timeout: 10_000 } as const;

describe('the pop-up pages in Chromium', () => {
  let browser: TestBrowser;
  let server: LoopbackServer;
  let restoreEnv: () => void;

  before(async () => {
    if (!executable) return;
    restoreEnv = setEnv({
      PUBLIC_BASE_URL,
      BOT_APP_ID,
      SIGNIN_CLIENT_ID: 'signin-client',
      SIGNIN_CLIENT_SECRET: 'shh',
      SIGNIN_TENANT_ID: '9188040d-6c67-4c5b-b112-36a304b66dad',
    });
    server = await startLoopbackServer(servePage);
    browser = await startBrowser(executable, {
      appOrigin: PUBLIC_BASE_URL,
      appServer: server.url,
      stubs: { [AUTHORIZE]: '<!DOCTYPE html><title>Entra ID</title><p id="entra">Entra ID sign-in</p>' },
    });
  });
  after(async () => {
    await browser?.close();
    await server?.close();
    restoreEnv?.();
  });

  /**
   * Nothing went wrong that a user or the console would show, and TeamsJS read its validDomains list (at
   * least once: it fetches again when a host message arrives before the first answer). A failure page is
   * sent with its 4xx status on purpose, which Chromium notes on the console as a failed load; that line,
   * for that status, is the only one allowed.
   */
  async function assertClean(run: PageRun, documentStatus?: string): Promise<void> {
    const statusLine = `error: Failed to load resource: the server responded with a status of ${documentStatus}`;
    assert.deepEqual(documentStatus ? run.problems.filter((line) => line !== statusLine) : run.problems, []);
    assert.deepEqual(run.refused, []);
    assert.ok(run.validDomainsFetches >= 1, 'TeamsJS fetched its validDomains list');
    await run.page.close();
  }

  test('settings in Teams: Save hands the department to authentication.notifySuccess', inBrowser, async () => {
    const run = await browser.open('/api/settings?department=Finance', true);
    await run.app('#department').fill('  Sales ');
    await run.app('button[type=submit]').click();
    assert.deepEqual(await run.hostCall('authentication.authenticate.success'), [JSON.stringify({ department: 'Sales' })]);
    assert.equal(await run.app('#teams-status').textContent(), '');
    await assertClean(run);
  });

  test('settings outside Teams: says to open them from Teams, and Save still says so', inBrowser, async () => {
    const run = await browser.open('/api/settings', false);
    await run.app('#teams-status').getByText('Open these settings from Microsoft Teams.').waitFor();
    await run.app('button[type=submit]').click();
    assert.equal(await run.app('#teams-status').textContent(), 'Open these settings from Microsoft Teams.');
    await assertClean(run);
  });

  test('sign-in success in Teams: the single-use code goes to authentication.notifySuccess', inBrowser, async () => {
    const run = await browser.open('/builder/signin-success', true);
    assert.deepEqual(await run.hostCall('authentication.authenticate.success'), [SIGNIN_CODE]);
    await assertClean(run);
  });

  test('sign-in success outside Teams: says Teams did not get it', inBrowser, async () => {
    const run = await browser.open('/builder/signin-success', false);
    await run.app('#teams-status').getByText('Microsoft Teams did not receive this sign-in').waitFor();
    await assertClean(run);
  });

  test('sign-in declined at Entra ID in Teams: the real callback answers 401 and calls authentication.notifyFailure', inBrowser, async () => {
    const run = await browser.open('/api/signin/callback?error=access_denied&state=s', true);
    assert.deepEqual(await run.hostCall('authentication.authenticate.failure'), ['signin_failed']);
    await run.app('h1').getByText('Sign-in failed').waitFor();
    await assertClean(run, '401 (Unauthorized)');
  });

  test('sign-in failure outside Teams: the page says it was not opened by Teams', inBrowser, async () => {
    const run = await browser.open('/api/signin/callback?error=access_denied&state=s', false);
    await run.app('#teams-status').getByText('This window was not opened by Microsoft Teams.').waitFor();
    await assertClean(run, '401 (Unauthorized)');
  });

  test('sign-in start in Teams: initialises TeamsJS, then goes to Entra ID', inBrowser, async () => {
    const run = await browser.open('/builder/signin-start', true);
    await run.hostCall('initialize');
    await run.app('#entra').waitFor();
    await assertClean(run);
  });

  test('sign-in start outside Teams: goes to Entra ID all the same, without an error', inBrowser, async () => {
    const run = await browser.open('/builder/signin-start', false);
    await run.app('#entra').waitFor();
    // The page may leave before TeamsJS's validDomains fetch is made, so that count is not checked.
    assert.deepEqual(run.problems, []);
    assert.deepEqual(run.refused, []);
    await run.page.close();
  });
});
