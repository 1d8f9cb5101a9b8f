import type { HttpResponseInit } from '@azure/functions';

import { escapeHtml, htmlPage } from './html-page';

/**
 * The pages of the sign-in pop-up. Values their scripts need (the Entra URL, the single-use code) travel
 * in escaped `data-` attributes and are read with `dataset`, never written into the script itself.
 */

/** `signinStart`: initialise TeamsJS in the pop-up, then go to Entra ID. */
export function signinRedirectPage(authorizeUrl: string): HttpResponseInit {
  return htmlPage({
    title: 'Signing in…',
    body: `<main id="signin" data-next="${escapeHtml(authorizeUrl)}"><p>Taking you to your organisation's sign-in page…</p></main>`,
    script: `
var next = document.getElementById('signin').dataset.next;
microsoftTeams.app.initialize().catch(function () {}).then(function () { window.location.assign(next); });`,
  });
}

/** `signinCallback` after a successful exchange: hand the single-use code to Teams. */
export function signinSuccessPage(code: string): HttpResponseInit {
  return htmlPage({
    title: 'Signed in',
    body: `<main id="signin" data-code="${escapeHtml(code)}"><p>You are signed in. This window closes by itself.</p></main>`,
    script: `
var code = document.getElementById('signin').dataset.code;
microsoftTeams.app.initialize().then(function () { microsoftTeams.authentication.notifySuccess(code); });`,
  });
}

/** Any failure of the pop-up: say so, and tell Teams the sign-in failed. */
export function signinFailurePage(status: number, reason: string): HttpResponseInit {
  return htmlPage({
    status,
    title: 'Sign-in failed',
    body: `<main id="signin" data-reason="${escapeHtml(reason)}"><h1>Sign-in failed</h1><p>Close this window and try again from Microsoft Teams.</p></main>`,
    script: `
var reason = document.getElementById('signin').dataset.reason;
microsoftTeams.app.initialize().then(function () { microsoftTeams.authentication.notifyFailure(reason); });`,
  });
}
