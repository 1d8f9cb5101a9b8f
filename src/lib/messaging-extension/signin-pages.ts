import type { HttpAnswer } from '../core/http';

import { escapeHtml } from '../core/escape-html';
import { htmlPage } from './html-page';

/**
 * The pages of the sign-in pop-up. Values their scripts need (the Entra URL, the single-use code) travel
 * in escaped `data-` attributes and are read with `dataset`, never written into the script itself.
 */

/**
 * `signinStart`: initialise TeamsJS in the pop-up, then go to Entra ID whether or not it succeeded (the
 * callback page is the one that must reach Teams, and says so when it cannot).
 */
export function signinRedirectPage(authorizeUrl: string): HttpAnswer {
  return htmlPage({
    title: 'Signing in…',
    body: `<main id="signin" data-next="${escapeHtml(authorizeUrl)}"><p>Taking you to your organisation's sign-in page…</p></main>`,
    fallback: '',
    script: `
const next = document.getElementById('signin').dataset.next;
const go = () => window.location.assign(next);
teams.then(go, go);`,
  });
}

/** `signinCallback` after a successful exchange: hand the single-use code to Teams. */
export function signinSuccessPage(code: string): HttpAnswer {
  return htmlPage({
    title: 'Signed in',
    body: `<main id="signin" data-code="${escapeHtml(code)}"><p>You are signed in. This window closes by itself.</p></main>`,
    fallback: 'Microsoft Teams did not receive this sign-in: close this window and sign in again from Teams.',
    script: `
const code = document.getElementById('signin').dataset.code;
teams.then((t) => t.authentication.notifySuccess(code)).catch(showFallback);`,
  });
}

/** Any failure of the pop-up: say so, and tell Teams the sign-in failed. */
export function signinFailurePage(status: number, reason: string): HttpAnswer {
  return htmlPage({
    status,
    title: 'Sign-in failed',
    body: `<main id="signin" data-reason="${escapeHtml(reason)}"><h1>Sign-in failed</h1><p>Close this window and try again from Microsoft Teams.</p></main>`,
    fallback: 'This window was not opened by Microsoft Teams.',
    script: `
const reason = document.getElementById('signin').dataset.reason;
teams.then((t) => t.authentication.notifyFailure(reason)).catch(showFallback);`,
  });
}
