import type { HttpAnswer } from '../core/http';

import { MAX_DEPARTMENT_LENGTH } from './store';
import { escapeHtml } from '../core/escape-html';
import { htmlPage } from './html-page';

/**
 * The settings page Teams opens for `type: config`: one department filter for people search. Saving
 * hands `JSON.stringify({ department })` to `microsoftTeams.authentication.notifySuccess`, which Teams
 * passes on as the `composeExtension/setting` invoke's `value.state`.
 */
export function settingsPage(currentDepartment: string): HttpAnswer {
  return htmlPage({
    title: 'People search settings',
    body: [
      '<h1>People search settings</h1>',
      '<form id="settings">',
      '<label for="department">Show only people in this department (leave empty for everyone)</label>',
      `<input id="department" name="department" maxlength="${MAX_DEPARTMENT_LENGTH}" autocomplete="off" value="${escapeHtml(
        currentDepartment.slice(0, MAX_DEPARTMENT_LENGTH),
      )}">`,
      '<br><button type="submit">Save</button>',
      '</form>',
    ].join('\n'),
    fallback: 'Open these settings from Microsoft Teams.',
    script: `
teams.catch(showFallback);
document.getElementById('settings').addEventListener('submit', (event) => {
  event.preventDefault();
  const department = document.getElementById('department').value.trim();
  teams.then((t) => t.authentication.notifySuccess(JSON.stringify({ department }))).catch(showFallback);
});`,
  });
}
