import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { featureConfig } from '../lib/config/settings';
import { AppError } from '../lib/core/errors';
import { errorResponse } from '../lib/core/http';
import { beginSignin } from '../lib/messaging-extension/signin';
import { signinFailurePage, signinRedirectPage } from '../lib/messaging-extension/signin-pages';

/** The first page of the sign-in pop-up: checks the ticket, then sends the user to Entra ID with PKCE. */
export async function signinStart(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const config = featureConfig('signin');
    const authorizeUrl = await beginSignin(config, request.query.get('ticket') ?? '');
    return signinRedirectPage(authorizeUrl);
  } catch (err) {
    const logged = errorResponse(err, context, 'signinStart');
    return err instanceof AppError && err.status < 500 ? signinFailurePage(logged.status ?? 400, 'signin_start_refused') : logged;
  }
}
