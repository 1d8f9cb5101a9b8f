import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { settingsPage as renderSettingsPage } from '../lib/messaging-extension/settings-page';
import { featureConfig } from '../lib/config/settings';
import { errorResponse } from '../lib/core/http';

/**
 * The settings pop-up of the messaging extension. It holds no data of its own: the current filter comes
 * in the query string (from the `config` answer) and goes back to Teams through `notifySuccess`.
 */
export function settingsPage(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    featureConfig('composeExtension');
    return Promise.resolve(renderSettingsPage(request.query.get('department') ?? ''));
  } catch (err) {
    return Promise.resolve(errorResponse(err, context, 'settingsPage'));
  }
}
