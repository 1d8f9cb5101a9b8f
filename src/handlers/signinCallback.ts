import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { featureConfig } from '../lib/config/settings';
import { AppError, UnauthenticatedError } from '../lib/core/errors';
import { errorResponse } from '../lib/core/http';
import { completeSignin } from '../lib/messaging-extension/signin';
import { signinFailurePage, signinSuccessPage } from '../lib/messaging-extension/signin-pages';

/**
 * Entra ID's redirect back into the pop-up: redeems the code for the state's Teams user and hands the
 * single-use code to Teams. An Entra error (`?error=…`, e.g. the user cancelled) fails the sign-in.
 */
export async function signinCallback(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const config = featureConfig('signin');
    const code = request.query.get('code');
    const state = request.query.get('state') ?? '';
    if (request.query.get('error') !== null || !code) throw new UnauthenticatedError('signin_declined');
    return signinSuccessPage(await completeSignin(config, { code, state }));
  } catch (err) {
    const logged = errorResponse(err, context, 'signinCallback');
    return err instanceof AppError && err.status < 500 ? signinFailurePage(logged.status ?? 400, 'signin_failed') : logged;
  }
}
