import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { type BrowserContext, chromium, type Locator, type Page, type Route } from 'playwright-core';

import { TEAMS_JS } from '../../src/lib/messaging-extension/html-page';

/**
 * Debian's Chromium driven by playwright-core (which never downloads a browser), for the pages Teams opens.
 * The browser reaches no network: every request goes through `context.route`, which serves TeamsJS from
 * the npm package, a stub of its validDomains list, a fake Teams host page and the app's own origin
 * (fetched from a loopback server); anything else is refused and reported.
 */

/** The Chromium to drive: `CHROMIUM_PATH`, else Debian's package; undefined when neither exists. */
export function chromiumPath(): string | undefined {
  const candidate = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  return existsSync(candidate) ? candidate : undefined;
}

export const NO_CHROMIUM = 'no Chromium found: install Debian\'s `chromium` (/usr/bin/chromium) or set CHROMIUM_PATH';

/** The npm package's copy of the file the pages load from the CDN. */
export function teamsJsBytes(): Buffer {
  return readFileSync(require.resolve('@microsoft/teams-js/dist/umd/MicrosoftTeams.min.js'));
}

/** An origin TeamsJS trusts by default, so the fake host's messages are accepted as Teams' own. */
export const FAKE_HOST_ORIGIN = 'https://teams.microsoft.com';

/**
 * What the fake host answers to TeamsJS's `initialize` request: `[frameContext, hostClientType,
 * runtimeConfig, clientSupportedSDKVersion]` (teams-js `initializeCommunication` in
 * src/internal/communication.ts). The pop-up pages run in the `authentication` frame context, the only
 * one where `authentication.notifySuccess`/`notifyFailure` are allowed.
 */
const INITIALIZE_ANSWER = ['authentication', 'web', JSON.stringify({ apiVersion: 4, supports: {} }), TEAMS_JS.version];

/**
 * A page that frames the app page and speaks the host side of TeamsJS's postMessage protocol: a request is
 * `{ id, uuidAsString, func, args }`, a response `{ id, uuidAsString, args }` sent back to the frame.
 * Every request is kept in `window.hostCalls` for the test to read.
 */
function fakeHostPage(appUrl: string): string {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Fake Teams host</title></head><body>
<iframe id="app" title="app" src="${appUrl.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`)}"></iframe>
<script>
window.hostCalls = [];
window.addEventListener('message', (event) => {
  const frame = document.getElementById('app').contentWindow;
  if (event.source !== frame || !event.data || typeof event.data.func !== 'string') return;
  const { id, uuidAsString, func, args } = event.data;
  window.hostCalls.push({ func, args });
  if (func === 'initialize') frame.postMessage({ id, uuidAsString, args: ${JSON.stringify(INITIALIZE_ANSWER)} }, event.origin);
});
</script></body></html>`;
}

export interface HostCall {
  func: string;
  args: unknown[];
}

export interface BrowserOptions {
  /** The origin the app's pages are served from in the browser (`PUBLIC_BASE_URL`). */
  appOrigin: string;
  /** Where that origin's requests are really fetched from (a loopback server). */
  appServer: string;
  /** Pages stood in for on other origins (e.g. Entra's authorize endpoint), by URL without query. */
  stubs?: Readonly<Record<string, string>>;
}

export interface PageRun {
  page: Page;
  /** An element of the app page, in its frame when inside the fake host. */
  app(selector: string): Locator;
  /** Console errors and warnings, uncaught errors and CSP violations, in every frame. */
  problems: string[];
  /** Requests refused because nothing in the test serves them. */
  refused: string[];
  /** How often TeamsJS fetched its validDomains list. */
  validDomainsFetches: number;
  /** What the page sent its host so far (empty when opened outside the fake host). */
  hostCalls(): Promise<HostCall[]>;
  /** Waits until the page has sent the host a request named `func`, and returns its arguments. */
  hostCall(func: string): Promise<unknown[]>;
}

export interface TestBrowser {
  /** Opens `path` of the app in the fake Teams host, or top-level (no host) when `inTeams` is false. */
  open(path: string, inTeams: boolean): Promise<PageRun>;
  close(): Promise<void>;
}

/** The page reports CSP violations on the console, where `problems` picks them up. */
const REPORT_CSP_VIOLATIONS = `document.addEventListener('securitypolicyviolation', (e) => {
  console.error('CSP violation: ' + e.effectiveDirective + ' blocked ' + e.blockedURI);
});`;

export async function startBrowser(executablePath: string, options: BrowserOptions): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  } catch (err) {
    rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  // A page that never shows what a test waits for fails that test in seconds, not the whole suite.
  context.setDefaultTimeout(5_000);
  await context.addInitScript(REPORT_CSP_VIOLATIONS);
  const teamsJs = teamsJsBytes();
  const cors = { 'access-control-allow-origin': '*' };

  return {
    async open(path, inTeams) {
      const appUrl = `${options.appOrigin}${path}`;
      const problems: string[] = [];
      const refused: string[] = [];
      const run = { validDomainsFetches: 0 };
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error' || message.type() === 'warning') problems.push(`${message.type()}: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
      await page.route('**/*', async (route: Route) => {
        const url = new URL(route.request().url());
        const withoutQuery = `${url.origin}${url.pathname}`;
        if (url.href === TEAMS_JS.src) {
          await route.fulfill({ body: teamsJs, contentType: 'text/javascript', headers: cors });
        } else if (url.href === TEAMS_JS.validDomains) {
          run.validDomainsFetches++;
          await route.fulfill({ json: { validOrigins: [new URL(FAKE_HOST_ORIGIN).host] }, headers: cors });
        } else if (withoutQuery === `${FAKE_HOST_ORIGIN}/host`) {
          await route.fulfill({ body: fakeHostPage(url.searchParams.get('app') ?? ''), contentType: 'text/html' });
        } else if (url.origin === options.appOrigin) {
          const response = await route.fetch({ url: `${options.appServer}${url.pathname}${url.search}` });
          await route.fulfill({ response });
        } else if (options.stubs?.[withoutQuery] !== undefined) {
          await route.fulfill({ body: options.stubs[withoutQuery], contentType: 'text/html' });
        } else {
          refused.push(url.href);
          await route.abort('blockedbyclient');
        }
      });
      await page.goto(inTeams ? `${FAKE_HOST_ORIGIN}/host?app=${encodeURIComponent(appUrl)}` : appUrl);
      const hostCalls = (): Promise<HostCall[]> =>
        page.evaluate<HostCall[]>('window.hostCalls ?? []');
      return Object.assign(run, {
        page,
        app: (selector: string) => (inTeams ? page.frameLocator('#app').locator(selector) : page.locator(selector)),
        problems,
        refused,
        hostCalls,
        async hostCall(func: string): Promise<unknown[]> {
          // A string, evaluated in the host page: the tests are compiled without the DOM's types.
          const handle = await page.waitForFunction(`window.hostCalls.find((call) => call.func === ${JSON.stringify(func)})?.args`);
          return (await handle.jsonValue()) as unknown[];
        },
      });
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
