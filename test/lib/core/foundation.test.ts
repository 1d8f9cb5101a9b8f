import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import fc from 'fast-check';

import { FEATURE_NAMES, featureConfig, featureSettings } from '../../../src/lib/config/settings';
import { BodyTooLargeError, NotConfiguredError, UnauthenticatedError } from '../../../src/lib/core/errors';
import { errorResponse, readBody } from '../../../src/lib/core/http';
import { bearerToken } from '../../../src/lib/clients/openid';
import { httpRequest, testContext } from '../../../tools/stand-ins/functions';

/** Properties of the parts every endpoint stands on, over inputs nobody wrote by hand. */

const features = [...FEATURE_NAMES];

describe('settings parsing', () => {
  test('any values give a typed config or NotConfiguredError naming settings, never echoing a value', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...features),
        fc.dictionary(fc.constantFrom(...new Set(FEATURE_NAMES.flatMap(featureSettings))), fc.string({ maxLength: 60 })),
        (feature, env) => {
          try {
            featureConfig(feature, env);
          } catch (err) {
            assert.ok(err instanceof NotConfiguredError, String(err));
            for (const name of err.settings) assert.ok(featureSettings(feature).includes(name) || name.startsWith('AZURE_'));
            for (const value of Object.values(env)) {
              if (value.trim().length >= 8) assert.ok(!err.message.includes(value.trim()));
            }
          }
        },
      ),
      { numRuns: 400 },
    );
  });
});

describe('request bodies', () => {
  test('readBody returns exactly the bytes sent, and refuses one byte past the limit', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), fc.integer({ min: 0, max: 4096 }), async (bytes, limit) => {
        const request = httpRequest({ method: 'POST', url: 'http://localhost/x', body: Buffer.from(bytes) });
        if (bytes.length > limit) {
          await assert.rejects(readBody(request, limit), BodyTooLargeError);
        } else {
          assert.deepEqual(await readBody(request, limit), Buffer.from(bytes));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('authorization headers', () => {
  test('bearerToken either returns a compact JWS or throws UnauthenticatedError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string().map((s) => `Bearer ${s}`)), (header) => {
        try {
          assert.match(bearerToken(header), /^[\w-]+\.[\w-]+\.[\w-]*$/);
        } catch (err) {
          assert.ok(err instanceof UnauthenticatedError);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('error answers', () => {
  test('unexpected errors answer 500 and say nothing; 401s carry no body', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 8 }), (secret) => {
        const { context, logs } = testContext();
        const internal = errorResponse(new Error(secret), context, 'x');
        assert.equal(internal.status, 500);
        assert.equal(internal.jsonBody, undefined);
        const unauth = errorResponse(new UnauthenticatedError('signature'), context, 'x');
        assert.equal(unauth.status, 401);
        assert.equal(unauth.jsonBody, undefined);
        assert.ok(logs.every((l) => !l.message.includes('signature=') && !l.message.includes('Bearer')));
      }),
      { numRuns: 100 },
    );
  });
});
