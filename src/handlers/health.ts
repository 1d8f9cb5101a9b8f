import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';

import { configuredFeatures } from '../lib/config/settings';
import { appVersion } from '../lib/core/version';

/** Liveness and readiness: the version and which features are configured, by name only. */
export function health(_request: HttpRequest, _context: InvocationContext): Promise<HttpResponseInit> {
  return Promise.resolve({
    status: 200,
    headers: { 'Cache-Control': 'no-store' },
    jsonBody: { status: 'ok', version: appVersion(), features: configuredFeatures() },
  });
}
