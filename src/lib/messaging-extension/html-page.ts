import { randomBytes } from 'node:crypto';

import { escapeHtml } from '../core/escape-html';
import type { HttpAnswer } from '../core/http';

/**
 * The small pages Teams opens in its pop-ups (settings, sign-in). Each carries a strict
 * Content-Security-Policy: nothing loads except the Teams JavaScript library from Microsoft's CDN, pinned
 * by Subresource Integrity, and the page's own script and style, admitted by a per-response nonce; the
 * only request a page may make is TeamsJS's own fetch of its list of trusted host origins.
 * Every value a page shows is escaped, and values its script needs travel in escaped `data-` attributes,
 * never inside the script.
 */

/**
 * TeamsJS as Microsoft's docs reference it, with its SRI hash. The bytes are those of the npm package
 * `@microsoft/teams-js` at the same version (`dist/umd/MicrosoftTeams.min.js`); the browser tests check it.
 */
export const TEAMS_JS = {
  version: '2.34.0',
  src: 'https://res.cdn.office.net/teams-js/2.34.0/js/MicrosoftTeams.min.js',
  integrity: 'sha384-brW9AazbKR2dYw2DucGgWCCcmrm2oBFV4HQidyuyZRI/TnAkmOOnTARSTdps3Hwt',
  /**
   * The list of host origins TeamsJS fetches as soon as it loads (`validOriginsCdnEndpoint` in the
   * package's `src/internal/constants.ts`); blocked, it logs a CSP error and falls back to a built-in list.
   */
  validDomains: 'https://res.cdn.office.net/teams-js/validDomains/json/validDomains.json',
} as const;

/** Teams web, desktop and the Microsoft 365 hosts that may frame or open these pages. */
const TEAMS_FRAME_ANCESTORS = [
  'https://teams.microsoft.com',
  'https://*.teams.microsoft.com',
  'https://teams.cloud.microsoft',
  'https://*.office.com',
  'https://*.microsoft365.com',
];

export interface PageOptions {
  title: string;
  /** Body markup, already escaped by the caller (build it with escapeHtml). */
  body: string;
  /**
   * The page's script, run as a module (strict, nothing global) after TeamsJS has loaded. It finds
   * `teams`, a promise of the initialised `microsoftTeams` that rejects outside a Teams host (or when
   * TeamsJS did not load), and `showFallback`, which puts `fallback` in the page's status line; every
   * promise the script makes must end in `.catch(showFallback)`.
   */
  script: string;
  /** What the status line says when Teams cannot be reached (page opened outside Teams). */
  fallback: string;
  /** HTTP status (200 unless the page reports an error). */
  status?: number;
}

/**
 * What every page script starts with. `new Promise` turns a missing `microsoftTeams` (script blocked or
 * not loaded) into a rejection like any other failure of `app.initialize()`.
 */
const PAGE_PRELUDE = `
const statusLine = document.getElementById('teams-status');
const showFallback = () => { statusLine.textContent = statusLine.dataset.fallback; };
const teams = new Promise((resolve) => resolve(microsoftTeams.app.initialize())).then(() => microsoftTeams);
`;

/** A complete HTML response with the strict policy and a fresh nonce. */
export function htmlPage(options: PageOptions): HttpAnswer {
  const nonce = randomBytes(16).toString('base64');
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}' ${TEAMS_JS.src}`,
    `style-src 'nonce-${nonce}'`,
    "img-src 'self'",
    `connect-src ${TEAMS_JS.validDomains}`,
    "base-uri 'none'",
    "form-action 'none'",
    `frame-ancestors 'self' ${TEAMS_FRAME_ANCESTORS.join(' ')}`,
  ].join('; ');
  const html = [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${escapeHtml(options.title)}</title>`,
    `<style nonce="${nonce}">body{font-family:"Segoe UI",system-ui,sans-serif;margin:24px;line-height:1.5}` +
      'label{display:block;margin-bottom:8px}input{padding:4px;min-width:240px}button{margin-top:12px;padding:6px 16px}</style>',
    `<script src="${TEAMS_JS.src}" integrity="${TEAMS_JS.integrity}" crossorigin="anonymous" nonce="${nonce}"></script>`,
    '</head>',
    '<body>',
    options.body,
    `<p id="teams-status" role="status" data-fallback="${escapeHtml(options.fallback)}"></p>`,
    `<script type="module" nonce="${nonce}">${PAGE_PRELUDE}${options.script}</script>`,
    '</body>',
    '</html>',
  ].join('\n');
  return {
    status: options.status ?? 200,
    headers: {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Security-Policy': csp,
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    },
    body: html,
  };
}
