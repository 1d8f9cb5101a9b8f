import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { settingsPage } from '../../../src/handlers/settingsPage';
import { escapeHtml } from '../../../src/lib/core/escape-html';
import { httpRequest, testContext, withEnv } from '../../../tools/stand-ins/functions';
import { BOT_APP_ID, PUBLIC_BASE_URL } from '../../../tools/stand-ins/bot';

/** The settings pop-up: what it shows, what it hands to Teams, and that nothing echoed can become markup. */

const env = { PUBLIC_BASE_URL, BOT_APP_ID };

async function get(query: Record<string, string>): Promise<{ status: number; html: string; headers: Record<string, string> }> {
  const { context } = testContext('settingsPage');
  const url = new URL('http://localhost:7071/api/settings');
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const response = await settingsPage(httpRequest({ method: 'GET', url: url.href, query }), context);
  return {
    status: response.status ?? 200,
    html: typeof response.body === 'string' ? response.body : '',
    headers: (response.headers ?? {}) as Record<string, string>,
  };
}

describe('settingsPage', () => {
  test('shows the current department (what Save hands to Teams is checked in a browser: pages-in-browser.test.ts)', async () => {
    await withEnv(env, async () => {
      const page = await get({ department: 'Finance' });
      assert.equal(page.status, 200);
      assert.equal(page.headers['Content-Type'], 'text/html; charset=utf-8');
      assert.match(page.html, /<input id="department"[^>]* value="Finance">/);
    });
  });

  test('an echoed department cannot break out of its attribute or add script', async () => {
    await withEnv(env, async () => {
      const hostile = `"><script>alert(1)</script><img src=x onerror='alert(2)'>\``;
      const page = await get({ department: hostile });
      assert.ok(!page.html.includes('<script>alert(1)'));
      assert.ok(!page.html.includes("onerror='"));
      assert.ok(page.html.includes(`value="${escapeHtml(hostile)}"`));
      assert.equal(escapeHtml(hostile).includes('"'), false);
      const csp = page.headers['Content-Security-Policy'] ?? '';
      assert.match(csp, /script-src 'nonce-[^']+' https:\/\/res\.cdn\.office\.net\//);
      assert.match(csp, /form-action 'none'/);
      assert.match(csp, /base-uri 'none'/);
      assert.match(csp, /; connect-src https:\/\/res\.cdn\.office\.net\/teams-js\/validDomains\/json\/validDomains\.json;/);
    });
  });

  test('answers 503 when the messaging extension is not configured', async () => {
    await withEnv({ PUBLIC_BASE_URL: undefined, BOT_APP_ID: undefined }, async () => {
      assert.equal((await get({})).status, 503);
    });
  });
});
